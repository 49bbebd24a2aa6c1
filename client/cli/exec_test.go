package cli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of hoop exec's output")

// TestExecOutputGolden pins hoop exec's output formats: a query with a NULL, a value with
// a comma, a quote, a tab and a newline; a command; an empty result.
func TestExecOutputGolden(t *testing.T) {
	results := []*execResult{
		{Statement: "create table t (id int, note text)", Columns: []string{}, Rows: [][]*string{}, CommandTag: "CREATE TABLE", DurationMS: 1.5},
		{Statement: "insert into t values (1, 'a, \"b\"'), (2, null)", Columns: []string{}, Rows: [][]*string{}, CommandTag: "INSERT 0 2", DurationMS: 0.75},
		{Statement: "select id, note from t order by id", Columns: []string{"id", "note"},
			Rows: [][]*string{{str("1"), str("a, \"b\"")}, {str("2"), nil}, {str("3"), str("tab\there\nnewline")}}, CommandTag: "SELECT 3", DurationMS: 0.25},
		{Statement: "select 1 where false", Columns: []string{"?column?"}, Rows: [][]*string{}, CommandTag: "SELECT 0", DurationMS: 0.125},
	}
	for _, format := range []string{"table", "csv", "json"} {
		t.Run(format, func(t *testing.T) {
			var got bytes.Buffer
			w := newExecWriter(&got, format)
			for _, r := range results {
				if err := w.write(r); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.flush(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "exec", format+".golden")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./client/cli -run TestExecOutputGolden -update)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s output:\n%s\nwant:\n%s", format, got.Bytes(), want)
			}
		})
	}
}
