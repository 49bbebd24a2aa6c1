package pgvalue

import (
	"fmt"
	"strings"
)

// isSpace is array_isspace, and what isspace() means in the C locale.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func skipSpace(v []byte, p int) int {
	for p < len(v) && isSpace(v[p]) {
		p++
	}
	return p
}

func isNullWord(b []byte) bool {
	return len(b) == 4 && (b[0]|0x20) == 'n' && (b[1]|0x20) == 'u' && (b[2]|0x20) == 'l' && (b[3]|0x20) == 'l'
}

// textArray walks an array in text format: an optional "[1:2][0:1]=" dimension
// decoration, then nested braces of elements separated by the delimiter. An element
// is unquoted (surrounding whitespace dropped, NULL is the null value) or quoted, with
// backslash escapes in both.
func (r *Rewriter) textArray(t Type, v []byte) ([]byte, bool, error) {
	delim := t.Delim
	if delim == 0 {
		delim = ','
	}
	et, err := r.resolve(t.Elem)
	if err != nil {
		return nil, false, err
	}
	p := skipSpace(v, 0)
	if p < len(v) && v[p] == '[' {
		for p < len(v) && v[p] != '=' {
			c := v[p]
			if !(c >= '0' && c <= '9' || c == '[' || c == ']' || c == ':' || c == '-' || c == '+' || isSpace(c)) {
				return nil, false, malformed("array dimensions")
			}
			p++
		}
		p = skipSpace(v, p+1)
	}
	if p >= len(v) || v[p] != '{' {
		return nil, false, malformed("array without {")
	}
	s := splice{r: r, v: v}
	level, index := 0, 0
	for {
		// At the start of an item: a sub-array or an element.
		p = skipSpace(v, p)
		if p >= len(v) {
			return nil, false, malformed("array ends early")
		}
		if v[p] == '{' {
			if level++; level > maxDims {
				return nil, false, malformed("array of more than %d dimensions", maxDims)
			}
			p = skipSpace(v, p+1)
			if p < len(v) && v[p] != '}' {
				continue
			}
		} else {
			var err error
			if p, err = r.textElement(&s, et, delim, v, p, index); err != nil {
				return nil, false, err
			}
			index++
		}
		// After an item: the delimiter, or closing braces.
		for {
			p = skipSpace(v, p)
			if p >= len(v) {
				return nil, false, malformed("array ends early")
			}
			if v[p] == delim && level > 0 {
				p++
				break
			}
			if v[p] != '}' || level == 0 {
				return nil, false, malformed("array: %q where %q or } belongs", v[p], delim)
			}
			p++
			if level--; level == 0 {
				if skipSpace(v, p) != len(v) {
					return nil, false, malformed("array with text after it")
				}
				out, changed := s.result()
				return out, changed, nil
			}
		}
	}
}

