//go:build amd64 && !purego

package mask

import (
	"math/rand/v2"
	"testing"
)

// TestClassifyAVX2: the vector bitmaps are those of the byte-by-byte definitions, for
// every width and every byte value at every position.
func TestClassifyAVX2(t *testing.T) {
	if !useSIMD {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 64)
	for iter := range 20000 {
		for k := range buf {
			switch {
			case iter < 256:
				buf[k] = byte(iter + k) // every byte at every position
			case r.IntN(2) == 0:
				const some = "0123456789 -/.@:_IJK\\+(aZz"
				buf[k] = some[r.IntN(len(some))]
			default:
				buf[k] = byte(r.IntN(256))
			}
		}
		n := 32 + r.IntN(33)
		var all [15]uint64
		classifyAVX2(&buf[0], n, &all)
		got := [14]uint64(all[:14])
		high := false
		for _, c := range buf[:n] {
			high = high || c >= 0x80
		}
		if high != (all[14] != 0) {
			t.Fatalf("classifyAVX2(%q): high %x, want a byte ≥ 0x80: %v", buf[:n], all[14], high)
		}
		var want [14]uint64
		for k, c := range buf[:n] {
			bit := uint64(1) << k
			for x, in := range [14]bool{isDigit(c), c == '0', c == '1', isLetter(c),
				c == ' ' || c == '-' || c == '/', c == '.', c == '@', c == ':', c == '_' || c == '\\',
				c == 'I', c == 'J', c == 'K', c == '+', c == '('} {
				if in {
					want[x] |= bit
				}
			}
		}
		if got != want {
			t.Fatalf("classifyAVX2(%q): got %x, want %x", buf[:n], got, want)
		}
	}
}
