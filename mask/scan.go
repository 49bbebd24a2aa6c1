package mask

import (
	"bytes"
	"encoding/binary"
	"math/bits"
)

// The scan has two levels. find looks at 64 bytes at a time: a bitmap of their digits
// and one of the rare bytes that anchor the other detectors ('@' e-mail, ':' IPv6, '_'
// ghp_ and github_pat_, 'I' AKIA/ASIA, 'J' eyJ, 'K' PRIVATE KEY), then arithmetic on
// the bitmaps keeps the runs of digits whose shape a digit detector could start (cards,
// phones, SSNs, IBANs, IPv4). Only then the validators: each looks around its anchor
// and returns a span or nothing, never allocating on clean data. Anchors are tried in
// order, and a rejected one skips nothing, so it cannot hide a value after it.

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
	trigMark      // not a value's start: '+' and '(' before digits
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
		m.rare['+'] = trigMark
		m.rare['('] = trigMark
	}
}

// block is how many bytes find looks at at once: one bit each in a uint64.
const block = 64

// bitmaps of a block of src: bit k stands for the block's byte k.
type bitmaps struct {
	digits    uint64 // 0-9
	trig      uint64 // bytes whose validator runs: '@', ':', '_', 'I', 'J', 'K'
	marks     uint64 // '+' and '(' (for phone numbers)
	backslash bool   // a '\\' anywhere in the block
}

// scan fills the bitmaps of src[i:end], eight bytes at a time: digits with arithmetic on
// the 8 bytes as a word, the rare bytes with a table lookup each (and a second look at
// the bytes of a word that has some). The last bytes are the 8 that end the block,
// less those already seen.
func (m *Masker) scan(src []byte, i, end int) (b bitmaps) {
	rare := &m.rare
	k := i
	for ; k+8 <= end; k += 8 {
		p := (*[8]byte)(src[k : k+8])
		at := uint(k-i) & 63
		if m.digitsOn {
			b.digits |= digits8(binary.LittleEndian.Uint64(p[:])) << at
		}
		if rare[p[0]]|rare[p[1]]|rare[p[2]]|rare[p[3]]|rare[p[4]]|rare[p[5]]|rare[p[6]]|rare[p[7]] != 0 {
			m.rareBytes(&b, p, at, 0)
		}
	}
	if k < end {
		var p *[8]byte
		if end >= 8 {
			p = (*[8]byte)(src[end-8 : end])
		} else {
			p = new([8]byte)
			copy(p[8-(end-k):], src[k:end])
		}
		at, drop := uint(k-i)&63, uint(8-(end-k))&7
		if m.digitsOn {
			b.digits |= digits8(binary.LittleEndian.Uint64(p[:])) >> drop << at
		}
		if rare[p[0]]|rare[p[1]]|rare[p[2]]|rare[p[3]]|rare[p[4]]|rare[p[5]]|rare[p[6]]|rare[p[7]] != 0 {
			m.rareBytes(&b, p, at, drop)
		}
	}
	return b
}

// rareBytes adds the rare bytes of p but its first drop ones to b, from bit at.
func (m *Masker) rareBytes(b *bitmaps, p *[8]byte, at, drop uint) {
	for q := drop; q < 8; q++ {
		switch m.rare[p[q]] {
		case 0:
		case trigMark:
			b.marks |= 1 << ((at + q - drop) & 63)
		case trigBackslash:
			b.backslash = true
		default:
			b.trig |= 1 << ((at + q - drop) & 63)
		}
	}
}

// digits8 returns a bit for each byte of w (little-endian) that is an ASCII digit.
func digits8(w uint64) uint64 {
	const low7, high = 0x7f7f7f7f7f7f7f7f, 0x8080808080808080
	ge0 := w&low7 + 0x5050505050505050 // high bit: byte&0x7f >= '0'
	gt9 := w&low7 + 0x4646464646464646 // high bit: byte&0x7f > '9'
	return (ge0 &^ gt9 &^ w & high >> 7) * 0x0102040810204080 >> 56
}

