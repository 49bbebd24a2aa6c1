package mask

import (
	"encoding/binary"
	"unicode/utf8"
)

// Values are found in text a person reads, and a person reads "１２３‐４５‐６７８９" or a
// card number with zero-width spaces between its digits as the ASCII value. A value that
// holds such characters is read through normText, an ASCII spelling of it: fullwidth
// forms become their ASCII counterparts, Unicode dashes '-', Unicode spaces ' ', and
// zero-width and format characters are skipped. The detectors run on that text; each
// span found maps back to the whole original bytes it came from, so a replacement
// covers every byte of the value and never splits a UTF-8 sequence.
//
// Only values with one of these characters take this path (needsNorm): clean ASCII and
// ordinary UTF-8 (accents, CJK) are scanned as they are.

// normText is src spelled in ASCII where normRune says, with each byte's origin.
type normText struct {
	text []byte
	from []int32 // text[k] comes from src[from[k]:to[k]]
	to   []int32
}

// normRune returns the ASCII byte a person reads for r, or skip for a character that is
// not read at all, or 0 for one that is kept as it is.
func normRune(r rune) (c byte, skip bool) {
	switch {
	case r >= 0xFF01 && r <= 0xFF5E: // fullwidth ASCII: digits, letters, ＠, ．, －, …
		c = byte(r - 0xFF01 + '!')
		if c == '"' || c == '\\' || c == '\'' || c == ',' || c == '`' {
			return 0, false // delimiters of JSON, arrays and COPY stay what they are
		}
		return c, false
	case r >= 0x2010 && r <= 0x2015, r == 0x2212, r == 0xFE58, r == 0xFE63:
		return '-', false // hyphens, dashes, minus
	case r == 0x00A0, r >= 0x2000 && r <= 0x200A, r == 0x202F, r == 0x3000:
		return ' ', false // no-break, fixed-width and ideographic spaces
	case r >= 0x200B && r <= 0x200D, r == 0x2060, r == 0xFEFF, r == 0x00AD:
		return 0, true // zero-width space, (non-)joiner, word joiner, BOM, soft hyphen
	}
	return 0, false
}

// needsNorm reports whether src holds a character normRune changes: it decodes only
// at the lead bytes of those characters (C2, E2, E3, EF), so "Amélie" or "東京" cost a
// table lookup a byte.
func needsNorm(src []byte) bool {
	const high = 0x8080808080808080
	k := 0
	for {
		for k+32 <= len(src) { // ASCII: none of these
			p := src[k : k+32]
			if (binary.LittleEndian.Uint64(p)|binary.LittleEndian.Uint64(p[8:])|
				binary.LittleEndian.Uint64(p[16:])|binary.LittleEndian.Uint64(p[24:]))&high != 0 {
				break
			}
			k += 32
		}
		for k+8 <= len(src) && binary.LittleEndian.Uint64(src[k:])&high == 0 {
			k += 8
		}
		if k >= len(src) {
			return false
		}
		for e := min(k+8, len(src)); k < e; k++ {
			if normLead[src[k]] {
				r, _ := utf8.DecodeRune(src[k:])
				if c, skip := normRune(r); c != 0 || skip {
					return true
				}
			}
		}
	}
}

// hasHigh reports whether b has a byte ≥ 0x80.
func hasHigh(b []byte) bool {
	k := 0
	for ; k+8 <= len(b); k += 8 {
		if binary.LittleEndian.Uint64(b[k:])&0x8080808080808080 != 0 {
			return true
		}
	}
	for ; k < len(b); k++ {
		if b[k] >= utf8.RuneSelf {
			return true
		}
	}
	return false
}

var normLead = [256]bool{0xC2: true, 0xE2: true, 0xE3: true, 0xEF: true}

// normalize fills t with src spelled in ASCII.
func (t *normText) normalize(src []byte) {
	t.text = make([]byte, 0, len(src))
	t.from = make([]int32, 0, len(src))
	t.to = make([]int32, 0, len(src))
	for k := 0; k < len(src); {
		c := src[k]
		if c < utf8.RuneSelf {
			t.add(c, k, k+1)
			k++
			continue
		}
		r, size := utf8.DecodeRune(src[k:])
		n, skip := normRune(r)
		switch {
		case skip:
		case n != 0:
			t.add(n, k, k+size)
		default:
			for q := k; q < k+size; q++ {
				t.add(src[q], q, q+1)
			}
		}
		k += size
	}
}

func (t *normText) add(c byte, from, to int) {
	t.text = append(t.text, c)
	t.from = append(t.from, int32(from))
	t.to = append(t.to, int32(to))
}

// normSpans returns the values found in t's text, as spans of the original value.
func (m *Masker) normSpans(t *normText) []span {
	var out []span
	for sp, ok := m.find(t.text, 0, 0); ok; sp, ok = m.find(t.text, sp.end, sp.end) {
		out = append(out, span{int(t.from[sp.start]), int(t.to[sp.end-1]), sp.det})
	}
	return out
}

// of returns the ASCII spelling of the original bytes sp covers.
func (t *normText) of(sp span) []byte {
	// from is non-decreasing: the first text byte from sp.start, the last before sp.end.
	lo, hi := 0, len(t.from)
	for lo < hi {
		mid := (lo + hi) / 2
		if int(t.from[mid]) < sp.start {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	e := lo
	for e < len(t.to) && int(t.to[e]) <= sp.end {
		e++
	}
	return t.text[lo:e]
}

// replaceNorm is replace for a value found in normalised text: v is its original bytes,
// n its ASCII spelling. The hash is of the canonical form of n (so "１２３-45-6789"
// hashes as "123-45-6789"); Partial keeps the last 4 digits (or letters and digits of
// an IBAN) as they were written and stars the others, rune by rune; an e-mail keeps
// its domain as read.
func (m *Masker) replaceNorm(out, v, n []byte, d Detector) []byte {
	switch m.mode {
	case Partial:
		switch d {
		case CreditCard, Phone, USSSN:
			return keepLast4Runes(out, v, cDigit)
		case IBAN:
			return keepLast4Runes(out, v, cAlnum)
		case Email:
			return partialEmail(out, n)
		}
	case Hash:
		return m.hash(out, n, d)
	}
	return append(out, markers[d]...)
}

// keepLast4Runes is keepLast4 rune by rune: a rune read as a byte of class keep is one
// to hide or keep; the others (separators, skipped characters) are kept.
func keepLast4Runes(out, v []byte, keep uint8) []byte {
	left := 0
	for k := 0; k < len(v); {
		c, size := readByte(v[k:])
		if class[c]&keep != 0 {
			left++
		}
		k += size
	}
	for k := 0; k < len(v); {
		c, size := readByte(v[k:])
		if class[c]&keep != 0 {
			left--
			if left >= 4 {
				out = append(out, '*')
				k += size
				continue
			}
		}
		out = append(out, v[k:k+size]...)
		k += size
	}
	return out
}

// readByte returns the ASCII byte the rune at the start of v is read as (0 for none)
// and its size.
func readByte(v []byte) (byte, int) {
	if v[0] < utf8.RuneSelf {
		return v[0], 1
	}
	r, size := utf8.DecodeRune(v)
	c, _ := normRune(r)
	return c, size
}
