//go:build cgo

package native_test

import (
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"

	"github.com/hoopgw/hoop/classify/native"
)

func TestParse(t *testing.T) {
	tree, err := native.Parse("SELECT 1; DELETE FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tree.GetStmts()); got != 2 {
		t.Errorf("got %d statements, want 2", got)
	}
	if tree.GetStmts()[1].GetStmt().GetDeleteStmt() == nil {
		t.Errorf("got %v, want a DELETE", tree.GetStmts()[1])
	}
	_, err = native.Parse("SELEC 1")
	if want := `syntax error at or near "SELEC"`; err == nil || err.Error() != want {
		t.Errorf("got error %v, want %q", err, want)
	}
	// Too deep for the parser's stack: an error, not a crash.
	deep := "SELECT " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000)
	if _, err := native.Parse(deep); err == nil {
		t.Errorf("parsing 100000 nested parentheses: got no error")
	}
}

// BenchmarkParse measures Parse by text length: up to 2 KiB on the calling thread, longer
// on a worker thread (a hand-off both ways), against the C parser called directly.
//
//	go test ./classify/native -run '^$' -bench Parse -benchmem
func BenchmarkParse(b *testing.B) {
	row := "SELECT id, name, email FROM users WHERE id IN (1, 2, 3) AND created_at > now() - interval '1 day';"
	texts := []struct {
		name string
		sql  string
	}{
		{"pgbench-S", "SELECT abalance FROM pgbench_accounts WHERE aid = 74316;"},
		{"1.9KiB", strings.Repeat(row, 1900/len(row))},
		{"2.1KiB", strings.Repeat(row, 2200/len(row))},
		{"16KiB", strings.Repeat(row, 16<<10/len(row))},
		{"256KiB", strings.Repeat(row, 256<<10/len(row))},
	}
	for _, tx := range texts {
		b.Run(tx.name+"/native.Parse", func(b *testing.B) {
			b.SetBytes(int64(len(tx.sql)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := native.Parse(tx.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tx.name+"/pg_query.Parse", func(b *testing.B) {
			b.SetBytes(int64(len(tx.sql)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pg_query.Parse(tx.sql); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestLongTexts: texts past the calling thread's safe length go to a worker thread and
// give what the C parser gives when called directly (here, on a test's ample stack).
func TestLongTexts(t *testing.T) {
	sql := strings.Repeat("SELECT id, 'x' || name FROM users WHERE id IN (1, 2, 3) AND email LIKE '%@example.com';\n", 100)
	got, err := native.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	want, err := pg_query.Parse(sql)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("Parse of %d bytes differs from pg_query.Parse", len(sql))
	}
	gotN, err := native.Normalize(sql)
	if err != nil {
		t.Fatal(err)
	}
	if wantN, _ := pg_query.Normalize(sql); gotN != wantN {
		t.Errorf("Normalize of %d bytes: got %.80q, want %.80q", len(sql), gotN, wantN)
	}
	if _, err := native.Parse("SELECT 1 +"); err == nil {
		t.Errorf("a syntax error on a worker: got no error")
	}
	long := strings.Repeat(" ", 4096) + "SELEC 1"
	if _, err := native.Parse(long); err == nil || err.Error() != `syntax error at or near "SELEC"` {
		t.Errorf("a syntax error on a worker: got %v", err)
	}
	if _, err := native.Normalize(strings.Repeat("SELECT 1;", 64<<10/9+1)); err == nil {
		t.Errorf("Normalize over 64 KiB: got no error")
	}
}