// textElement reads the element at v[p:], rewrites it, and returns where it ends.
func (r *Rewriter) textElement(s *splice, et Type, delim byte, v []byte, p, index int) (int, error) {
	start := p
	inQuote, quoted, escaped := false, false, false
	end := p // after the last byte that is not unquoted, unescaped whitespace
	for p < len(v) {
		c := v[p]
		switch {
		case c == '\\':
			if p+1 >= len(v) {
				return 0, malformed("array ends in a backslash")
			}
			escaped = true
			p += 2
			end = p
			continue
		case c == '"':
			inQuote, quoted = !inQuote, true
		case !inQuote && (c == delim || c == '}'):
			goto done
		case !inQuote && c == '{':
			return 0, malformed("array: { inside an element")
		case !inQuote && isSpace(c):
			p++
			continue
		}
		p++
		end = p
	}
done:
	if inQuote || p >= len(v) {
		return 0, malformed("array ends inside an element")
	}
	raw := v[start:end]
	if len(raw) == 0 {
		return 0, malformed("array with an empty element")
	}
	if !quoted && !escaped && isNullWord(raw) {
		return p, nil
	}
	mark := len(r.scratch)
	var text []byte
	switch {
	case !quoted && !escaped:
		text = raw
	case !escaped && raw[0] == '"' && raw[len(raw)-1] == '"' && len(raw) >= 2 && indexByte(raw[1:len(raw)-1], '"') < 0:
		text = raw[1 : len(raw)-1]
	default:
		// The text stays reserved in scratch while the element is walked.
		r.scratch = appendDequoted(r.scratch, raw, false)
		text = r.scratch[mark:]
	}
	res, null, changed, err := r.childTyped(Step{Field: index, Elem: true}, et, false, text)
	r.scratch = r.scratch[:mark]
	if err != nil {
		return 0, err
	}
	if changed {
		s.cut(start, end)
		if null {
			s.out = append(s.out, "NULL"...)
		} else {
			s.out = appendArrayQuoted(s.out, res, delim)
		}
	}
	return p, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// appendDequoted writes raw without its quotes and escapes. doubled reads "" inside
// quotes as one quote (records and ranges); arrays drop unquoted leading and trailing
// whitespace, which raw no longer has.
func appendDequoted(dst, raw []byte, doubled bool) []byte {
	inQuote := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			dst = append(dst, raw[i])
		case c == '"' && inQuote && doubled && i+1 < len(raw) && raw[i+1] == '"':
			i++
			dst = append(dst, '"')
		case c == '"':
			inQuote = !inQuote
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// appendArrayQuoted writes an element as array_out does: quoted when empty, NULL in
// any case, or holding a brace, the delimiter, a quote, a backslash or whitespace.
func appendArrayQuoted(dst, b []byte, delim byte) []byte {
	need := len(b) == 0 || isNullWord(b)
	for _, c := range b {
		if c == '"' || c == '\\' || c == '{' || c == '}' || c == delim || isSpace(c) {
			need = true
			break
		}
	}
	if !need {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for _, c := range b {
		if c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// appendFieldQuoted writes a record field (or, with brackets, a range bound) as
// record_out does: quoted when empty or holding a quote, a backslash, a parenthesis,
// a comma or whitespace; quotes and backslashes doubled.
func appendFieldQuoted(dst, b []byte, brackets bool) []byte {
	need := len(b) == 0
	for _, c := range b {
		if c == '"' || c == '\\' || c == '(' || c == ')' || c == ',' || isSpace(c) || brackets && (c == '[' || c == ']') {
			need = true
			break
		}
	}
	if !need {
		return append(dst, b...)
	}
	dst = append(dst, '"')
	for _, c := range b {
		if c == '"' || c == '\\' {
			dst = append(dst, c)
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// field reads one record field or range bound at v[p:], up to an unquoted byte of
// stops, as record_in and range_parse_bound do: nothing at all is NULL (unbounded),
// quotes group and "" inside them is a quote, a backslash escapes the next byte.
func field(v []byte, p int, stops string) (end int, raw []byte, empty, plain bool, err error) {
	start := p
	inQuote, plain := false, true
	for {
		if p >= len(v) {
			return 0, nil, false, false, malformed("value ends inside a field")
		}
		c := v[p]
		if !inQuote && strings.IndexByte(stops, c) >= 0 {
			break
		}
		switch c {
		case '\\':
			if p+1 >= len(v) {
				return 0, nil, false, false, malformed("value ends in a backslash")
			}
			plain = false
			p++
		case '"':
			plain = false
			if inQuote && p+1 < len(v) && v[p+1] == '"' {
				p++
			} else {
				inQuote = !inQuote
			}
		}
		p++
	}
	return p, v[start:p], p == start, plain, nil
}

// fieldText returns a field's text: raw itself when plain, else dequoted into
// scratch, where it stays until the caller truncates scratch.
func (r *Rewriter) fieldText(raw []byte, plain bool) []byte {
	if plain {
		return raw
	}
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		inner := raw[1 : len(raw)-1]
		if indexByte(inner, '"') < 0 && indexByte(inner, '\\') < 0 {
			return inner
		}
	}
	mark := len(r.scratch)
	r.scratch = appendDequoted(r.scratch, raw, true)
	return r.scratch[mark:]
}

// textRecord walks a record in text format: "(f1,f2,…)"; an empty field is NULL, a
// quoted "" the empty string. A named composite's fields have the types of t.Fields;
// record's fields are read as text.
func (r *Rewriter) textRecord(t Type, v []byte) ([]byte, bool, error) {
	p := skipSpace(v, 0)
	if p >= len(v) || v[p] != '(' {
		return nil, false, malformed("record without (")
	}
	p++
	s := splice{r: r, v: v}
	if t.Fields != nil && len(t.Fields) == 0 { // a composite of no columns: "()"
		if p >= len(v) || v[p] != ')' || skipSpace(v, p+1) != len(v) {
			return nil, false, malformed("record of no fields")
		}
		return v, false, nil
	}
	for i := 0; ; i++ {
		end, raw, empty, plain, err := field(v, p, ",)")
		if err != nil {
			return nil, false, err
		}
		if t.Fields != nil && i >= len(t.Fields) {
			return nil, false, malformed("record of type %d with more than %d fields", t.OID, len(t.Fields))
		}
		if !empty {
			mark := len(r.scratch)
			text := r.fieldText(raw, plain)
			var res []byte
			var null, changed bool
			if t.Fields != nil {
				res, null, changed, err = r.child(Step{Field: i}, t.Fields[i], false, text)
			} else {
				res, null, changed, err = r.childTyped(Step{Field: i}, Type{Kind: Text}, false, text)
			}
			r.scratch = r.scratch[:mark]
			if err != nil {
				return nil, false, err
			}
			if changed {
				s.cut(p, end)
				if !null {
					s.out = appendFieldQuoted(s.out, res, false)
				}
			}
		}
		p = end + 1
		if v[end] == ')' {
			if t.Fields != nil && i+1 != len(t.Fields) {
				return nil, false, malformed("record of type %d with %d fields, not %d", t.OID, i+1, len(t.Fields))
			}
			break
		}
	}
	if skipSpace(v, p) != len(v) {
		return nil, false, malformed("record with text after it")
	}
	out, changed := s.result()
	return out, changed, nil
}

// textRange walks a range in text format: "empty", or "[" or "(", the lower bound, a
// comma, the upper bound, "]" or ")"; an absent bound is unbounded.
func (r *Rewriter) textRange(t Type, v []byte) ([]byte, bool, error) {
	p := skipSpace(v, 0)
	if q := p + 5; q <= len(v) && equalFoldASCII(v[p:q], "empty") {
		if skipSpace(v, q) != len(v) {
			return nil, false, malformed("range with text after empty")
		}
		return v, false, nil
	}
	if p >= len(v) || (v[p] != '[' && v[p] != '(') {
		return nil, false, malformed("range without [ or (")
	}
	p++
	s := splice{r: r, v: v}
	for b, stops := range [2]string{",", "])"} {
		end, raw, empty, plain, err := field(v, p, stops)
		if err != nil {
			return nil, false, err
		}
		if !empty {
			mark := len(r.scratch)
			res, null, changed, err := r.child(Step{Field: b}, t.Elem, false, r.fieldText(raw, plain))
			r.scratch = r.scratch[:mark]
			if err != nil {
				return nil, false, err
			}
			if changed {
				s.cut(p, end)
				if !null {
					s.out = appendFieldQuoted(s.out, res, true)
				}
			}
		}
		p = end + 1
	}
	if skipSpace(v, p) != len(v) {
		return nil, false, malformed("range with text after it")
	}
	out, changed := s.result()
	return out, changed, nil
}

func equalFoldASCII(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i := range b {
		if b[i]|0x20 != lower[i] {
			return false
		}
	}
	return true
}

// textMultirange walks a multirange in text format: "{" ranges separated by commas "}".
func (r *Rewriter) textMultirange(t Type, v []byte) ([]byte, bool, error) {
	rt, err := r.resolve(t.Elem)
	if err != nil {
		return nil, false, err
	}
	if rt.Kind != Range {
		return nil, false, fmt.Errorf("multirange %d of %s %d", t.OID, rt.Kind, t.Elem)
	}
	p := skipSpace(v, 0)
	if p >= len(v) || v[p] != '{' {
		return nil, false, malformed("multirange without {")
	}
	p = skipSpace(v, p+1)
	s := splice{r: r, v: v}
	if p < len(v) && v[p] == '}' {
		p++
	} else {
		for i := 0; ; i++ {
			start := p
			if q := p + 5; q <= len(v) && equalFoldASCII(v[p:q], "empty") {
				p = q
			} else {
				if p >= len(v) || (v[p] != '[' && v[p] != '(') {
					return nil, false, malformed("multirange: range without [ or (")
				}
				if p, _, _, _, err = field(v, p+1, ","); err != nil {
					return nil, false, err
				}
				if p, _, _, _, err = field(v, p+1, "])"); err != nil {
					return nil, false, err
				}
				p++
			}
			res, _, changed, err := r.childTyped(Step{Field: i, Elem: true}, rt, false, v[start:p])
			if err != nil {
				return nil, false, err
			}
			if changed {
				s.cut(start, p)
				s.out = append(s.out, res...)
			}
			p = skipSpace(v, p)
			if p >= len(v) {
				return nil, false, malformed("multirange ends early")
			}
			if v[p] == '}' {
				p++
				break
			}
			if v[p] != ',' {
				return nil, false, malformed("multirange: %q between ranges", v[p])
			}
			p = skipSpace(v, p+1)
		}
	}
	if skipSpace(v, p) != len(v) {
		return nil, false, malformed("multirange with text after it")
	}
	out, changed := s.result()
	return out, changed, nil
}

// isHexBytea reports whether a bytea in text format is in hex ("\x…"), not escape.
func isHexBytea(v []byte) bool { return len(v) >= 2 && v[0] == '\\' && v[1] == 'x' }

// appendByteaDecoded writes the bytes of a bytea in text format, hex or escape.
func appendByteaDecoded(dst, v []byte) ([]byte, error) {
	if isHexBytea(v) {
		var hi byte
		half := false
		for _, c := range v[2:] {
			d, ok := hexDigit(c)
			switch {
			case ok:
			case isSpace(c) && !half:
				continue
			default:
				return nil, malformed("bytea hex digit %q", c)
			}
			if half {
				dst = append(dst, hi<<4|d)
			} else {
				hi = d
			}
			half = !half
		}
		if half {
			return nil, malformed("bytea of an odd number of hex digits")
		}
		return dst, nil
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		switch {
		case i+1 < len(v) && v[i+1] == '\\':
			dst = append(dst, '\\')
			i++
		case i+3 < len(v) && v[i+1] >= '0' && v[i+1] <= '3' && v[i+2] >= '0' && v[i+2] <= '7' && v[i+3] >= '0' && v[i+3] <= '7':
			dst = append(dst, (v[i+1]-'0')<<6|(v[i+2]-'0')<<3|(v[i+3]-'0'))
			i += 3
		default:
			return nil, malformed("bytea escape")
		}
	}
	return dst, nil
}

// appendByteaText writes bytes as a bytea in text format: hex ("\x…"), or escape as
// byteaout writes it (backslash doubled, other bytes outside 0x20-0x7e as \ooo).
func appendByteaText(dst, b []byte, hex bool) []byte {
	if hex {
		dst = append(dst, '\\', 'x')
		for _, c := range b {
			dst = append(dst, hexDigits[c>>4], hexDigits[c&15])
		}
		return dst
	}
	for _, c := range b {
		switch {
		case c == '\\':
			dst = append(dst, '\\', '\\')
		case c < 0x20 || c > 0x7e:
			dst = append(dst, '\\', '0'+c>>6, '0'+c>>3&7, '0'+c&7)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
