package mask

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The scan has two levels. find looks at 64 bytes at a time: bitmaps of their digits,
// letters, '0', '1', separators and dots, and of the rare bytes that anchor the other
// detectors ('@' e-mail, ':' IPv6, '_' ghp_ and github_pat_, 'I' AKIA/ASIA, 'J' eyJ,
// 'K' PRIVATE KEY) or come before a phone number ('+', '('). Arithmetic on the bitmaps
// then keeps the runs of digits whose shape a digit validator could take (cards,
// phones, SSNs, IBANs, IPv4: what follows a run of each length, its first digits, what
// comes before) and the anchors whose neighbours fit. Only then the validators: each
// looks around its anchor and returns a span or nothing, never allocating on clean
// data. Anchors are tried in order, and a rejected one skips nothing, so it cannot
// hide a value after it.
//
// On amd64 with AVX2 the bitmaps come from classifyAVX2 (scan_amd64.s), exact; else
// scanGeneric makes them with arithmetic on 8 bytes as a word, some of them looser
// (see blockBits). Both are checked against looking at every byte (TestPrefilter).

// span is a found value: src[start:end] is replaced.
type span struct {
	start, end int
	det        Detector
}

// trigger families, the values of Masker.trig (every anchor byte, for findSlow) and
// Masker.rare (all but digits, and the marks, for the bitmaps).
const (
	trigDigit = 1 + iota
	trigAt
	trigColon
	trigUnderscore
	trigI
	trigJ
	trigK
	trigBackslash // not a value's start: escapes need the byte-by-byte scan
	trigPlus      // not a value's start: '+' before a phone number's digits
	trigParen     // not a value's start: '(' before a phone number's digits
)

// buildTriggers fills m.trig and m.rare for the detectors that are on.
func (m *Masker) buildTriggers() {
	m.digitsOn = m.on[CreditCard] || m.on[Phone] || m.on[USSSN] || m.on[IBAN] || m.on[IPAddress]
	if m.digitsOn {
		for c := '0'; c <= '9'; c++ {
			m.trig[c] = trigDigit
		}
	}
	if m.on[Email] {
		m.trig['@'] = trigAt
	}
	if m.on[IPAddress] {
		m.trig[':'] = trigColon
	}
	if m.on[GitHubToken] {
		m.trig['_'] = trigUnderscore
	}
	if m.on[AWSAccessKey] {
		m.trig['I'] = trigI
	}
	if m.on[JWT] {
		m.trig['J'] = trigJ
	}
	if m.on[PrivateKey] {
		m.trig['K'] = trigK
	}
	for c := range m.trig {
		if m.trig[c] != 0 && m.trig[c] != trigDigit {
			m.rare[c] = m.trig[c]
		}
	}
	if m.digitsOn { // escapes move where a run of digits starts
		m.rare['\\'] = trigBackslash
	}
	if m.on[Phone] {
		m.rare['+'] = trigPlus
		m.rare['('] = trigParen
	}
	for k, c := range []byte("@:_IJK+(\\") {
		if m.rare[c] != 0 {
			m.rareOn[k] = ^uint64(0)
		}
	}
}

// block is how many bytes find looks at at once: one bit each in a uint64.
const block = 64

// blockBits are the bitmaps of a block of src: bit k stands for the block's byte k.
// digits and the rare bytes are exact. The others are what the scan can afford: a
// "may" bitmap holds every byte of its class and maybe others, a "sure" one only bytes
// of its class and maybe not all. candidates only ever keeps a candidate on a "may" bit
// and drops one on a "sure" bit, so that the looser they are, the more candidates reach
// the validators, never the fewer.
type blockBits struct {
	digits      uint64 // 0-9
	letters     uint64 // may: A-Z a-z
	lettersSure uint64 // sure: A-Z a-z
	zero        uint64 // may: '0'
	zeroSure    uint64 // sure: '0'
	one         uint64 // may: '1'
	sep         uint64 // may: ' ', '-', '/'
	dot         uint64 // may: '.'

	// the rare bytes of the detectors that are on (Masker.rare)
	at, colon, underscore, i, j, k, plus, paren, backslash uint64

	high uint64 // not 0 when a byte of the block (or of the bytes looked at with it) is ≥ 0x80
}

