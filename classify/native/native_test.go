//go:build cgo

package native_test

import (
	"strings"
	"testing"

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
