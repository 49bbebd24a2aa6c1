package wasm_test

import (
	"sync"
	"testing"

	"github.com/hoopgw/hoop/classify/wasm"
)

func TestParse(t *testing.T) {
	tree, err := wasm.Parse("SELECT 1; DELETE FROM t")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(tree.GetStmts()); got != 2 {
		t.Errorf("got %d statements, want 2", got)
	}
	if tree.GetStmts()[1].GetStmt().GetDeleteStmt() == nil {
		t.Errorf("got %v, want a DELETE", tree.GetStmts()[1])
	}
	_, err = wasm.Parse("SELEC 1")
	if want := `syntax error at or near "SELEC"`; err == nil || err.Error() != want {
		t.Errorf("got error %v, want %q", err, want)
	}
}

func TestParseConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				tree, err := wasm.Parse("SELECT a FROM t WHERE b = 1")
				if err != nil || len(tree.GetStmts()) != 1 {
					t.Errorf("got %v, %v", tree, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
