package mask

import (
	"bytes"
	"strings"
)

// digits looks at the digit run that starts at src[i] (the byte before is not a digit)
// for every detector anchored on digits. It returns the span found, or where the scan
// goes on: past the run, since no value starts inside a run of digits.
func (m *Masker) digits(src []byte, i, lo int) (span, bool, int) {
	n := len(src)
	j := i + 1
	for j < n && isDigit(src[j]) {
		j++
	}
	if i > 0 && isDigit(src[i-1]) {
		return span{}, false, j // inside a run: only gluedDigits looks there
	}
	if a := afterEscape(src, i); a != i {
		if a >= j { // the digits are an escape's ("\u0020")
			return span{}, false, j
		}
		i = a
	}
	r := j - i
	var next byte
	if j < n {
		next = src[j]
	}
	// An IBAN's check digits follow its two-letter country code.
	if m.on[IBAN] && r >= 2 && i-2 >= lo && isLetter(src[i-1]) && isLetter(src[i-2]) {
		if e, ok := iban(src, i-2); ok {
			return span{i - 2, e, IBAN}, true, e
		}
	}
	// Glued to digits on the left ("99123-45-6789", "004111 1111 1111 1111"): the
	// value's first group is the end of this run, and its separators delimit it.
	if r > 3 && (next == '-' || next == ' ' || next == '.') && gluedWorth(src, j, r) {
		if sp, ok := m.gluedDigits(src, j, lo); ok {
			return sp, true, sp.end
		}
	}
	var prev byte
	if i > 0 {
		prev = src[i-1]
	}
	if m.on[Phone] && i-1 >= lo {
		switch prev {
		case '+':
			if e, ok := intlPhone(src, i); ok {
				return span{i - 1, e, Phone}, true, e
			}
		case '(':
			if e, ok := parenPhone(src, i, r); ok {
				return span{i - 1, e, Phone}, true, e
			}
		}
	}
	if m.on[CreditCard] && src[i] >= '2' && ((r >= 13 && r <= 19) || (r == 4 && (next == ' ' || next == '-'))) {
		if e, ok := card(src, i, r); ok {
			return span{i, e, CreditCard}, true, e
		}
	}
	if m.on[USSSN] && r == 3 && (next == '-' || next == ' ') {
		if e, ok := ssn(src, i); ok {
			return span{i, e, USSSN}, true, e
		}
	}
	if m.on[Phone] {
		if e, ok := phone(src, i, r, next); ok {
			return span{i, e, Phone}, true, e
		}
	}
	if m.on[IPAddress] && r <= 3 && next == '.' {
		if e, ok := ipv4(src, i); ok {
			return span{i, e, IPAddress}, true, e
		}
	}
	return span{}, false, j
}

// exact reports whether src[p:p+k] is k digits not followed by another digit.
func exact(src []byte, p, k int) bool {
	if p < 0 || p+k > len(src) {
		return false
	}
	for _, c := range src[p : p+k] {
		if !isDigit(c) {
			return false
		}
	}
	return p+k == len(src) || !isDigit(src[p+k])
}

// digitRun returns the end of the digits that start at src[p].
func digitRun(src []byte, p int) int {
	for p < len(src) && isDigit(src[p]) {
		p++
	}
	return p
}

// card finds a payment card number at src[i]: 13–19 digits, either in one run or in
// groups separated by single spaces or dashes (the first of 4 digits, the others of 3 to
// 6: 4-4-4-4, 4-6-5, 4-4-4-4-3), that pass the Luhn check. It starts with 2–9: no
// network issues numbers starting with 0, and 1 (UATP) would take 13-digit Unix
// millisecond times. A run of more digits or one glued to letters is not a card; a group
// after a card's last one ("4111 1111 1111 1111 123", a CVV) is left out when the
// groups before it make a usual layout.
func card(src []byte, i, r int) (int, bool) {
	if r >= 13 {
		e := i + r
		return e, luhn(src[i:e]) && !compactTime(src[i:e]) && !lookAlikeWord(src, i, e)
	}
	n := len(src)
	var sizes, ends [7]int
	sizes[0], ends[0] = 4, i+4
	k, total, pos := 0, 4, i+4
	for k < len(sizes)-1 && pos+1 < n && (src[pos] == ' ' || src[pos] == '-') && isDigit(src[pos+1]) {
		q := digitRun(src, pos+1)
		g := q - pos - 1
		if g < 3 || g > 6 {
			break
		}
		k++
		sizes[k], ends[k] = g, q
		total += g
		pos = q
	}
	if total >= 13 && total <= 19 && luhn(src[i:pos]) && !inUUID(src, i, pos) {
		return pos, true
	}
	if k >= 1 && usualLayout(sizes[:k]) && luhn(src[i:ends[k-1]]) && !inUUID(src, i, ends[k-1]) {
		return ends[k-1], true
	}
	if i+19 < n && isDigit(src[i+19]) { // 4-4-4-4 and more digits glued after it
		return card4444(src, i)
	}
	return 0, false
}