// scanGeneric fills b for src[i:end], eight bytes at a time: digits, '0' and '.' with
// arithmetic on the 8 bytes as a word, the rare bytes with a table lookup each (and a
// second look at the bytes of a word that has some). The letters are the bytes with
// bit 6 set (letters, '@', '[', '_', '{', … and UTF-8 leading bytes), the separators the
// bytes that are none of those, the '1's all digits, and no letter is sure. When the
// block does not end on a multiple of 8, its last word is the 8 bytes that end it,
// again: their bits are the same.
func (m *Masker) scanGeneric(src []byte, i, end int, b *blockBits) {
	width := end - i
	rare := &m.rare
	var d, l, z, dot, hi uint64
	var r [16]uint64 // by Masker.rare code
	if width >= 8 {
		blk := src[i:end]
		for k := 0; ; {
			p := (*[8]byte)(blk[k : k+8])
			w := binary.LittleEndian.Uint64(p[:])
			hi |= w
			d |= digits8(w) << uint(k)
			z |= equal8(w, '0') << uint(k)
			dot |= equal8(w, '.') << uint(k)
			l |= letters8(w) << uint(k)
			if rare[p[0]]|rare[p[1]]|rare[p[2]]|rare[p[3]]|rare[p[4]]|rare[p[5]]|rare[p[6]]|rare[p[7]] != 0 {
				m.rareBytes(&r, p, uint(k))
			}
			k += 8
			if k >= width {
				break
			}
			k = min(k, width-8)
		}
	} else {
		var p [8]byte // zeros are in no class
		copy(p[:], src[i:end])
		w := binary.LittleEndian.Uint64(p[:])
		hi = w
		d, l, z, dot = digits8(w), letters8(w), equal8(w, '0'), equal8(w, '.')
		m.rareBytes(&r, &p, 0)
	}
	b.digits, b.letters, b.zero, b.one = d, l, z, d
	b.zeroSure = z
	b.sep = ^(d | l | dot)
	b.dot = dot
	b.at, b.colon, b.underscore = r[trigAt], r[trigColon], r[trigUnderscore]
	b.i, b.j, b.k = r[trigI], r[trigJ], r[trigK]
	b.plus, b.paren, b.backslash = r[trigPlus], r[trigParen], r[trigBackslash]
	b.high = hi & 0x8080808080808080
}

// rareBytes adds the rare bytes of p to r, by code, from bit at.
func (m *Masker) rareBytes(r *[16]uint64, p *[8]byte, at uint) {
	rare := &m.rare
	x := uint64(rare[p[0]]) | uint64(rare[p[1]])<<8 | uint64(rare[p[2]])<<16 | uint64(rare[p[3]])<<24 |
		uint64(rare[p[4]])<<32 | uint64(rare[p[5]])<<40 | uint64(rare[p[6]])<<48 | uint64(rare[p[7]])<<56
	for x != 0 {
		q := uint(bits.TrailingZeros64(x)) / 8
		r[x>>(q*8)&15] |= 1 << ((at + q) & 63)
		x &^= 0xff << (q * 8)
	}
}

// digits8 returns a bit for each byte of w (little-endian) that is an ASCII digit.
func digits8(w uint64) uint64 {
	const low7, high = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	ge0 := w&low7 + 0x5050505050505050 // high bit: byte&0x7f >= '0'
	gt9 := w&low7 + 0x4646464646464646 // high bit: byte&0x7f > '9'
	return (ge0 &^ gt9 &^ w & high >> 7) * 0x0102040810204080 >> 56
}

// equal8 returns a bit for each byte of w (little-endian) that is c.
func equal8(w uint64, c byte) uint64 {
	const low7, high = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	x := w ^ uint64(c)*0x0101010101010101
	return (high &^ (x&low7 + low7 | x) >> 7) * 0x0102040810204080 >> 56
}

