package mask

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPrefilter: the block scan and its bitmaps find what looking at every byte finds:
// the prefilter drops nothing a validator would take. The strings are made of digit
// groups and the separators, prefixes and suffixes the digit detectors care about, in
// every position of a block, with every detector on and with each alone, with the
// vector scan and without.
func TestPrefilter(t *testing.T) {
	ms := prefilterMaskers(t)
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
		checkPrefilter(t, ms, src)
	}
}

// TestPrefilterEdges is TestPrefilter with the anchors where the scan changes its
// ways: at the start of the value (positions 0 to 15), around the ends of blocks (after
// a block looked at with bitmaps or byte by byte), around the start of the last block
// (with the vector scan, when narrower than 32 bytes it is the value's last 32, whose
// first ones the block before looked at) and at the end of the value, in values of
// every length, between bytes drawn from those the bitmaps classify.
func TestPrefilterEdges(t *testing.T) {
	ms := prefilterMaskers(t)
	r := rand.New(rand.NewPCG(11, 12))
	n := 40000
	if testing.Short() {
		n = 4000
	}
	const some = "0123456789012345    ---..//()+:@_IJKEYyAaSseghp,;x\\\nu\x00\xc3\xa9"
	for range n {
		size := 1 + r.IntN(3*block)
		src := make([]byte, 0, size+64)
		for len(src) < size {
			switch r.IntN(8) {
			case 0:
				src = append(src, digitShape(r)...)
			case 1:
				src = append(src, fill(r, 1+r.IntN(8))...)
			case 2:
				src = append(src, pick(r, anchors)...)
			default:
				src = append(src, some[r.IntN(len(some))])
			}
		}
		// An anchor at a place the scan treats apart.
		shape := digitShape(r)
		if r.IntN(4) == 0 {
			shape = []byte(pick(r, anchors))
		}
		var at int
		switch r.IntN(5) {
		case 0: // the start of the value
			at = r.IntN(16)
		case 1: // around a block's end (blocks start every 56 bytes)
			at = (1+r.IntN(3))*(block-8) - 12 + r.IntN(24)
		case 2: // around a block's end after a block looked at byte by byte (a '\\')
			at = (1+r.IntN(2))*block - 12 + r.IntN(24)
			src[r.IntN(min(len(src), block))] = '\\'
		case 3: // around the start of the last block
			at = len(src) - 40 + r.IntN(16)
		default: // the end of the value
			at = len(src) - r.IntN(16)
		}
		at = max(0, min(at, len(src)))
		src = append(src[:at], append(shape, src[at:]...)...)
		if r.IntN(2) == 0 {
			src = src[:max(0, len(src)-r.IntN(len(shape)+1))] // cut
		}
		checkPrefilter(t, ms, src)
	}
}

// anchors are values and near misses of the detectors that are not anchored on digits.
var anchors = []string{"bob@example.com", "@x.io", "a@b", "2001:db8::1", "fe80::1%eth0", "::",
	"1:2:3:4:5:6:7:8", "12:30:45", "a:b:c:d:e:f:1:2", "::ffff:10.0.0.1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
	"fe80:0000:0000:0000:0204:61ff:fe9d:f156", "1111:2222:3333:4444:5555:6666:1.2.3.4",
	"AKIAIOSFODNN7EXAMPLE", "ASIAIOSFODNN7EXAMPL", "KIA", "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", "ghp_",
	"github_pat_11ABCDEFG0123456789abc_0123456789abcdefghij", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhIn0.", "eyJ",
	"-----BEGIN PRIVATE KEY-----\nMC4\n-----END PRIVATE KEY-----", "PRIVATE KEY", "KEY",
	`\n4111111111111111`, `\u00e94111 1111 1111 1111`, `\u00ea4111111111111111`, `\tDE89370400440532013000`,
	`\\n4111111111111111`, "+1 (415) 555-2671", "(555) 123-4567", "0044 20 7946 0958", "0044(0)20 7946 0958",
	"020 7946 0958", "030/12345678", "1-800-555-0199", "1.(800)555-0199", "FI21 1234 5600 0007 85",
	"LI21 0881 0000 2324 013A A", "DK5000400440116243", "x12.34.56.78", "10.0.0.1"}

// prefilterMaskers returns a Masker with every detector on and one for each alone.
func prefilterMaskers(t *testing.T) []*Masker {
	var ms []*Masker
	for _, ds := range append([][]Detector{Detectors()}, splitDetectors()...) {
		m, err := New(&Config{Detectors: ds})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// checkPrefilter compares find with the byte-by-byte scan on src, with the vector scan
// (when the CPU has one) and without.
func checkPrefilter(t *testing.T, ms []*Masker, src []byte) {
	t.Helper()
	simd := useSIMD
	defer func() { useSIMD = simd }()
	for _, useSIMD = range []bool{false, simd} {
		for _, m := range ms {
			if fast, slow := allSpans(m, src, m.find), allSpans(m, src, m.slowAll); !slices.Equal(fast, slow) {
				t.Fatalf("find(%q) with %v (vector scan %v): got %+v, byte by byte %+v", src, m.on, useSIMD, fast, slow)
			}
		}
		if !simd {
			break
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
		"FR1420041010050500013M02606", "IT60X0542811101000000123456", "NO9386011117947", "BE68539007547034",
		// country codes ending in I, J or K, the letters that anchor other detectors
		"FI2112345600000785", "LI21088100002324013AA", "DK5000400440116243", "SK3112000000198742637541",
		"SI56263300012039086", "MK07250120000058984", "GI75NWBK000000007099453", "XK051212012345678906"}
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
