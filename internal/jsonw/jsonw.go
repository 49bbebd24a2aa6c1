// Package jsonw appends JSON values to byte slices without reflection, byte for byte as
// encoding/json writes them, for the hot paths that write one known shape per statement.
package jsonw

import (
	"time"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// safe[c] is true for the ASCII bytes encoding/json writes as they are: printable, and
// not '"', '\\', '<', '>' or '&' (it escapes those three for HTML).
var safe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = true
	}
	for _, c := range `"\<>&` {
		t[c] = false
	}
	return t
}()

// String appends s as a JSON string, escaped as json.Marshal escapes it: HTML-safe, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	i := plain(s)
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if safe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain returns the length of s's longest prefix of bytes String writes as they are,
// looking at eight bytes at a time first: statement texts are mostly such bytes.
func plain(s string) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		// A high bit set in bad marks a byte that is not plain: not ASCII, below 0x20, or
		// one of " \ < > & (a byte equal to c is a zero byte of w^(c*ones)). A borrow can
		// mark a byte above one so marked too: that only moves where the byte loop starts.
		bad := w&highs | (w-0x20*ones)&^w&highs |
			zeros(w^('"'*ones)) | zeros(w^('\\'*ones)) | zeros(w^('<'*ones)) | zeros(w^('>'*ones)) | zeros(w^('&'*ones))
		if bad != 0 {
			break
		}
	}
	for i < len(s) && s[i] < utf8.RuneSelf && safe[s[i]] {
		i++
	}
	return i
}

// zeros has the high bit set in each zero byte of v (and perhaps in bytes above one).
func zeros(v uint64) uint64 {
	return (v - 0x0101010101010101) &^ v & 0x8080808080808080
}

// Time appends t as time.Time's MarshalJSON writes it: RFC 3339 with nanoseconds, quoted.
func Time(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}

// Hex appends b as a quoted lowercase hex string.
func Hex(dst []byte, b []byte) []byte {
	dst = append(dst, '"')
	for _, c := range b {
		dst = append(dst, hex[c>>4], hex[c&0xf])
	}
	return append(dst, '"')
}
