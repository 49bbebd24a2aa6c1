package jsonw

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

var samples = []string{
	"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rret\bbs\fff",
	"\x00\x01\x1f\x7f", "héllo wörld ✓ 😀", "bad \xff utf8 \xc3", "line\u2028sep\u2029par", "\xed\xa0\x80 surrogate",
	"SELECT abalance FROM pgbench_accounts WHERE aid = 4242;",
}

func TestStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		want, _ := json.Marshal(s)
		if got := String(nil, s); string(got) != string(want) {
			t.Errorf("String(%q) = %s, want %s", s, got, want)
		}
	}
}

func FuzzString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := String([]byte("x"), s); string(got[1:]) != string(want) {
			t.Fatalf("String(%q) = %s, want %s", s, got[1:], want)
		}
	})
}

func TestTimeAndHex(t *testing.T) {
	for _, tm := range []time.Time{time.Unix(0, 0).UTC(), time.Date(2026, 11, 28, 6, 5, 17, 123456000, time.UTC), time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))} {
		want, _ := json.Marshal(tm)
		if got := Time(nil, tm); string(got) != string(want) {
			t.Errorf("Time(%v) = %s, want %s", tm, got, want)
		}
	}
	if got := Hex(nil, []byte{0, 0xab, 0x10}); string(got) != `"00ab10"` {
		t.Errorf("Hex = %s", got)
	}
}

// TestPlain: the eight-bytes-at-a-time scan stops before the first byte String escapes,
// wherever it is in the word.
func TestPlain(t *testing.T) {
	for _, special := range []string{"\"", "\\", "<", ">", "&", "\x00", "\x1f", "\x7f", "é", "\xff", " "} {
		for n := range 20 {
			s := strings.Repeat("a", n) + special + strings.Repeat("b", 9)
			want := n
			if special == " " || special == "\x7f" {
				want = len(s) // plain
			}
			if got := plain(s); got != want {
				t.Errorf("plain(%q) = %d, want %d", s, got, want)
			}
		}
	}
}

func BenchmarkString(b *testing.B) {
	s := "SELECT abalance FROM pgbench_accounts WHERE aid = $1; -- c1c9fc1f7c31b5de3877ce753cf0f1155f09b75328d4ef449e8579806d24554f"
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		buf = String(buf[:0], s)
	}
}