// letters8 returns a bit for each byte of w (little-endian) with bit 6 set: every
// letter, and '@', '[', '\\', ']', '^', '_', '`', '{', '|', '}', '~', DEL and UTF-8
// leading bytes.
func letters8(w uint64) uint64 {
	return (w >> 6 & 0x0101010101010101) * 0x0102040810204080 >> 56
}

// find returns the first value found in src at or after i; no span starts before lo
// (the end of the previous one).
//
// It goes block by block. For each, the bitmaps, then candidates keeps the runs of
// digits and the rare bytes a validator could take; they are tried in position order,
// worth looking at the bytes around a run before the digit validators. Anchors in the
// last 8 bytes of a block that is not the last are left to the next, which starts
// there. A block with a backslash, or right after one, may hold escapes ("\n4111…",
// "\u00204111…") that move where a value starts: findSlow looks at it byte by byte.
func (m *Masker) find(src []byte, i, lo int) (span, bool) {
	sp, ok, _ := m.findHigh(src, i, lo)
	return sp, ok
}

// findHigh is find, and says whether a byte ≥ 0x80 was seen in the blocks it looked at:
// when nothing is found, all of src[i:]; when a value is found, the text up to the
// block of its anchor (a value may end beyond: Mask looks at its bytes). Mask learns so
// whether src may need normText.
func (m *Masker) findHigh(src []byte, i, lo int) (span, bool, bool) {
	var high uint64
	n := len(src)
	afterBackslash := m.rare['\\'] != 0 && i > 0 && bytes.IndexByte(src[max(0, i-6):i], '\\') >= 0
	for i < n {
		// The block: from i, or, if that is narrower than the vector scan takes, the
		// last bytes of src, whose first ones were looked at with the block before.
		start, end := i, min(i+block, n)
		if useSIMD && end-start < minSIMD && n >= minSIMD {
			start = n - minSIMD
		}
		var b blockBits
		m.scan(src, start, end, &b)
		high |= b.high
		step := end
		if end < n {
			step = end - 8
		}
		if b.backslash != 0 || afterBackslash {
			if sp, ok := m.findSlow(src, i, end, lo); ok {
				return sp, true, high|b.high != 0
			}
			afterBackslash = bytes.IndexByte(src[max(i, end-6):end], '\\') >= 0
			i = end
			continue
		}
		todo := m.candidates(src, start, end, &b)
		todo &= 1<<(step-start) - 1 // 1<<64 is 0
		todo &^= 1<<(i-start) - 1
		for ; todo != 0; todo &= todo - 1 {
			pos := bits.TrailingZeros64(todo)
			k := start + pos
			var (
				sp span
				ok bool
			)
			if !isDigit(src[k]) {
				sp, ok = m.at(src, k, lo)
			} else {
				r := bits.TrailingZeros64(^(b.digits >> pos))
				if k+r >= end {
					r = digitRun(src, k) - k
				}
				if !m.worth(src, k, r) {
					continue
				}
				sp, ok, _ = m.digits(src, k, lo)
			}
			if ok {
				return clamp(sp, lo), true, high != 0
			}
		}
		i = step
	}
	return span{}, false, high != 0
}

