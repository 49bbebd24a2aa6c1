package mask

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
)

// email finds an e-mail address around the '@' at src[a]: a local part of up to 64
// bytes (RFC 5321 characters and UTF-8; leading punctuation such as a quote or a brace
// is left out) and a domain of at least two labels whose last, the TLD, is two or more
// ASCII letters or an xn-- label. Words with an '@' that are not addresses are left:
// "@mention", "user@localhost", "a@b", "icon@2x.png" (a TLD that is a file extension).
func email(src []byte, a, lo int) (span, bool) {
	n := len(src)
	s := a
	for s > lo && a-s < 64 {
		if s >= 6 && uEscape(src, s-6) {
			s -= 6 // "m\u00fcller@…", JSON with non-ASCII escaped
			continue
		}
		if class[src[s-1]]&cLocal == 0 {
			break
		}
		s--
	}
	s = afterEscape(src, s)
	for s < a && !isAlnum(src[s]) && src[s] != '_' && src[s] < 0x80 && !uEscape(src, s) {
		s++ // leading punctuation: a quote, a brace
	}
	for s < a && src[s]&0xC0 == 0x80 { // not in the middle of a UTF-8 sequence
		s++
	}
	if s >= a {
		return span{}, false
	}
	pos, labels, ls, le := a+1, 0, 0, 0
	for {
		st := pos
		for pos < n {
			if class[src[pos]]&cDomain != 0 {
				pos++
			} else if uEscape(src, pos) {
				pos += 6
			} else {
				break
			}
		}
		if pos == st {
			break
		}
		labels++
		ls, le = st, pos
		if pos+1 < n && src[pos] == '.' && (class[src[pos+1]]&cDomain != 0 || uEscape(src, pos+1)) {
			pos++
			continue
		}
		break
	}
	if labels < 2 {
		return span{}, false
	}
	tld := src[ls:le]
	k := 0
	for k < len(tld) && isLetter(tld[k]) {
		k++
	}
	switch {
	case k == len(tld):
	case k >= 2 && (tld[k] >= 0x80 || isDigit(tld[k])):
		// "example.com谢谢", "example.com123-45-6789": the TLD ends where its letters do.
		tld, le = tld[:k], ls+k
	case k == 0 && (tld[0] >= 0x80 || tld[0] == '\\'): // an IDN TLD, "рф", maybe escaped
		for q := 0; q < len(tld); q++ {
			if tld[q] == '\\' {
				q += 5
			} else if tld[q] < 0x80 {
				return span{}, false
			}
		}
	case len(tld) > 4 && (tld[0]|0x20) == 'x' && (tld[1]|0x20) == 'n' && tld[2] == '-' && tld[3] == '-':
	default:
		return span{}, false
	}
	if len(tld) < 2 || fileExtension(tld) {
		return span{}, false
	}
	return span{s, le, Email}, true
}

// uEscape reports whether a JSON escape of a non-ASCII character, \uXXXX with XXXX ≥
// 0080, starts at src[p]: part of a word, not a separator like \n or \u0020.
func uEscape(src []byte, p int) bool {
	if p+6 > len(src) || src[p] != '\\' || src[p+1] != 'u' || !hex4(src[p+2:]) || !startsEscape(src, p) {
		return false
	}
	return src[p+2] != '0' || src[p+3] != '0' || src[p+4] >= '8'
}

// fileExtension reports whether tld is a file extension that is no TLD.
func fileExtension(tld []byte) bool {
	if len(tld) > 4 {
		return false
	}
	var b [4]byte
	for k, c := range tld {
		b[k] = c | 0x20
	}
	switch string(b[:len(tld)]) {
	case "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "pdf",
		"txt", "csv", "js", "css", "htm", "html", "xml", "json", "heic":
		return true
	}
	return false
}

