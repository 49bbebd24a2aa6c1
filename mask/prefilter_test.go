package mask

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPrefilter: the block scan and its bitmaps find what looking at every byte finds:
// the prefilter drops nothing a validator would take. The strings are made of digit
// groups and the separators, prefixes and suffixes the digit detectors care about, in
// every position of a block, with every detector on and with each alone.
func TestPrefilter(t *testing.T) {
	var ms []*Masker
	for _, ds := range append([][]Detector{Detectors()}, splitDetectors()...) {
		m, err := New(&Config{Detectors: ds})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	r := rand.New(rand.NewPCG(5, 6))
	n := 30000
	if testing.Short() {
		n = 3000
	}
	for range n {
		src := fill(r, r.IntN(block+8))
		for range 1 + r.IntN(3) {
			src = append(src, digitShape(r)...)
			src = append(src, fill(r, r.IntN(4))...)
		}
		for _, m := range ms {
			if fast, slow := allSpans(m, src, m.find), allSpans(m, src, m.slowAll); !slices.Equal(fast, slow) {
				t.Fatalf("find(%q) with %v: got %+v, byte by byte %+v", src, m.on, fast, slow)
			}
		}
	}
}

var (
	fillers  = []string{" ", "x", "a, b; c: d = e. f (g) ", `{"k":"`, "\t", "ab12cd34ef56 ", "0123456789", "Z9 "}
	prefixes = []string{"", "", "", "+", "(", "DE", "gb", "NL", "1 (", "x", `\n`, `\u0020`, `\u00e9`, ":", " ", "-", ".", "00", "AKIA", "12-", "1."}
	seps     = []string{" ", "-", ".", "/", ") ", ")", "(", ":", ",", "--", " (", ")-", "x", "  "}
	suffixes = []string{"", "", ")", "x12", "abc", ".", "-5", " ", ".5", ":1", "e"}
)

// fill returns n bytes of a filler, repeated.
func fill(r *rand.Rand, n int) []byte {
	f := pick(r, fillers)
	b := make([]byte, n)
	for k := range b {
		b[k] = f[k%len(f)]
	}
	return b
}

// digitShape returns digit groups joined by separators, with a prefix and a suffix:
// random groups, or the layout of a card, SSN, phone or IPv4 address (half the time
// with a valid Luhn digit), or an IBAN.
func digitShape(r *rand.Rand) []byte {
	b := []byte(pick(r, prefixes))
	switch r.IntN(4) {
	case 0:
		for g := range 1 + r.IntN(6) {
			if g > 0 {
				b = append(b, pick(r, seps)...)
			}
			l := 1 + r.IntN(6)
			if r.IntN(8) == 0 {
				l = 7 + r.IntN(14)
			}
			b = appendDigits(r, b, l)
		}
	case 1, 2:
		layout := pick(r, layouts)
		sep := pick(r, []string{" ", "-", ".", "/", ""})
		start := len(b)
		for g, l := range layout {
			if g > 0 {
				b = append(b, sep...)
			}
			b = appendDigits(r, b, l)
		}
		if r.IntN(2) == 0 {
			fixLuhn(b[start:])
		}
	default:
		v := pick(r, validIBANs)
		if r.IntN(2) == 0 {
			for k := 4; k < len(v); k += 5 {
				v = v[:k] + " " + v[k:]
			}
		}
		b = append(b, v...)
	}
	return append(b, pick(r, suffixes)...)
}

var (
	layouts = [][]int{{4, 4, 4, 4}, {4, 6, 5}, {4, 6, 4}, {4, 4, 4, 4, 3}, {16}, {15}, {13}, {19}, {3, 2, 4},
		{3, 3, 4}, {1, 3, 3, 4}, {2, 2, 2, 2, 2}, {3, 4, 4}, {2, 8}, {4, 2, 4, 4}, {1, 1, 1, 1}, {3, 3, 3, 3},
		{2, 1, 1, 3}, {4, 2, 2}, {10}, {12}, {4, 11}}
	validIBANs = []string{"DE89370400440532013000", "GB82WEST12345698765432", "NL91ABNA0417164300",
		"FR1420041010050500013M02606", "IT60X0542811101000000123456", "NO9386011117947", "BE68539007547034"}
)

func appendDigits(r *rand.Rand, b []byte, l int) []byte {
	for k := range l {
		d := byte('0' + r.IntN(10))
		if k == 0 && r.IntN(3) == 0 {
			d = "01"[r.IntN(2)]
		}
		b = append(b, d)
	}
	return b
}

// fixLuhn sets the last digit of b so that its digits pass the Luhn check.
func fixLuhn(b []byte) {
	last := -1
	for k := range b {
		if isDigit(b[k]) {
			last = k
		}
	}
	if last < 0 {
		return
	}
	for d := byte('0'); d <= '9'; d++ {
		if b[last] = d; luhn(b) {
			return
		}
	}
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

func splitDetectors() [][]Detector {
	var ds [][]Detector
	for _, d := range Detectors() {
		ds = append(ds, []Detector{d})
	}
	return ds
}