// card4444 finds a card printed 4-4-4-4 at src[i] (4 digits), with the same separator
// three times, whose last group may be glued to more digits ("4111 1111 1111 111199",
// card_n || order_no): 16 digits that pass the Luhn check.
func card4444(src []byte, i int) (int, bool) {
	if i+19 > len(src) || src[i] < '2' {
		return 0, false
	}
	s := src[i+4]
	if s != ' ' && s != '-' {
		return 0, false
	}
	for g := 0; g < 4; g++ {
		p := i + 5*g
		if g > 0 && src[p-1] != s {
			return 0, false
		}
		for _, c := range src[p : p+4] {
			if !isDigit(c) {
				return 0, false
			}
		}
		if g < 3 && isDigit(src[p+4]) {
			return 0, false
		}
	}
	return i + 19, luhn(src[i:i+19]) && !inUUID(src, i, i+19)
}

// inUUID reports whether src[i:e], digits in dashed groups, is inside a UUID
// (8-4-4-4-12 hex digits): its middle groups, glued to its first and last, are a card's
// shape.
func inUUID(src []byte, i, e int) bool {
	if bytes.IndexByte(src[i:e], '-') < 0 {
		return false
	}
	for o := max(0, e-36); o <= i && o+36 <= len(src); o++ {
		if isUUID(src[o : o+36]) {
			return true
		}
	}
	return false
}

func isUUID(b []byte) bool {
	for k, c := range b {
		if k == 8 || k == 13 || k == 18 || k == 23 {
			if c != '-' {
				return false
			}
		} else if class[c]&cHex == 0 {
			return false
		}
	}
	return true
}

// lookAlikeWord reports whether src[i:e], glued to letters or digits, is part of a word
// that is something else: a hex hash (32 hex digits or more) or a UPS tracking number
// ("1Z" and 16 letters and digits).
func lookAlikeWord(src []byte, i, e int) bool {
	ws, we := i, e
	for ws > 0 && isAlnum(src[ws-1]) {
		ws--
	}
	for we < len(src) && isAlnum(src[we]) {
		we++
	}
	if ws == i && we == e {
		return false
	}
	w := src[ws:we]
	if len(w) == 18 && w[0] == '1' && w[1]|0x20 == 'z' {
		return true
	}
	if len(w) < 32 {
		return false
	}
	for _, c := range w {
		if class[c]&cHex == 0 {
			return false
		}
	}
	return true
}

// compactTime reports whether the digits of b are a compact timestamp,
// YYYYMMDDhhmmss with or without milliseconds, from 1900 to 2099: such a run is a time,
// not a card (no network issues 14 or 17-digit numbers starting with 19 or 20).
func compactTime(b []byte) bool {
	if (len(b) != 14 && len(b) != 17) || b[0] != '1' && b[0] != '2' {
		return false
	}
	y, mo, d, h, mi, s := num(b[:4]), num(b[4:6]), num(b[6:8]), num(b[8:10]), num(b[10:12]), num(b[12:14])
	return y >= 1900 && y <= 2099 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60
}

// gluedDigits finds a value whose first group is the end of a longer run of digits
// that ends at src[j], a separator followed by two digits: a card printed 4-4-4-4, a
// dashed SSN or a North American phone number, glued to the digits before it
// ("99123-45-6789"). A run that is itself part of a longer dashed or dotted number
// ("1-99123-45-6789") is not.
func (m *Masker) gluedDigits(src []byte, j, lo int) (span, bool) {
	rs := j
	for rs > 0 && isDigit(src[rs-1]) {
		rs--
	}
	if rs >= 2 && (src[rs-1] == '-' || src[rs-1] == '.') && isDigit(src[rs-2]) {
		return span{}, false
	}
	if m.on[CreditCard] && j-4 > rs && j-4 >= lo {
		if e, ok := card4444(src, j-4); ok {
			return span{j - 4, e, CreditCard}, true
		}
	}
	if j-3 < lo {
		return span{}, false
	}
	if m.on[USSSN] && src[j] == '-' {
		if e, ok := ssn(src, j-3); ok {
			return span{j - 3, e, USSSN}, true
		}
	}
	if m.on[Phone] {
		if e, ok := nanp(src, j-3); ok {
			return span{j - 3, e, Phone}, true
		}
	}
	return span{}, false
}

