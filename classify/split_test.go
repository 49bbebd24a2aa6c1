package classify_test

import (
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			script := "create table t (id int);\n-- a comment; with a semicolon\ninsert into t values (1), (2);\n" +
				"select ';' as semi, $$a;b$$ as dollar;\n\n  update t set id = 3 where id = 1  "
			got, err := p.parse.Split(script)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"create table t (id int)", "-- a comment; with a semicolon\ninsert into t values (1), (2)",
				"select ';' as semi, $$a;b$$ as dollar", "update t set id = 3 where id = 1"}
			if !slices.Equal(got, want) {
				t.Errorf("Split:\n got %q\nwant %q", got, want)
			}
			if _, err := p.parse.Split("select 1; selec 2"); err == nil || !strings.Contains(err.Error(), "syntax error") {
				t.Errorf("a bad script: %v", err)
			}
			if got, _ := p.parse.Split("  ;; "); len(got) != 0 {
				t.Errorf("empty script: %q", got)
			}
		})
	}
}
