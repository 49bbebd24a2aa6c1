package pgtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// debianRoot is where Debian and Ubuntu install each PostgreSQL version:
// /usr/lib/postgresql/15/bin.
const debianRoot = "/usr/lib/postgresql"

// binaries are the PostgreSQL programs the server needs.
type binaries struct {
	initdb   string // "/usr/lib/postgresql/15/bin/initdb"
	postgres string // "/usr/lib/postgresql/15/bin/postgres"
}

// findBinaries looks in $HOOP_TEST_PG_BINDIR, then PATH, then the highest
// version under /usr/lib/postgresql.
func findBinaries() (binaries, error) {
	if dir := os.Getenv(BinDirEnv); dir != "" {
		b, ok := binariesIn(dir)
		if !ok {
			return binaries{}, fmt.Errorf("%w (looked in %s=%s)", ErrNotFound, BinDirEnv, dir)
		}
		return b, nil
	}
	if initdb, err := exec.LookPath("initdb"); err == nil {
		// Prefer the postgres that sits beside the real initdb (PATH may
		// hold symlinks into a version's bin directory).
		if real, err := filepath.EvalSymlinks(initdb); err == nil {
			if b, ok := binariesIn(filepath.Dir(real)); ok {
				return b, nil
			}
		}
		if b, ok := binariesIn(filepath.Dir(initdb)); ok {
			return b, nil
		}
		if postgres, err := exec.LookPath("postgres"); err == nil {
			return binaries{initdb: initdb, postgres: postgres}, nil
		}
	}
	if dir := highestVersionBin(debianRoot); dir != "" {
		b, _ := binariesIn(dir)
		return b, nil
	}
	return binaries{}, ErrNotFound
}

// binariesIn returns dir's initdb and postgres when both are executable.
func binariesIn(dir string) (binaries, bool) {
	b := binaries{initdb: filepath.Join(dir, "initdb"), postgres: filepath.Join(dir, "postgres")}
	return b, isExecutable(b.initdb) && isExecutable(b.postgres)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// highestVersionBin returns root/<version>/bin for the highest version that
// has initdb and postgres, or "" when there is none.
func highestVersionBin(root string) string {
	entries, err := os.ReadDir(root)
	if err != nil {
		return ""
	}
	var best []int
	bestDir := ""
	for _, e := range entries {
		v, ok := parseVersion(e.Name())
		if !ok {
			continue
		}
		dir := filepath.Join(root, e.Name(), "bin")
		if _, ok := binariesIn(dir); !ok {
			continue
		}
		if bestDir == "" || slices.Compare(best, v) < 0 { // 9.6 < 10 < 15
			best, bestDir = v, dir
		}
	}
	return bestDir
}

// parseVersion parses "15" or "9.6" into its numbers.
func parseVersion(s string) ([]int, bool) {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil || n < 0 {
			return nil, false
		}
		v = append(v, n)
	}
	return v, true
}