// usualLayout reports whether groups are a common way to print a card number.
func usualLayout(g []int) bool {
	switch len(g) {
	case 3:
		return g[0] == 4 && g[1] == 6 && (g[2] == 5 || g[2] == 4)
	case 4:
		return g[0] == 4 && g[1] == 4 && g[2] == 4 && g[3] == 4
	case 5:
		return g[0] == 4 && g[1] == 4 && g[2] == 4 && g[3] == 4 && g[4] == 3
	}
	return false
}

// luhn reports whether the digits in b (other bytes are skipped) pass the Luhn check.
func luhn(b []byte) bool {
	sum, dbl := 0, false
	for k := len(b) - 1; k >= 0; k-- {
		c := b[k]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if dbl {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		dbl = !dbl
	}
	return sum%10 == 0
}

// ssn finds a US social security number at src[i]: AAA-GG-SSSS, or with spaces (the
// same separator twice). Numbers the SSA never issues are not SSNs: area 000, 666 or
// 900–999, group 00, serial 0000. Nine bare digits are not taken: too many ids look
// like that. A part of a longer dashed number ("1-123-45-6789-0") is not an SSN.
func ssn(src []byte, i int) (int, bool) {
	n := len(src)
	s := src[i+3]
	if !exact(src, i, 3) || !exact(src, i+4, 2) || i+6 >= n || src[i+6] != s {
		return 0, false
	}
	// The serial: 4 digits; in the dashed form, more digits glued after it are
	// another value's ("123-45-6789" || order_no).
	last := digitRun(src, i+7)
	if last-i-7 < 4 || (last-i-7 > 4 && s != '-') {
		return 0, false
	}
	e := i + 11
	if s == '-' && last+1 < n && src[last] == '-' && isDigit(src[last+1]) {
		return 0, false
	}
	if s == '-' && i >= 2 && src[i-1] == '-' && isDigit(src[i-2]) {
		return 0, false
	}
	area := num(src[i : i+3])
	group := num(src[i+4 : i+6])
	serial := num(src[i+7 : i+11])
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return 0, false
	}
	return e, true
}

func num(b []byte) int {
	v := 0
	for _, c := range b {
		v = v*10 + int(c-'0')
	}
	return v
}

// phoneEnd reports whether a phone number may end before src[e]: not inside a longer
// number (a digit, or "-5"/".5" going on); letters may follow ("555-123-4567x12", an
// extension, or a phone glued to a name).
func phoneEnd(src []byte, e int) bool {
	if e >= len(src) {
		return true
	}
	c := src[e]
	if isDigit(c) {
		return false
	}
	return !((c == '-' || c == '.') && e+1 < len(src) && isDigit(src[e+1]))
}

// phoneStart reports whether a phone number may start at src[i]: not inside a longer
// dashed or dotted number, or a dashed word.
func phoneStart(src []byte, i int) bool {
	if i < 2 {
		return true
	}
	switch src[i-1] {
	case '-':
		return !isAlnum(src[i-2])
	case '.':
		return !isDigit(src[i-2])
	}
	return true
}

// phone finds a national phone number at src[i], a digit run of r digits followed by
// next: North American 555-123-4567, 555.123.4567, 555 123 4567 and with a leading
// 1 ("1-800-555-0199", "1 (555) 123-4567"); numbers with a trunk 0 in groups
// ("020 7946 0958", "01 23 45 67 89", "030/12345678"); and 00-prefixed international
// ones ("0044 20 7946 0958").
func phone(src []byte, i, r int, next byte) (int, bool) {
	if !phoneStart(src, i) {
		return 0, false
	}
	if r == 3 && (next == '-' || next == '.' || next == ' ') {
		if e, ok := nanp(src, i); ok {
			return e, true
		}
	}
	if r == 1 && src[i] == '1' && (next == '-' || next == '.' || next == ' ') {
		p := i + 2
		if p < len(src) && src[p] == '(' {
			return parenPhone(src, p+1, digitRun(src, p+1)-p-1)
		}
		return nanp(src, p)
	}
	// A trunk 0 or an 00 prefix is a weak shape (hex hashes and UUIDs hold "0026…",
	// "0934-7992-2"): those numbers stay word-bounded.
	if src[i] == '0' && r >= 2 && leftOK(src, i) {
		e, ok := 0, false
		if src[i+1] == '0' {
			if i+2 < len(src) && isDigit(src[i+2]) && src[i+2] != '0' {
				e, ok = intlPhone(src, i+2)
			}
		} else {
			e, ok = trunkPhone(src, i, r)
		}
		return e, ok && rightOK(src, e) && !inUUID(src, i, e)
	}
	return 0, false
}