// ipv6 finds an IPv6 address around the ':' at src[c]: the hex digits, colons and dots
// around it, word-bounded, that parse as an IPv6 address (an embedded IPv4 allowed, a
// zone left out). A group glued to a word is dropped ("addr:2001:db8::1"); "::", a
// prefix ending in "::" ("1::" in "1::date", a cast) and times ("14:22:01") are not
// addresses.
func ipv6(src []byte, c, lo int) (span, bool) {
	n := len(src)
	s := c
	for s > lo && c-s < 46 && class[src[s-1]]&cV6 != 0 {
		s--
	}
	s = afterEscape(src, s) // "\bfe80::1": the b is the escape's
	e := c + 1
	for e < n && e-s < 47 && class[src[e]]&cV6 != 0 {
		e++
	}
	if e-s > 45 {
		return span{}, false
	}
	for e > s && src[e-1] == '.' {
		e--
	}
	if e-s >= 2 && src[e-1] == ':' && src[e-2] != ':' {
		e--
	}
	// A word glued after the last group ("1::date", a cast): drop the group, unless
	// the groups before it are an address's ("2001:db8::1x"): a single ':' between
	// two of them.
	if e < n && (isAlnum(src[e]) || src[e] == '_') && !singleColon(src[s:e]) {
		x := bytes.LastIndexByte(src[s:e], ':')
		if x < 0 {
			return span{}, false
		}
		e = s + x
		if e > s && src[e-1] == ':' {
			e++
		}
	}
	for tries := 0; tries < 20 && e-s >= 3; tries++ {
		cand := src[s:e]
		if cand[0] == ':' && cand[1] != ':' {
			s++ // a lone ':' before the first group
			continue
		}
		// Letters that are not hex digits end a group: "x2001:db8::1" is an address
		// glued to a word. A group glued to '_' is a name's ("a_fe80::1").
		glued := s > 0 && src[s-1] == '_'
		if !glued && maybeIPv6(cand) && parseIPv6(cand) {
			return span{s, e, IPAddress}, true
		}
		x := bytes.IndexByte(cand, ':')
		if x <= 0 {
			break
		}
		s += x // drop the first group
	}
	return span{}, false
}

// singleColon reports whether b holds a ':' with a byte other than ':' on each side.
func singleColon(b []byte) bool {
	for k := 1; k+1 < len(b); k++ {
		if b[k] == ':' && b[k-1] != ':' && b[k+1] != ':' {
			return true
		}
	}
	return false
}

// maybeIPv6 is the cheap test before parseIPv6: two colons or more, "::" or all eight
// groups, a hex digit, and no "::" at the end.
func maybeIPv6(b []byte) bool {
	colons, dots, hex, double := 0, 0, 0, false
	for k, c := range b {
		switch {
		case c == ':':
			colons++
			if k > 0 && b[k-1] == ':' {
				double = true
			}
		case c == '.':
			dots++
		default:
			hex++
		}
	}
	// A trailing "::" after one group is a word's ("std::"; "fe80::" alone is rare in prose);
	// after two groups or more it is an address or a network's ("2001:db8::/32").
	if colons < 2 || hex == 0 || (b[len(b)-1] == ':' && b[len(b)-2] == ':' && colons < 3) {
		return false
	}
	return double || colons == 7 || (colons == 6 && dots == 3)
}