// candidates returns the bits of the block src[i:end] that a validator could take: the
// starts of runs of digits a digit validator could take, and the rare bytes whose
// neighbours fit their detector. It looks at most 10 bytes after a bit: when the block
// is not the last (and then 64 bytes wide), the bits whose next bytes are not all in
// the block are in; those of the last 8 bytes are the next block's.
func (m *Masker) candidates(src []byte, i, end int, b *blockBits) uint64 {
	last := end == len(src)
	var p1, p2 byte // the two bytes before the block
	if i > 0 {
		p1 = src[i-1]
		if i > 1 {
			p2 = src[i-2]
		}
	}
	l := b.letters
	l1 := l<<1 | b2u(isLetter(p1))                        // a letter (may) just before
	l2 := l<<2 | b2u(isLetter(p1))<<1 | b2u(isLetter(p2)) // two before
	var todo uint64
	if m.digitsOn {
		d := b.digits
		starts := d &^ (d << 1)
		if isDigit(p1) {
			starts &^= 1 // the run began before: it was looked at then
		}
		if starts != 0 {
			todo = starts & m.digitCandidates(b, starts, l1, l2, p1, last)
		}
	}
	todo |= b.at
	if c := b.colon; c != 0 {
		// v6Worth takes a ':' that starts a "::", or one of a chain of groups of up to 4
		// hex digits: the next ':' is at most 5 bytes on, and so is the one after it
		// (or the chain ends with a "::", whose first ':' is then next to one).
		// Colons whose next 10 bytes are not all in the block are all in.
		chained := c & (c>>1 | c>>2 | c>>3 | c>>4 | c>>5)
		keep := c & (c>>1 | chained&(chained>>1|chained>>2|chained>>3|chained>>4|chained>>5))
		if !last {
			keep |= c &^ (1<<(block-10) - 1)
		}
		todo |= keep
	}
	todo |= b.underscore & l1                            // ghp_, github_pat_
	todo |= b.i & l1 & (l >> 1)                          // AKIA, ASIA
	todo |= b.j & l1                                     // eyJ
	todo |= b.k & (b.sep<<1 | b2u(p1 == ' ')) & (l >> 1) // PRIVATE KEY
	return todo
}

