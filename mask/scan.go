package mask

// The scan is two levels. A Masker's trigger table marks the few bytes that can start
// or anchor a value of its detectors: digits (cards, phones, SSNs, IBANs, IPv4), '@'
// (e-mail), ':' (IPv6), 'I' (AKIA/ASIA), '_' (ghp_, github_pat_), 'J' (eyJ, a JWT) and
// 'K' (PRIVATE KEY). find skips every other byte eight at a time; on a trigger, the
// family's validator looks around it and either returns a span or says how far to
// skip. Validators never allocate on clean data and skip only bytes that cannot start a
// value of any detector, so a rejected candidate does not hide another one.

// span is a found value: src[start:end] is replaced.
type span struct {
	start, end int
	det        Detector
}

// trigger families, the values of Masker.trig.
const (
	trigDigit = 1 + iota
	trigAt
	trigColon
	trigUnderscore
	trigI
	trigJ
	trigK
)

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
}

// find returns the first value found in src at or after i; no span starts before lo
// (the end of the previous one).
func (m *Masker) find(src []byte, i, lo int) (span, bool) {
	n := len(src)
	t := &m.trig
	for {
		for i+8 <= n {
			p := (*[8]byte)(src[i : i+8])
			if t[p[0]]|t[p[1]]|t[p[2]]|t[p[3]]|t[p[4]]|t[p[5]]|t[p[6]]|t[p[7]] != 0 {
				break
			}
			i += 8
		}
		for i < n && t[src[i]] == 0 {
			i++
		}
		if i >= n {
			return span{}, false
		}
		var (
			sp   span
			ok   bool
			next = i + 1
		)
		switch t[src[i]] {
		case trigDigit:
			sp, ok, next = m.digits(src, i, lo)
		case trigAt:
			sp, ok = email(src, i, lo)
		case trigColon:
			sp, ok = ipv6(src, i, lo)
		case trigUnderscore:
			sp, ok = githubToken(src, i, lo)
		case trigI:
			sp, ok = awsKey(src, i, lo)
		case trigJ:
			sp, ok = jwt(src, i, lo)
		case trigK:
			sp, ok = privateKey(src, i, lo)
		}
		if ok {
			if sp.start < lo {
				sp.start = lo
			}
			return sp, true
		}
		if next <= i {
			next = i + 1
		}
		i = next
	}
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
