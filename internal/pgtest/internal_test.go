package pgtest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHighestVersionBin(t *testing.T) {
	root := t.TempDir()
	// name → programs present in name/bin
	layout := map[string][]string{
		"9.6":         {"initdb", "postgres"},
		"15":          {"initdb", "postgres"},
		"16":          {"initdb"}, // no postgres: not usable
		"not-version": {"initdb", "postgres"},
		"10":          {"initdb", "postgres"},
	}
	for dir, progs := range layout {
		bin := filepath.Join(root, dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, p := range progs {
			if err := os.WriteFile(filepath.Join(bin, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got, want := highestVersionBin(root), filepath.Join(root, "15", "bin"); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := highestVersionBin(filepath.Join(root, "missing")); got != "" {
		t.Errorf("missing root: got %q, want %q", got, "")
	}
}

func TestFindBinariesBinDirEnv(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(BinDirEnv, dir)
	if _, err := findBinaries(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty %s: got %v, want ErrNotFound", BinDirEnv, err)
	}
	for _, p := range []string{"initdb", "postgres"} {
		if err := os.WriteFile(filepath.Join(dir, p), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b, err := findBinaries()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "postgres"); b.postgres != want {
		t.Errorf("got postgres %q, want %q", b.postgres, want)
	}
	if !strings.HasPrefix(ErrNotFound.Error(), "postgres: initdb not found; ") {
		t.Errorf("got message %q, want the documented prefix", ErrNotFound)
	}
}

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want []int
		ok   bool
	}{
		{"15", []int{15}, true},
		{"9.6", []int{9, 6}, true},
		{"", nil, false},
		{"15beta", nil, false},
		{"-1", nil, false},
	}
	for _, tt := range tests {
		got, ok := parseVersion(tt.in)
		if ok != tt.ok || len(got) != len(tt.want) {
			t.Errorf("parseVersion(%q): got %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("parseVersion(%q): got %v, want %v", tt.in, got, tt.want)
			}
		}
	}
}

func TestIsCI(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"true", true}, {"1", true}, {"TRUE", true}, {"", false}, {"false", false}, {"yes", false},
	}
	for _, tt := range tests {
		if got := isCI(tt.in); got != tt.want {
			t.Errorf("isCI(%q): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDSN(t *testing.T) {
	s := &Server{Host: "127.0.0.1", Port: 5433}
	tests := []struct {
		user, password, db, want string
	}{
		{"app_ro", "abc123", "app", "postgres://app_ro:abc123@127.0.0.1:5433/app?sslmode=disable"},
		{"a b", "p@ss:w/rd", "my db", "postgres://a%20b:p%40ss%3Aw%2Frd@127.0.0.1:5433/my%20db?sslmode=disable"},
	}
	for _, tt := range tests {
		if got := s.DSN(tt.user, tt.password, tt.db); got != tt.want {
			t.Errorf("DSN(%q, %q, %q): got %q, want %q", tt.user, tt.password, tt.db, got, tt.want)
		}
	}
}

func TestChildEnv(t *testing.T) {
	in := []string{"PATH=/bin", "PGDATA=/x", "PGHOST=h", "LANG=de_DE.UTF-8", "LC_CTYPE=x", "HOME=/root"}
	got := strings.Join(childEnv(in), " ")
	if want := "PATH=/bin HOME=/root LC_ALL=C"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTail(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"short\n", 100, "short"},
		{"line one\nline two\nline three\n", 14, "line three"}, // cut at a line start
		{"", 10, ""},
	}
	for _, tt := range tests {
		if got := tail([]byte(tt.in), tt.n); got != tt.want {
			t.Errorf("tail(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestBindFailed(t *testing.T) {
	tests := []struct {
		log  string
		want bool
	}{
		{`LOG:  could not bind IPv4 address "127.0.0.1": Address already in use`, true},
		{"WARNING:  could not create listen socket for \"127.0.0.1\"\nFATAL:  could not create any TCP/IP sockets", true},
		{"FATAL:  data directory has wrong ownership", false},
	}
	for _, tt := range tests {
		if got := bindFailed(tt.log); got != tt.want {
			t.Errorf("bindFailed(%q): got %v, want %v", tt.log, got, tt.want)
		}
	}
}

func TestSampleData(t *testing.T) {
	c1, o1 := sampleData()
	c2, o2 := sampleData()
	if len(c1) != AppCustomers || len(o1) != AppOrders {
		t.Fatalf("got %d customers and %d orders, want %d and %d", len(c1), len(o1), AppCustomers, AppOrders)
	}
	for i := range c1 {
		if c1[i] != c2[i] {
			t.Fatalf("customer %d: got %v then %v, want the same data on every call", i, c1[i], c2[i])
		}
	}
	for i := range o1 {
		if o1[i] != o2[i] {
			t.Fatalf("order %d: got %v then %v, want the same data on every call", i, o1[i], o2[i])
		}
		if o1[i].customerID < 1 || o1[i].customerID > AppCustomers {
			t.Errorf("order %d: got customer %d, want 1..%d", i, o1[i].customerID, AppCustomers)
		}
	}
	if got := quote("O'Brien"); got != "'O''Brien'" {
		t.Errorf("quote: got %q, want %q", got, "'O''Brien'")
	}
}

func TestIsUnder(t *testing.T) {
	tests := []struct {
		dir, base string
		want      bool
	}{
		{"/tmp/a", "/tmp", true},
		{"/tmp/a/b", "/tmp/", true},
		{"/tmp", "/tmp", false},
		{"/", "/tmp", false},
		{"/tmpx/a", "/tmp", false},
		{"/root/a", "/tmp", false},
		{"/tmp/..a", "/tmp", true},
	}
	for _, tt := range tests {
		if got := isUnder(tt.dir, tt.base); got != tt.want {
			t.Errorf("isUnder(%q, %q): got %v, want %v", tt.dir, tt.base, got, tt.want)
		}
	}
}
