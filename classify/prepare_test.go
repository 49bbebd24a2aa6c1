package classify_test

import (
	"testing"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

// TestPrepareNames: PREPARE carries the class of what it prepares and its name, EXECUTE
// the name it runs, DEALLOCATE the name it drops, so the engine can track them.
func TestPrepareNames(t *testing.T) {
	tests := []struct {
		sql                             string
		class                           policy.Class
		prepares, executes, deallocates string
	}{
		{"PREPARE get_user(int) AS SELECT * FROM users WHERE id = $1", policy.Read, "get_user", "", ""},
		{"prepare wipe as delete from users", policy.Write, "wipe", "", ""},
		{"EXECUTE get_user(1)", policy.Admin, "", "get_user", ""},
		{"EXECUTE get_user(nextval('s'))", policy.Admin, "", "", ""}, // arguments that write: no swap
		{"DEALLOCATE get_user", policy.Read, "", "", "get_user"},
		{"DEALLOCATE PREPARE ALL", policy.Read, "", "", "*"},
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, tt := range tests {
			sts, err := c.Classify(tt.sql)
			if err != nil || len(sts) != 1 {
				t.Fatalf("%s: %q: got %v, %v", p.name, tt.sql, sts, err)
			}
			st := sts[0]
			if st.Class != tt.class || st.Prepares != tt.prepares || st.Executes != tt.executes || st.Deallocates != tt.deallocates {
				t.Errorf("%s: %q: got class %s prepares %q executes %q deallocates %q; want %s %q %q %q", p.name, tt.sql,
					st.Class, st.Prepares, st.Executes, st.Deallocates, tt.class, tt.prepares, tt.executes, tt.deallocates)
			}
		}
	}
}