// nanp finds NPA-NXX-XXXX at src[i] (separators '-', '.' or ' ', the same twice).
func nanp(src []byte, i int) (int, bool) {
	if !exact(src, i, 3) || i+3 >= len(src) {
		return 0, false
	}
	s := src[i+3]
	if s != '-' && s != '.' && s != ' ' {
		return 0, false
	}
	if !exact(src, i+4, 3) || i+7 >= len(src) || src[i+7] != s || !exact(src, i+8, 4) {
		return 0, false
	}
	e := i + 12
	return e, phoneEnd(src, e)
}

// parenPhone finds a number whose first group, r digits at src[i], is in parentheses:
// "(555) 123-4567", "(555)123-4567", "(020) 7946 0958".
func parenPhone(src []byte, i, r int) (int, bool) {
	n := len(src)
	p := i + r
	if p >= n || src[p] != ')' {
		return 0, false
	}
	p++
	if p < n && (src[p] == ' ' || src[p] == '-') {
		p++
	}
	switch {
	case r == 3 && src[i] != '0':
		if !exact(src, p, 3) || p+3 >= n {
			return 0, false
		}
		s := src[p+3]
		if (s != '-' && s != '.' && s != ' ') || !exact(src, p+4, 4) {
			return 0, false
		}
		return p + 8, phoneEnd(src, p+8)
	case src[i] == '0' && r >= 2 && r <= 5:
		if p >= n || !isDigit(src[p]) {
			return 0, false
		}
		e, total := groups(src, p, r, 12)
		return e, total >= 9 && phoneEnd(src, e)
	}
	return 0, false
}

// trunkPhone finds a national number with a trunk 0 at src[i]: at least two groups, the
// first of r ≥ 2 digits, separated by spaces, dashes or slashes (the first separator may
// differ from the others: "030/1234 5678"), 9 to 12 digits in all. Dates ("01-02-2024",
// 8 digits) and single runs (ids) are not phones.
func trunkPhone(src []byte, i, r int) (int, bool) {
	n := len(src)
	p := i + r
	if r > 5 || p+1 >= n || (src[p] != ' ' && src[p] != '-' && src[p] != '/') || !isDigit(src[p+1]) {
		return 0, false
	}
	e, total := groups(src, p+1, r, 12)
	if r == 3 && e == i+11 && src[p] == '-' && src[i+6] == '-' {
		return 0, false // AAA-GG-SSSS is an SSN's shape
	}
	return e, total >= 9 && phoneEnd(src, e)
}

// groups reads digit groups from src[p] (a digit) separated by single spaces, dashes or
// slashes, the same one each time, as long as the digits, with the have already read,
// stay within max. It returns the end of the last group taken and the digit count.
func groups(src []byte, p, have, max int) (int, int) {
	n := len(src)
	var sep byte
	e := p
	for {
		q := digitRun(src, p)
		if have+q-p > max {
			return e, have
		}
		have += q - p
		e = q
		if q+1 >= n || !isDigit(src[q+1]) {
			return e, have
		}
		c := src[q]
		if (c != ' ' && c != '-' && c != '/') || (sep != 0 && c != sep) {
			return e, have
		}
		sep = c
		p = q + 1
	}
}

