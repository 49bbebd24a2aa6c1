//go:build cgo

package classify_test

import (
	"testing"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/policy"
)

// TestShapes: texts that differ only in constants share a result when the class cannot
// depend on a constant, and never otherwise: each text below, classified right after one
// of the same shape with another constant, still gets its own class.
func TestShapes(t *testing.T) {
	c := classify.New(native.Parse, 100, classify.WithNormalizer(native.Normalize))
	tests := []struct {
		first, then string
		want        policy.Class
	}{
		{"SELECT abalance FROM pgbench_accounts WHERE aid = 1", "SELECT abalance FROM pgbench_accounts WHERE aid = 99;", policy.Read},
		{"UPDATE t SET x = 1 WHERE id = 2", "UPDATE t SET x = 5 WHERE id = 6", policy.Write},
		{"SET default_transaction_read_only = 'on'", "SET default_transaction_read_only = 'off'", policy.Write},
		{"SET default_transaction_read_only = true", "SET default_transaction_read_only = false", policy.Write},
		{"EXPLAIN (ANALYZE false) DELETE FROM t", "EXPLAIN (ANALYZE true) DELETE FROM t", policy.Write},
		{"EXPLAIN (ANALYZE 'off') DELETE FROM t", "EXPLAIN (ANALYZE 'on') DELETE FROM t", policy.Write},
		{"BEGIN ISOLATION LEVEL SERIALIZABLE", "BEGIN READ WRITE", policy.Write},
		{"SET client_encoding = 'UTF8'", "SET client_encoding = 'SJIS'", policy.Admin},
		{"SET standard_conforming_strings = 'on'", "SET standard_conforming_strings = 'off'", policy.Admin},
		{"SELECT 'a' AS x", "SELECT pg_read_file('a') AS x", policy.Admin},
	}
	for _, tt := range tests {
		if _, err := c.Classify(tt.first); err != nil {
			t.Fatal(err)
		}
		got, err := c.Classify(tt.then)
		if err != nil || len(got) != 1 {
			t.Fatalf("%q: got %v, %v", tt.then, got, err)
		}
		if got[0].Class != tt.want {
			t.Errorf("%q after %q: got %s, want %s", tt.then, tt.first, got[0].Class, tt.want)
		}
		if got[0].Text != "SELECT abalance FROM pgbench_accounts WHERE aid = 99" && tt.want == policy.Read {
			t.Errorf("a shared result carries the wrong text: %q", got[0].Text)
		}
	}
}

func BenchmarkShapes(b *testing.B) {
	c := classify.New(native.Parse, 1000, classify.WithNormalizer(native.Normalize))
	texts := make([]string, 1000)
	for i := range texts {
		texts[i] = "SELECT abalance FROM pgbench_accounts WHERE aid = " + string(rune('1'+i%9)) + string(rune('0'+i%10)) + string(rune('0'+i/100))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := c.Classify(texts[i%len(texts)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
