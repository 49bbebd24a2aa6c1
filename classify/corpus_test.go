package classify_test

import (
	"os"
	"testing"

	"github.com/hoopgw/hoop/classify"
)

// TestAnalyticsRead: at least 100 realistic analytical SELECTs, all read.
func TestAnalyticsRead(t *testing.T) {
	sql := readFile(t, "testdata/analytics.sql")
	for _, p := range parsers {
		sts := assertRead(t, classify.New(p.parse, 0), p.name+" analytics.sql", sql, 0)
		if len(sts) < 100 {
			t.Errorf("%s: got %d statements in analytics.sql, want at least 100", p.name, len(sts))
		}
	}
}

// TestDBeaverRead: catalog queries as GUI clients send them, all read.
func TestDBeaverRead(t *testing.T) {
	sql := readFile(t, "testdata/dbeaver.sql")
	for _, p := range parsers {
		sts := assertRead(t, classify.New(p.parse, 0), p.name+" dbeaver.sql", sql, 0)
		if len(sts) < 15 {
			t.Errorf("%s: got %d statements in dbeaver.sql, want at least 15", p.name, len(sts))
		}
	}
}

// TestPgbenchRead: what pgbench -S sends, in each query mode, is read.
func TestPgbenchRead(t *testing.T) {
	queries := []string{
		// -M extended and -M prepared send the statement with a parameter
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
		"SELECT abalance FROM pgbench_accounts WHERE aid = $1",
		// -M simple interpolates the value
		"SELECT abalance FROM pgbench_accounts WHERE aid = 74316;",
		// at start, to find the scale
		"select count(*) from pgbench_branches",
	}
	for _, p := range parsers {
		c := classify.New(p.parse, 0)
		for _, q := range queries {
			sts := assertRead(t, c, p.name+" pgbench", q, 1)
			if len(sts) == 1 && (len(sts[0].Tables) != 1 || sts[0].Tables[0] == "") {
				t.Errorf("%s: %q: got tables %q, want one", p.name, q, sts[0].Tables)
			}
		}
	}
}

func readFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