// find returns the first value found in src at or after i; no span starts before lo
// (the end of the previous one).
//
// It goes block by block. For each, a bitmap of digits and bitmaps of the rare trigger
// bytes; then, in position order, each rare trigger's validator, and the validators of
// the runs of digits a digit detector could start at. The bitmaps pass a run followed
// by one byte and more digits in a shape some detector takes, a long run, a run after
// '+' or '(' and a run of two digits or more (an IBAN's check digits after two letters);
// a look at the bytes around the run then stops those whose separator, first digit or
// letters don't fit, and worth the rest. Dates, times, amounts, ids and the digits
// inside UUIDs and hashes stop there. A block with a backslash, or right after one, may
// hold escapes ("\n4111…", "\u00204111…") that move where a value starts: findSlow
// looks at it byte by byte.
func (m *Masker) find(src []byte, i, lo int) (span, bool) {
	n := len(src)
	afterBackslash := m.rare['\\'] != 0 && i > 0 && bytes.IndexByte(src[max(0, i-6):i], '\\') >= 0
	for i < n {
		end := min(i+block, n)
		b := m.scan(src, i, end)
		// Runs that start in the last 8 bytes of a block are left to the next block,
		// whose bitmaps see the bytes after them.
		step := end
		if end < n {
			step = end - 8
		}
		if b.backslash || afterBackslash {
			if sp, ok := m.findSlow(src, i, end, lo); ok {
				return sp, true
			}
			afterBackslash = bytes.IndexByte(src[max(i, end-6):end], '\\') >= 0
			i = end
			continue
		}
		digits, marks := b.digits, b.marks
		starts := digits &^ (digits << 1)
		var markBefore uint64 // a '+' or '(' just before the block
		if i > 0 {
			switch c := src[i-1]; {
			case isDigit(c):
				starts &^= 1 // the run began before: it was looked at then
			case m.rare[c] == trigMark:
				markBefore = 1
			}
		}
		var sure, sep, sepZero, two uint64
		if starts != 0 {
			s, z := shapes(digits, marks, end-i, end == n)
			sure = starts & (long(digits) | marks<<1 | markBefore)
			if end < n && digits>>(end-i-1)&1 != 0 { // a run that goes on in the next block
				sure |= starts & fillBack(1<<(end-i-1), digits)
			}
			sep = starts & fillBack(s, digits) &^ sure
			sepZero = starts & fillBack(z, digits) &^ (sure | sep)
			sep |= sepZero
			two = starts & (digits >> 1) &^ (sure | (marks|b.trig)<<1)
		}
		todo := sure | sep | two | b.trig
		if step < end {
			todo &= 1<<(step-i) - 1
		}
		for ; todo != 0; todo &= todo - 1 {
			pos := bits.TrailingZeros64(todo)
			k := i + pos
			bit := uint64(1) << pos
			var (
				sp span
				ok bool
			)
			if b.trig&bit != 0 {
				sp, ok = m.at(src, k, lo)
			} else {
				r := bits.TrailingZeros64(^(digits >> pos))
				if k+r >= end {
					r = digitRun(src, k) - k
				}
				if sure&bit == 0 &&
					// a separator after the run (and a 0 first for a trunk-0 number)
					!(sep&bit != 0 && k+r < n && sepByte[src[k+r]] && (sepZero&bit == 0 || src[k] == '0')) &&
					// two letters before: an IBAN's check digits
					!(two&bit != 0 && k >= 2 && isLetter(src[k-1]) && isLetter(src[k-2])) {
					continue
				}
				if !m.worth(src, k, r) {
					continue
				}
				sp, ok, _ = m.digits(src, k, lo)
			}
			if ok {
				return clamp(sp, lo), true
			}
		}
		i = step
	}
	return span{}, false
}

// sepByte marks the bytes digit detectors take between groups: ' ', '-', '.', '/', and
// the '(' of "1 (800)" and "0044(0)".
var sepByte = [256]bool{' ': true, '-': true, '.': true, '/': true, '(': true}

// shapes returns the ends of the runs of digits (in a block width bytes wide) followed
// by one byte (a separator, checked later) and what a digit detector needs after a first
// group: 3 digits after 4 (a card), 2 after 3 (SSN, 555-123-4567), 3 or a '(' after a
// single digit (1-800-…, 1 (800) …), a '(' or a digit after 3 or more ("0044(0)20…",
// "0044 20…"), a digit and soon another byte that is not one after up to 3 (10.0.0.1);
// and apart, those of 2 to 5 digits followed by a digit (a trunk-0 number, which
// starts with a 0, checked later). Unless the block is the last, runs ending in its
// last 6 bytes, whose next bytes are in the next block, are all in.
func shapes(digits, marks uint64, width int, last bool) (s, zero uint64) {
	gap := ^digits
	ends := digits & (gap >> 1)
	b2 := digits & (digits << 1) // bit e: digits at e-1 and e
	b3 := b2 & (digits << 2)
	b4 := b2 & (b2 << 2)
	b6 := b4 & (b2 << 4)
	gapDigit := digits >> 2 // the run's end and its next byte are known: the digit after
	gapDigit2 := gapDigit & (digits >> 3)
	gapDigit3 := gapDigit2 & (digits >> 4)
	paren := marks>>2 | marks>>1
	s = ends&^(digits<<1)&(gapDigit3|paren) | // 1-800-555-0199, 1 (800) …
		ends&b3&^(digits<<3)&gapDigit2 | // 123-45-6789, 555-123-4567
		ends&b4&^(digits<<4)&gapDigit3 | // 4111 1111 …
		ends&b3&(gapDigit|paren) | // 0044 20 …, 0044(0)20 …
		ends&^b4&gapDigit&(gap>>3|gap>>4|gap>>5) // 10.0.0.1, 555.123.4567
	zero = ends & b2 &^ b6 & gapDigit // 020 7946 0958
	switch {
	case last:
	case width > 6:
		s |= ends & (^uint64(0) << (width - 6))
	default:
		s |= ends
	}
	return s, zero
}

// long returns the starts of runs of 10 digits or more.
func long(digits uint64) uint64 {
	a2 := digits & (digits >> 1)
	a4 := a2 & (a2 >> 2)
	return a4 & (a4 >> 4) & (a2 >> 8)
}

// fillBack sets, in each run of d's bits, the bits below any bit of g.
func fillBack(g, d uint64) uint64 {
	p := d
	g |= p & (g >> 1)
	p &= p >> 1
	g |= p & (g >> 2)
	p &= p >> 2
	g |= p & (g >> 4)
	p &= p >> 4
	g |= p & (g >> 8)
	p &= p >> 8
	g |= p & (g >> 16)
	p &= p >> 16
	g |= p & (g >> 32)
	return g
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
	switch {
	case isLetter(prev): // inside a word, or an IBAN's check digits after its country code
		return m.on[IBAN] && r >= 2 && k >= 2 && ibanCountry(src[k-2], prev)
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
