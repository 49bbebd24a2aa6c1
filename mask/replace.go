package mask

import (
	"bytes"
	"encoding/hex"
	"unicode/utf8"
)

// replace appends the replacement of v, a value found by detector d, to out.
func (m *Masker) replace(out, v []byte, d Detector) []byte {
	switch m.mode {
	case Partial:
		switch d {
		case CreditCard, Phone, USSSN:
			return keepLast4(out, v, cDigit)
		case IBAN:
			return keepLast4(out, v, cAlnum)
		case Email:
			return partialEmail(out, v)
		}
	case Hash:
		return m.hash(out, v, d)
	}
	return append(out, markers[d]...)
}

// keepLast4 appends v with each byte of class keep but the last 4 replaced by '*', and
// the others (separators: spaces, dashes, parentheses, '+') kept.
func keepLast4(out, v []byte, keep uint8) []byte {
	left := 0
	for _, c := range v {
		if class[c]&keep != 0 {
			left++
		}
	}
	for _, c := range v {
		if class[c]&keep != 0 {
			left--
			if left >= 4 {
				c = '*'
			}
		}
		out = append(out, c)
	}
	return out
}

// partialEmail appends "***@" and v's domain.
// A domain that holds a value of another detector ("x@10.1.2.3.example") is not kept:
// the address is redacted whole.
func partialEmail(out, v []byte) []byte {
	at := bytes.LastIndexByte(v, '@')
	if _, ok := everything.find(v[at+1:], 0, 0); ok {
		return append(out, markers[Email]...)
	}
	return append(append(out, "***@"...), v[at+1:]...)
}

// partialWhole appends v for a column rule in Partial mode: the last 4 letters, digits
// or symbols kept when v has at least 8 of them, the others replaced rune by rune with
// '*', and the separators kept.
func partialWhole(out, v []byte) []byte {
	sig := 0
	for k := 0; k < len(v); {
		r, size := utf8.DecodeRune(v[k:])
		if !separator(r) {
			sig++
		}
		k += size
	}
	left := sig
	for k := 0; k < len(v); {
		r, size := utf8.DecodeRune(v[k:])
		switch {
		case separator(r):
			out = append(out, byte(r))
		case sig >= 8 && left <= 4:
			out = append(out, v[k:k+size]...)
		default:
			out = append(out, '*')
		}
		if !separator(r) {
			left--
		}
		k += size
	}
	return out
}

func separator(r rune) bool {
	switch r {
	case ' ', '-', '.', '/', '(', ')', '+':
		return true
	}
	return false
}

// hash appends "hmac:" and the first 16 hex digits of the HMAC-SHA256 of v's canonical
// form for detector d: the digits of cards, phones and SSNs, the upper-cased letters and
// digits of IBANs, the lower-cased e-mail, the bytes themselves otherwise (numDetectors:
// a whole value that is none of these).
func (m *Masker) hash(out, v []byte, d Detector) []byte {
	h := m.hashPool.Get().(*hasher)
	h.mac.Reset()
	h.n = 0
	switch d {
	case CreditCard, Phone, USSSN:
		for _, c := range v {
			if isDigit(c) {
				h.add(c)
			}
		}
	case IBAN:
		for _, c := range v {
			if isAlnum(c) {
				h.add(upper(c))
			}
		}
	case Email:
		for _, c := range v {
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			h.add(c)
		}
	default:
		h.mac.Write(v)
	}
	h.mac.Write(h.buf[:h.n])
	sum := h.mac.Sum(h.sum[:0])
	out = append(out, "hmac:"...)
	out = hex.AppendEncode(out, sum[:8])
	m.hashPool.Put(h)
	return out
}

func (h *hasher) add(c byte) {
	if h.n == len(h.buf) {
		h.mac.Write(h.buf[:])
		h.n = 0
	}
	h.buf[h.n] = c
	h.n++
}

// everything detects with every detector, for wholeKind.
var everything = func() *Masker {
	m, err := New(nil)
	if err != nil {
		panic(err)
	}
	return m
}()

// wholeKind returns the detector that finds all of v (spaces around it aside), if one
// does.
func wholeKind(v []byte) (Detector, bool) {
	t := trimSpace(v)
	sp, ok := everything.find(t, 0, 0)
	if !ok || sp.start != 0 || sp.end != len(t) {
		return 0, false
	}
	return sp.det, true
}

func trimSpace(v []byte) []byte { return bytes.TrimSpace(v) }

// jsonState says whether a position of a JSON document is inside a string, reading the
// document once from left to right across calls.
type jsonState struct {
	pos int
	in  bool
}

func (s *jsonState) inString(src []byte, at int) bool {
	for s.pos < at {
		switch src[s.pos] {
		case '"':
			s.in = !s.in
		case '\\':
			if s.in {
				s.pos++
			}
		}
		s.pos++
	}
	return s.in
}

// numberToken widens sp, found outside a JSON string, to the whole JSON number around
// it (not before prev, the end of the previous span), so that it is replaced whole.
func numberToken(src []byte, sp span, prev int) span {
	for sp.start > prev && numberByte(src[sp.start-1]) {
		sp.start--
	}
	for sp.end < len(src) && numberByte(src[sp.end]) {
		sp.end++
	}
	return sp
}

func numberByte(c byte) bool {
	return isDigit(c) || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}