// digitCandidates returns the runs of digits, of those that start at a bit of starts,
// that a digit validator could take: each condition is one a validator checks, at a
// fixed distance from the run's first digit ("x>>5": x at the run's first digit + 5),
// by the run's length. When the block is not the last, a run that reaches its end goes
// on in the next block: it is in.
func (m *Masker) digitCandidates(b *blockBits, starts, l1, l2 uint64, p1 byte, last bool) uint64 {
	d, sep, dot, z := b.digits, b.sep, b.dot, b.zero
	paren := b.paren
	sd := sep | dot
	d2 := d & (d >> 1) // 2 digits from here
	d3 := d2 & (d >> 2)
	next := sep & (d >> 1)                              // a separator, then a digit
	quad := dot & (d >> 1) & (dot>>2 | dot>>3 | dot>>4) // a dotted quad's first dot
	more := sd&((d|paren)>>1) | paren                   // what goes on after "00" and digits
	zz := z & (z >> 1) &^ (b.zeroSure >> 2)             // "00" and a digit but 0
	// t: the runs of exactly k digits; p: those of more.
	p := starts & (d >> 1)
	t := starts &^ p
	keep := t & (b.one&((sd&(d3>>1|paren>>1))>>1) | // 1-800-555-0199, 1 (800) 555-0199
		quad>>1) // 10.0.0.1
	t, p = p&^(d>>2), p&(d>>2)
	keep |= t & (quad >> 2)
	trunk := t & (next >> 2)
	t, p = p&^(d>>3), p&(d>>3)
	keep |= t & ((sep&(d2>>1)|dot&(d3>>1))>>3 | // 123-45-6789, 555-123-4567, 555.123.4567
		quad>>3 | zz&(more>>3)) // 0044 20 7946 0958, 0044(0)20 …
	trunk |= t & (next >> 3)
	t, p = p&^(d>>4), p&(d>>4)
	keep |= t & ((sep&(d3>>1))>>4 | zz&(more>>4)) // 4111 1111: a card's first group
	trunk |= t & (next >> 4)
	t, p = p&^(d>>5), p&(d>>5)
	keep |= t & zz & (more >> 5)
	trunk |= t & (next >> 5)
	keep |= p & (zz | (d>>6)&(d>>7)&(d>>8)&(d>>9)&(d>>10)&(d>>11)&(d>>12)) // 00 and 8 digits, a card in one run
	// Trunk 0: 2 to 5 digits, a separator and a digit; 9 digits or more in groups apart
	// by single separators, so 10 bytes or more of digits and separators between them.
	if trunk &= z; trunk != 0 {
		groups := long(d | sep&(d<<1)&(d>>1))
		if !last {
			groups |= ^uint64(1<<(block-9) - 1) // groups that may go on
		}
		keep |= trunk & groups
	}
	if !last && d>>63 != 0 {
		keep |= 1 << (63 - bits.LeadingZeros64(starts)) // the run that reaches the end
	}
	// Runs of 4 digits or more glued before a value's first group: a separator and
	// two digits after the run's last digit (99123-45-6789). Rare: found by the end,
	// kept by the start.
	var near uint64 // what follows may be in the next block
	if !last {
		near = ^uint64(1<<(block-10) - 1)
	}
	// Each shape has a digit 7 bytes on (dates, "2024-03-15 ", have not).
	if g := d &^ (d >> 1) & (d3 << 3) & (sd >> 1) & ((d2>>2)&(d>>7) | near); g != 0 {
		d4 := d3 & (d >> 3)
		tail := (sep>>1)&(sep>>4)&(d4>>5) | // -45-6789
			(sd>>1)&(d>>4)&(sd>>5)&(d4>>6) | // -123-4567
			(sep>>1)&(d2>>4)&(sep>>6) | // " 1111 "
			near
		g &= tail
		for ; g != 0; g &= g - 1 {
			e := bits.TrailingZeros64(g)
			if s := starts & (1<<uint(e+1) - 1); s != 0 {
				keep |= 1 << uint(63-bits.LeadingZeros64(s))
			}
		}
	}
	plus1 := b.plus<<1 | b2u(p1 == '+' && m.rare['+'] != 0)
	paren1 := paren<<1 | b2u(p1 == '(' && m.rare['('] != 0)
	// An IBAN's check digits after its country code, then 4 letters or digits, or a
	// space and 4.
	al := d | b.letters
	al4 := al & (al >> 1) & (al >> 2) & (al >> 3)
	keep |= l1&l2&(d>>1)&(al4>>2|(sep>>2)&(al4>>3)) |
		plus1&^b.zeroSure | paren1 // +14155552671, (555) 123-4567
	return keep
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// long returns the starts of runs of 10 digits or more.
func long(digits uint64) uint64 {
	a2 := digits & (digits >> 1)
	a4 := a2 & (a2 >> 2)
	return a4 & (a4 >> 4) & (a2 >> 8)
}

func clamp(sp span, lo int) span {
	if sp.start < lo {
		sp.start = lo
	}
	return sp
}

// worth reports whether a digit detector could start at the run of r digits at
// src[k]: the cheap test that keeps dates, times, amounts, ids and hex digits from the
// validators. It must pass every run a validator would take: each case below names the
// shortest form its detectors accept.
func (m *Masker) worth(src []byte, k, r int) bool {
	var prev, next byte
	if k > 0 {
		prev = src[k-1]
	}
	if k+r < len(src) {
		next = src[k+r]
	}
	first := src[k]
	if isLetter(prev) && m.on[IBAN] && r >= 2 && k >= 2 && ibanCountry(src[k-2], prev) {
		return true // an IBAN's check digits after its country code
	}
	if r > 3 && (next == '-' || next == ' ' || next == '.') && gluedWorth(src, k+r, r) {
		return true // glued to digits before it: 99123-45-6789, 99555-123-4567, 994111 1111 …
	}
	switch {
	case prev == '+' && first != '0': // +14155552671, +1 (415) …
		return true
	case prev == '(' && next == ')': // (555) 123-4567, (020) 7946 0958
		return true
	case r >= 13: // a card in one run, 00 and 11+ digits
		return r <= 19
	case r >= 10: // 00 and 8+ digits
		return first == '0' && src[k+1] == '0'
	}
	if first == '0' && r >= 3 && src[k+1] == '0' { // 0044 20 7946 0958, 0044(0)20…
		return next == ' ' || next == '-' || next == '.' || next == '('
	}
	switch next {
	case ' ', '-', '/':
		switch {
		case first == '0' && r >= 2 && r <= 5 && phoneStart(src, k) && groupDigits(src, k) >= 9:
			return true // 020 7946 0958, 01 23 45 67 89, 030/12345678
		case next == '/':
			return false
		case r == 4: // a card's first group, then one of 3 to 6
			return digitAt(src, k+5) && digitAt(src, k+6) && digitAt(src, k+7)
		case r == 3: // 123-45-6789, 555-123-4567
			return digitAt(src, k+4) && digitAt(src, k+5)
		case r == 1 && first == '1': // 1-800-555-0199, 1 (800) 555-0199
			return (digitAt(src, k+2) && digitAt(src, k+3) && digitAt(src, k+4)) ||
				(k+2 < len(src) && src[k+2] == '(')
		}
	case '.': // 10.0.0.1, 555.123.4567: another dot soon; 1.800-555-0199, 1.(800)…
		if r == 1 && first == '1' && ((k+2 < len(src) && src[k+2] == '(') ||
			(digitAt(src, k+2) && digitAt(src, k+3) && digitAt(src, k+4))) {
			return true
		}
		if r <= 3 && digitAt(src, k+r+1) {
			for p := k + r + 2; p <= k+r+4 && p < len(src); p++ {
				if src[p] == '.' {
					return true
				}
			}
		}
	}
	return false
}

func digitAt(src []byte, p int) bool { return p < len(src) && isDigit(src[p]) }

// gluedWorth reports whether gluedDigits could take the run of r digits that ends at
// src[j], a separator: an SSN's "-GG-SSSS", a phone's "-NXX-XXXX" or a card's
// " 1111 " follows.
func gluedWorth(src []byte, j, r int) bool {
	s := src[j]
	digits := func(p, n int) bool {
		for q := p; q < p+n; q++ {
			if !digitAt(src, q) {
				return false
			}
		}
		return true
	}
	at := func(p int) bool { return p < len(src) && src[p] == s }
	return (s == '-' && digits(j+1, 2) && at(j+3) && digits(j+4, 4)) ||
		(digits(j+1, 3) && at(j+4) && digits(j+5, 4)) ||
		(r > 4 && s != '.' && digits(j+1, 4) && at(j+5))
}

// groupDigits counts the digits from src[k] up to the first byte that is not a digit, a
// space, a dash or a slash, within the 24 bytes a trunk-0 number's 9 digits fit in
// ("01 2 3 4 5 6 7 8" is the longest); a date and time has 6 before its ':'.
func groupDigits(src []byte, k int) int {
	d := 0
	for p := k; p < len(src) && p < k+24; p++ {
		switch c := src[p]; {
		case isDigit(c):
			d++
		case c != ' ' && c != '-' && c != '/':
			return d
		}
	}
	return d
}

// v6Worth reports whether an IPv6 address could hold the ':' at src[c]: it starts a
// "::", or seven colons (six and a dotted quad) of hex groups follow from it, or a "::"
// does. Times (12:30:45) and MAC addresses do not.
func v6Worth(src []byte, c int) bool {
	n := len(src)
	if c+1 < n && src[c+1] == ':' {
		return true
	}
	if c > 0 && src[c-1] == ':' {
		return false // the second of a "::": looked at with the first
	}
	colons := 0
	for p := c; p < n && src[p] == ':'; {
		colons++
		p++
		q := p
		for q < n && q-p < 4 && class[src[q]]&cHex != 0 {
			q++
		}
		if q == p {
			return q < n && src[q] == ':'
		}
		p = q
		if colons == 7 || (colons == 6 && p < n && src[p] == '.') {
			return true
		}
	}
	return false
}

// at runs the validator of the rare trigger byte at src[k].
func (m *Masker) at(src []byte, k, lo int) (span, bool) {
	switch m.rare[src[k]] {
	case trigAt:
		return email(src, k, lo)
	case trigColon:
		if v6Worth(src, k) {
			return ipv6(src, k, lo)
		}
	case trigUnderscore:
		return githubToken(src, k, lo)
	case trigI:
		return awsKey(src, k, lo)
	case trigJ:
		return jwt(src, k, lo)
	case trigK:
		return privateKey(src, k, lo)
	}
	return span{}, false
}

// findSlow is find for src[i:end], byte by byte: every run of digits goes to the
// validators, which move past escapes.
func (m *Masker) findSlow(src []byte, i, end, lo int) (span, bool) {
	t := &m.trig
	for i < end {
		c := src[i]
		if t[c] == 0 {
			i++
			continue
		}
		if c-'0' < 10 {
			sp, ok, next := m.digits(src, i, lo)
			if ok {
				return clamp(sp, lo), true
			}
			i = max(next, i+1)
			continue
		}
		if sp, ok := m.at(src, i, lo); ok {
			return clamp(sp, lo), true
		}
		i++
	}
	return span{}, false
}

// Byte classes, for the validators.
const (
	cDigit  = 1 << iota
	cUpper  // A-Z
	cLower  // a-z
	cHex    // 0-9 a-f A-F
	cLocal  // may be in an e-mail's local part
	cDomain // may be in a domain label: letters, digits, '-', non-ASCII
	cB64    // base64url: letters, digits, '-', '_'
	cV6     // may be in an IPv6 address: hex digits, ':', '.'

	cAlnum  = cDigit | cUpper | cLower
	cLetter = cUpper | cLower
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		switch {
		case b >= '0' && b <= '9':
			t[c] = cDigit | cHex | cLocal | cDomain | cB64 | cV6
		case b >= 'A' && b <= 'Z':
			t[c] = cUpper | cLocal | cDomain | cB64
		case b >= 'a' && b <= 'z':
			t[c] = cLower | cLocal | cDomain | cB64
		case b >= 0x80:
			t[c] = cLocal | cDomain
		}
		if (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F') {
			t[c] |= cHex | cV6
		}
	}
	for _, b := range []byte(".!#$%&'*+=?^_`{|}~-") {
		t[b] |= cLocal
	}
	t['-'] |= cDomain | cB64
	t['_'] |= cB64
	t[':'] |= cV6
	t['.'] |= cV6
	return t
}()

