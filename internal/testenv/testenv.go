// Package testenv finds what tests share outside the repository: the contract examples in
// ../shared/examples beside the repository root (the directory that holds go.mod).
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedExamples returns the directory of the contract examples, walking up from the
// test's working directory (its package) to the repository root. It fails the test when
// they are missing: they are a contract, not an option.
func SharedExamples(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			ex := filepath.Join(filepath.Dir(dir), "shared", "examples")
			if _, err := os.Stat(filepath.Join(ex, "gateway.yaml")); err != nil {
				t.Fatalf("the contract examples are missing: %v", err)
			}
			return ex
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}