// intlPhone finds an international number whose country code starts at src[i], after a
// '+' or "00": groups of digits separated by single spaces, dashes or dots, or in
// parentheses ("+1 (555) 123-4567", "+44 (0)20 7946 0958"), 8 to 15 digits (E.164).
// The number ends at the last group that keeps it within 15 digits.
func intlPhone(src []byte, i int) (int, bool) {
	n := len(src)
	if src[i] == '0' {
		return 0, false
	}
	pos, total, e := i, 0, -1
	for {
		if pos < n && src[pos] == '(' {
			q := digitRun(src, pos+1)
			g := q - pos - 1
			if g == 0 || q >= n || src[q] != ')' || total+g > 15 {
				break
			}
			total += g
			pos = q + 1
			if pos < n && (src[pos] == ' ' || src[pos] == '-') {
				pos++
			}
			if pos < n && isDigit(src[pos]) {
				continue
			}
			break
		}
		q := digitRun(src, pos)
		g := q - pos
		if g == 0 || total+g > 15 {
			break
		}
		total += g
		pos, e = q, q
		if pos+1 >= n {
			break
		}
		c := src[pos]
		if c == ' ' || c == '-' || c == '.' {
			if isDigit(src[pos+1]) || src[pos+1] == '(' {
				pos++
				continue
			}
			break
		}
		if c != '(' {
			break
		}
	}
	if e < 0 || total < 8 || (e < n && isDigit(src[e])) {
		return 0, false
	}
	return e, true
}

// ipv4 finds a dotted-quad IPv4 address at src[i], each part 0–255, that is not part of
// a longer dotted number ("1.2.3.4.5", a version).
func ipv4(src []byte, i int) (int, bool) {
	n := len(src)
	if i >= 2 && src[i-1] == '.' && isDigit(src[i-2]) {
		return 0, false
	}
	// Glued to letters it is still an address ("x10.1.2.3"), but for the word
	// "v1.2.3.4": a version.
	if i >= 1 && src[i-1]|0x20 == 'v' && (i == 1 || !isLetter(src[i-2])) {
		return 0, false
	}
	pos := i
	for k := 0; k < 4; k++ {
		q := digitRun(src, pos)
		if q == pos || q-pos > 3 || num(src[pos:q]) > 255 {
			return 0, false
		}
		pos = q
		if k < 3 {
			if pos+1 >= n || src[pos] != '.' {
				return 0, false
			}
			pos++
		}
	}
	// Letters may follow ("10.1.2.3abc"); a digit cannot (the part would be longer).
	if pos < n && src[pos] == '.' && pos+1 < n && isDigit(src[pos+1]) {
		return 0, false
	}
	return pos, true
}

// ibanLength is the length of an IBAN by country (index (c0-'A')*26 + c1-'A'), from
// the SWIFT IBAN registry; 0 for a country without IBANs.
var ibanLength = func() (t [26 * 26]uint8) {
	for _, e := range strings.Fields(`AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21
		CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27
		GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21
		LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22
		SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20`) {
		t[int(e[0]-'A')*26+int(e[1]-'A')] = uint8((e[2]-'0')*10 + e[3] - '0')
	}
	return t
}()

// ibanCountry reports whether a, b is the code of a country with IBANs.
func ibanCountry(a, b byte) bool {
	a, b = upper(a), upper(b)
	return a >= 'A' && a <= 'Z' && b >= 'A' && b <= 'Z' && ibanLength[int(a-'A')*26+int(b-'A')] != 0
}

// iban finds an IBAN at src[p]: a country code, two check digits and the BBAN, as long
// as the country's IBANs, in one word or in groups of 4 separated by single spaces
// ("DE89 3704 0044 0532 0130 00"), whose mod-97 check is 1. Letters may be lowercase.
func iban(src []byte, p int) (int, bool) {
	n := len(src)
	a, b := upper(src[p]), upper(src[p+1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return 0, false
	}
	l := int(ibanLength[int(a-'A')*26+int(b-'A')])
	if l == 0 || p+3 >= n || !isDigit(src[p+2]) || !isDigit(src[p+3]) {
		return 0, false
	}
	var buf [34]byte
	k, pos := 0, p
	for pos < n && k < l {
		c := src[pos]
		if isAlnum(c) {
			buf[k] = upper(c)
			k++
			pos++
			continue
		}
		if c == ' ' && k%4 == 0 && pos+1 < n && isAlnum(src[pos+1]) {
			pos++
			continue
		}
		break
	}
	if k != l {
		return 0, false
	}
	// Glued to letters or digits: the country's length delimits the IBAN. Then its
	// letters must be upper-case (lower-case hex hashes hold "de12…" by chance), and
	// it must not be inside a hex hash.
	if (p > 0 && isAlnum(src[p-1])) || (pos < n && isAlnum(src[pos])) {
		for _, c := range src[p:pos] {
			if class[c]&cLower != 0 {
				return 0, false
			}
		}
		if lookAlikeWord(src, p, pos) {
			return 0, false
		}
	}
	rem := 0
	for q := 4; q < l+4; q++ {
		c := buf[q%l]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return pos, rem == 1
}