func isDigit(c byte) bool  { return c-'0' < 10 }
func isAlnum(c byte) bool  { return class[c]&cAlnum != 0 }
func isLetter(c byte) bool { return class[c]&cLetter != 0 }
func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// leftOK reports whether a word may start at src[i]: nothing before it, or a byte that
// is not a letter or digit, or the end of an escape (the n of "\n", the last hex digit
// of "\u00e9": JSON and COPY text write "line\n4111…").
func leftOK(src []byte, i int) bool {
	return i == 0 || !isAlnum(src[i-1]) || endsEscape(src, i)
}

// rightOK reports whether a word may end before src[e].
func rightOK(src []byte, e int) bool {
	return e >= len(src) || !isAlnum(src[e])
}

// startsEscape reports whether the backslash at src[k] starts an escape, that is, is not
// itself escaped: an odd number of backslashes ends at k.
func startsEscape(src []byte, k int) bool {
	c := 0
	for ; k >= 0 && src[k] == '\\'; k-- {
		c++
	}
	return c%2 == 1
}

// endsEscape reports whether an escape sequence, \X (X a letter: \n, \t) or \uXXXX,
// ends just before src[i]. A backslash before a digit is not taken as an escape: the
// digit may start a value.
func endsEscape(src []byte, i int) bool {
	if i >= 2 && src[i-2] == '\\' && isLetter(src[i-1]) && startsEscape(src, i-2) {
		return true
	}
	return i >= 6 && src[i-6] == '\\' && src[i-5] == 'u' && hex4(src[i-4:i]) && startsEscape(src, i-6)
}

func hex4(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for _, c := range b[:4] {
		if class[c]&cHex == 0 {
			return false
		}
	}
	return true
}

// afterEscape returns i, or the end of the escape sequence that src[i] is inside of
// (the u00 of "\u00e9", the n of "\n"), so that a span never starts in the middle of one.
func afterEscape(src []byte, i int) int {
	for k := i - 1; k >= 0 && k >= i-5; k-- {
		if src[k] != '\\' {
			continue
		}
		if k+1 >= len(src) || !isLetter(src[k+1]) || !startsEscape(src, k) {
			return i
		}
		l := 2
		if src[k+1] == 'u' && hex4(src[k+2:]) {
			l = 6
		}
		if i < k+l {
			return k + l
		}
		return i
	}
	return i
}
