//go:build amd64 && !purego

package mask

import "math/bits"

// classifyAVX2 fills out with the bitmaps of p[:n], 32 <= n <= 64: digits, '0', '1',
// letters, ' '-'/', '.', then '@', ':', '_' or '\\', 'I', 'J', 'K', '+', '(', and last a
// word that is not zero when a byte is 0x80 or more. It
// looks at p[:32] and p[n-32:n], their bytes split in nibbles that index tables
// (VPSHUFB): each class is a set of high nibbles by a set of low ones.
//
//go:noescape
func classifyAVX2(p *byte, n int, out *[15]uint64)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv() (eax, edx uint32)

// useSIMD says whether scan uses classifyAVX2: the CPU has AVX2 and the OS saves the
// YMM registers.
var useSIMD = hasAVX2()

func hasAVX2() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const osxsave, avx = 1 << 27, 1 << 28
	if ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // XMM and YMM state
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

// minSIMD is the narrowest block classifyAVX2 takes.
const minSIMD = 32

// scan fills b for src[i:end]. With AVX2 every bitmap is exact; without, scanGeneric.
func (m *Masker) scan(src []byte, i, end int, b *blockBits) {
	if !useSIMD {
		m.scanGeneric(src, i, end, b)
		return
	}
	var out [15]uint64
	if w := end - i; w >= minSIMD {
		classifyAVX2(&src[i], w, &out)
	} else {
		var buf [minSIMD]byte // zeros are in no class
		copy(buf[:], src[i:end])
		classifyAVX2(&buf[0], minSIMD, &out)
	}
	b.digits = out[0]
	b.zero, b.zeroSure = out[1], out[1]
	b.one = out[2]
	b.letters, b.lettersSure = out[3], out[3]
	b.sep = out[4]
	b.dot = out[5]
	on := &m.rareOn
	b.at = out[6] & on[0]
	b.colon = out[7] & on[1]
	if u := out[8]; u != 0 { // '_' or '\\'
		var bs uint64
		for t := u; t != 0; t &= t - 1 {
			if k := bits.TrailingZeros64(t); src[i+k] == '\\' {
				bs |= 1 << k
			}
		}
		b.underscore = u &^ bs & on[2]
		b.backslash = bs & on[8]
	}
	b.i = out[9] & on[3]
	b.j = out[10] & on[4]
	b.k = out[11] & on[5]
	b.plus = out[12] & on[6]
	b.paren = out[13] & on[7]
	b.high = out[14]
}