// parseIPv6 reports whether b is an IPv6 address as net/netip parses it, without a
// zone; it does not allocate.
func parseIPv6(b []byte) bool {
	groups, ellipsis, i := 0, false, 0
	if len(b) >= 2 && b[0] == ':' && b[1] == ':' {
		ellipsis, i = true, 2
		if i == len(b) {
			return true
		}
	}
	for i < len(b) {
		j := i
		for j < len(b) && j-i < 4 && class[b[j]]&cHex != 0 {
			j++
		}
		if j == i {
			return false
		}
		if j < len(b) && b[j] == '.' { // the last 32 bits as a dotted quad
			if groups > 6 || !dottedQuad(b[i:]) {
				return false
			}
			groups += 2
			break
		}
		if j < len(b) && class[b[j]]&cHex != 0 {
			return false // five hex digits
		}
		groups++
		i = j
		if i == len(b) {
			break
		}
		if b[i] != ':' {
			return false
		}
		i++
		if i < len(b) && b[i] == ':' {
			if ellipsis {
				return false
			}
			ellipsis = true
			i++
		} else if i == len(b) {
			return false
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

// dottedQuad reports whether b is exactly an IPv4 address as net/netip parses one:
// four decimal parts 0–255 without leading zeros.
func dottedQuad(b []byte) bool {
	parts, i := 0, 0
	for parts < 4 {
		j := digitRun(b, i)
		if j == i || j-i > 3 || (j-i > 1 && b[i] == '0') || num(b[i:j]) > 255 {
			return false
		}
		parts++
		i = j
		if parts < 4 {
			if i >= len(b) || b[i] != '.' {
				return false
			}
			i++
		}
	}
	return i == len(b)
}

// awsKey finds an AWS access key id around the 'I' at src[k]: AKIA (long-term) or ASIA
// (temporary) and 16 more upper-case letters or digits, word-bounded. AWS's ids are
// base32 ([A-Z2-7]); the superset costs nothing and misses none.
func awsKey(src []byte, k, lo int) (span, bool) {
	p := k - 2
	if p < lo || p < 0 || k+18 > len(src) || src[p] != 'A' || (src[k-1] != 'K' && src[k-1] != 'S') ||
		src[k+1] != 'A' {
		return span{}, false
	}
	digit := false
	for _, c := range src[k+2 : k+18] {
		if class[c]&(cUpper|cDigit) == 0 {
			return span{}, false
		}
		digit = digit || isDigit(c)
	}
	e := k + 18
	// A key is 20 characters: glued to other text on either side it is still taken,
	// when it holds a digit (real ids nearly always do); 20 upper-case letters glued
	// to more are a word ("ASIAPACIFICREGIONSALES").
	if !digit && (!leftOK(src, p) || !rightOK(src, e)) {
		return span{}, false
	}
	return span{p, e, AWSAccessKey}, true
}

// githubToken finds a GitHub token around the '_' at src[u]: ghp_, gho_, ghu_, ghs_ or
// ghr_ and 36 letters and digits, the last 6 of which are the CRC32 of the first 30 in
// base62 (0-9A-Za-z), GitHub's checksum, so random words are not taken; or a
// fine-grained github_pat_ token, recognised by its prefix alone and masked to the end
// of the word (it is 82 characters long today: 22, '_', 59).
func githubToken(src []byte, u, lo int) (span, bool) {
	n := len(src)
	if u >= 3 && u-3 >= lo && src[u-3] == 'g' && src[u-2] == 'h' {
		switch src[u-1] {
		case 'p', 'o', 'u', 's', 'r':
		default:
			return span{}, false
		}
		e := u + 37 // the checksum delimits the token: what is glued after is not its
		if e > n {
			return span{}, false
		}
		tok := src[u+1 : e]
		for _, c := range tok {
			if !isAlnum(c) {
				return span{}, false
			}
		}
		var sum uint64
		for _, c := range tok[30:] {
			sum = sum*62 + uint64(base62(c))
		}
		if sum != uint64(crc32.ChecksumIEEE(tok[:30])) {
			return span{}, false
		}
		return span{u - 3, e, GitHubToken}, true
	}
	if u >= 6 && u-6 >= lo && string(src[u-6:u]) == "github" && bytes.HasPrefix(src[u+1:], []byte("pat_")) {
		e := u + 5
		for e < n && (isAlnum(src[e]) || src[e] == '_') {
			e++
		}
		if e-u-5 >= 30 {
			return span{u - 6, e, GitHubToken}, true
		}
	}
	return span{}, false
}

func base62(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'Z':
		return c - 'A' + 10
	}
	return c - 'a' + 36
}

// jwt finds a JSON web token around the 'J' of the "eyJ" at src[j] ('{"' in base64url),
// glued to at most maxJWTGlue base64url characters before it: three to five base64url
// segments separated by dots (JWS, JWE; the last may be empty, an unsigned token),
// whose first decodes to a JSON object with an "alg" member.
func jwt(src []byte, j, lo int) (span, bool) {
	p := j - 2
	if p < lo || p < 0 || src[p] != 'e' || src[p+1] != 'y' {
		return span{}, false
	}
	// Glued to base64url text before it ('x' || token) it is still a token; deep inside
	// a base64 blob it is not, and looking there for each "eyJ" would read the blob
	// again and again.
	n := len(src)
	if p > 0 && class[src[p-1]]&cB64 != 0 && !endsEscape(src, p) {
		w := p - 1
		for w > 0 && p-w < maxJWTGlue && class[src[w-1]]&cB64 != 0 {
			w--
		}
		if w > 0 && class[src[w-1]]&cB64 != 0 {
			return span{}, false
		}
		// And its header ends within 1 KiB, so that the few "eyJ" near the start of
		// a blob cost little.
		n = min(n, j+1024)
	}
	h := b64End(src[:n], j)
	if h == n && n < len(src) {
		return span{}, false
	}
	n = len(src)
	e, segs := h, 1
	for segs < 5 && e < n && src[e] == '.' {
		start := e + 1
		q := b64End(src, start)
		if q == start && segs == 1 {
			return span{}, false // an empty payload
		}
		e, segs = q, segs+1
		if q == start {
			break // an empty signature ends the token
		}
	}
	if segs < 3 || !jwtHeader(src[p:h]) {
		return span{}, false
	}
	for e < n && src[e] == '=' {
		e++
	}
	return span{p, e, JWT}, true
}

// maxJWTGlue is how much base64url text may be glued before a token's "eyJ".
const maxJWTGlue = 16

func b64End(src []byte, p int) int {
	for p < len(src) && class[src[p]]&cB64 != 0 {
		p++
	}
	return p
}

// jwtHeader reports whether seg, base64url, decodes to a JSON object with "alg". A
// header longer than 8 KiB (a certificate chain in x5c) is taken as one unread: failing
// closed.
func jwtHeader(seg []byte) bool {
	if len(seg) > 8192 {
		return true
	}
	var stack [512]byte
	buf := stack[:]
	if l := base64.RawURLEncoding.DecodedLen(len(seg)); l > len(buf) {
		buf = make([]byte, l)
	}
	k, err := base64.RawURLEncoding.Decode(buf, seg)
	if err != nil {
		return false
	}
	hdr := bytes.TrimSpace(buf[:k])
	return len(hdr) > 0 && hdr[0] == '{' && bytes.Contains(hdr, []byte(`"alg"`)) && json.Valid(hdr)
}

// privateKey finds a PEM private key block around the 'K' of "PRIVATE KEY" at src[k]:
// from "-----BEGIN [TYPE ]PRIVATE KEY[ BLOCK]-----" (RSA, EC, DSA, OPENSSH, ENCRYPTED,
// PGP, none) to the end of its "-----END …-----" line. A block cut before its END
// line (a truncated value) is masked to the end of the value, of its JSON string (an
// unescaped '"') or of its COPY field (a tab): failing closed.
func privateKey(src []byte, k, lo int) (span, bool) {
	n := len(src)
	if k < 8 || k+3 > n || src[k+1] != 'E' || src[k+2] != 'Y' || string(src[k-8:k]) != "PRIVATE " {
		return span{}, false
	}
	from := max(lo, k-8-48)
	if from > k-8 { // the value before ends inside "PRIVATE "
		return span{}, false
	}
	b := bytes.LastIndex(src[from:k-8], beginMark)
	if b < 0 {
		return span{}, false
	}
	b += from
	for _, c := range src[b+len(beginMark) : k-8] {
		if class[c]&(cUpper|cDigit) == 0 && c != ' ' {
			return span{}, false
		}
	}
	h := k + 3
	if bytes.HasPrefix(src[h:], []byte(" BLOCK")) {
		h += 6
	}
	if !bytes.HasPrefix(src[h:], dashes) {
		return span{}, false
	}
	h += len(dashes)
	stop := h
	for stop < n && src[stop] != '\t' && (src[stop] != '"' || (src[stop-1] == '\\' && startsEscape(src, stop-1))) {
		stop++
	}
	if x := bytes.Index(src[h:stop], endMark); x >= 0 {
		q := h + x + len(endMark)
		if y := bytes.Index(src[q:stop], dashes); y >= 0 && y <= 64 {
			return span{b, q + y + len(dashes), PrivateKey}, true
		}
	}
	return span{b, stop, PrivateKey}, true
}

var (
	beginMark = []byte("-----BEGIN ")
	endMark   = []byte("-----END ")
	dashes    = []byte("-----")
)
