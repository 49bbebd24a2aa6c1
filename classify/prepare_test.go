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
		{"DEALLOCATE PREPARE ALL", policy.Read, "", "", ""}, // DeallocatesAll: TestCursorNames
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

// TestCursorNames: DECLARE carries its query's class and the cursor's name, FETCH and MOVE
// the cursor they run more of (admin until the engine swaps in the DECLARE's class),
// CLOSE the one it closes, and DEALLOCATE ALL, CLOSE ALL and DISCARD ALL drop every name,
// so the engine can follow them.
func TestCursorNames(t *testing.T) {
	type names struct {
		declares, fetches, closes   string
		hold, closesAll, deallocAll bool
	}
	tests := []struct {
		sql   string
		class policy.Class
		want  names
	}{
		{"DECLARE c CURSOR FOR SELECT * FROM users", policy.Read, names{declares: "c"}},
		{"declare c cursor with hold for select 1", policy.Read, names{declares: "c", hold: true}},
		{"DECLARE c NO SCROLL CURSOR WITHOUT HOLD FOR SELECT nextval('s')", policy.Write, names{declares: "c"}},
		{"FETCH 10 FROM c", policy.Admin, names{fetches: "c"}},
		{"FETCH ALL IN \"C x\"", policy.Admin, names{fetches: "C x"}},
		{"MOVE BACKWARD 1 IN c", policy.Admin, names{fetches: "c"}},
		{"CLOSE c", policy.Read, names{closes: "c"}},
		{"CLOSE ALL", policy.Read, names{closesAll: true}},
		{"DISCARD ALL", policy.Read, names{closesAll: true, deallocAll: true}},
		{"DISCARD PLANS", policy.Read, names{}},
		{"DEALLOCATE ALL", policy.Read, names{deallocAll: true}},
		{"DEALLOCATE \"*\"", policy.Read, names{}}, // a statement named *, not ALL
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, tt := range tests {
			sts, err := c.Classify(tt.sql)
			if err != nil || len(sts) != 1 {
				t.Fatalf("%s: %q: got %v, %v", p.name, tt.sql, sts, err)
			}
			st := sts[0]
			got := names{st.Declares, st.Fetches, st.Closes, st.Hold, st.ClosesAll, st.DeallocatesAll}
			if st.Class != tt.class || got != tt.want {
				t.Errorf("%s: %q: got class %s %+v; want %s %+v", p.name, tt.sql, st.Class, got, tt.class, tt.want)
			}
		}
	}
	sts, err := classify.New(parsers[0].parse, 0).Classify(`DEALLOCATE "*"`)
	if err != nil || sts[0].Deallocates != "*" || sts[0].DeallocatesAll {
		t.Errorf(`DEALLOCATE "*": got %+v, %v; want the statement named *`, sts, err)
	}
}
