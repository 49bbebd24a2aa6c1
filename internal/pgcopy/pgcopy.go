// Package pgcopy reads and writes the rows of PostgreSQL's COPY ... TO STDOUT in text and
// CSV format, one CopyData message at a time, so that a gateway can change some fields of a
// row (mask them) and send the row on as PostgreSQL would have written it.
//
//	o := pgcopy.Defaults(false) // COPY t TO STDOUT: tab-separated, \N for NULL
//	fields, err := pgcopy.Split(row, o, fields[:0])
//	if err != nil { ... } // malformed: refuse the row
//	fields[2].Value = []byte("***")
//	out := pgcopy.Append(buf[:0], fields, o)
//
// PostgreSQL sends one CopyData message per row for COPY TO (the header line, when asked
// for, is the first one), and each ends with exactly one "\n" whatever the platform. Split
// reads only what COPY TO writes and is strict about it: a row PostgreSQL would not have
// written is an error, never a guess, because a row split at the wrong place would put a
// column's value where another column is expected.
//
// Bytes are handled as bytes: the delimiter, quote and escape characters are single bytes,
// and no encoding is checked or converted. That is right for UTF-8 and every other client
// encoding whose multibyte characters never hold an ASCII byte; it is not for SJIS, BIG5,
// GBK, UHC, GB18030 and JOHAB (PostgreSQL's "encoding_embeds_ascii" encodings), where a
// character's second byte may equal a backslash, quote or delimiter: the caller must not
// use this package for rows in those encodings.
package pgcopy

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
)

// Options describe the format of the rows of one COPY TO. The zero value is not valid;
// start from Defaults.
type Options struct {
	CSV       bool   // FORMAT csv; text otherwise
	Delimiter byte   // DELIMITER: '\t' for text, ',' for CSV
	Null      string // NULL: `\N` for text, "" for CSV
	// Quote and Escape are CSV's QUOTE and ESCAPE: '"' and, by default, the quote. They are
	// 0 in text format.
	Quote, Escape byte
	// Header is HEADER: the first row of the COPY holds the column names. Split and Append
	// treat it like any other row.
	Header bool
	// ForceQuote names the columns of FORCE_QUOTE (CSV), as the statement gives them;
	// ForceQuoteAll is FORCE_QUOTE *. PostgreSQL then quotes every non-NULL value of those
	// columns. Split and Append do not use these: they keep each field's quoting in
	// Field.Quoted, by position.
	ForceQuote    []string
	ForceQuoteAll bool
}

// Defaults returns PostgreSQL's defaults for text (csv false) or CSV format: for text a
// tab delimiter and `\N` for NULL; for CSV a comma, an unquoted empty string for NULL, and
// '"' as both quote and escape.
func Defaults(csv bool) Options {
	if csv {
		return Options{CSV: true, Delimiter: ',', Null: "", Quote: '"', Escape: '"'}
	}
	return Options{Delimiter: '\t', Null: `\N`}
}

// ErrOptions is returned (wrapped) by Validate and Split for options PostgreSQL would
// refuse, or under which its rows cannot be read back unambiguously.
var ErrOptions = errors.New("pgcopy: invalid options")

// Validate checks o as PostgreSQL checks COPY's options, and refuses in addition some
// options PostgreSQL accepts: a text format NULL string that ends in an unpaired backslash
// (PostgreSQL then writes rows in which that backslash escapes the following delimiter, so
// they cannot be split back into their fields), a CSV quote or escape character that is a
// newline or a carriage return, and a CSV escape character that is the delimiter.
func (o Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrOptions}, args...)...)
	}
	d := o.Delimiter
	switch {
	case d == 0:
		return bad("no delimiter")
	case d == '\n' || d == '\r':
		return bad("the delimiter cannot be newline or carriage return")
	case !o.CSV && (d == '\\' || d == '.' || 'a' <= d && d <= 'z' || '0' <= d && d <= '9'):
		return bad("the delimiter cannot be %q in text format", d)
	case bytes.ContainsAny([]byte(o.Null), "\r\n"):
		return bad("the NULL string cannot hold a newline or carriage return")
	case bytes.IndexByte([]byte(o.Null), 0) >= 0:
		return bad("the NULL string cannot hold a NUL byte")
	case bytes.IndexByte([]byte(o.Null), d) >= 0:
		return bad("the delimiter %q appears in the NULL string %q", d, o.Null)
	}
	if !o.CSV {
		switch {
		case o.Quote != 0 || o.Escape != 0:
			return bad("QUOTE and ESCAPE are for CSV format only")
		case o.ForceQuoteAll || len(o.ForceQuote) > 0:
			return bad("FORCE_QUOTE is for CSV format only")
		case unpairedBackslash(o.Null):
			return bad("the NULL string %q ends in an unpaired backslash, which escapes the next delimiter", o.Null)
		}
		return nil
	}
	switch {
	case o.Quote == 0:
		return bad("no quote character")
	case o.Escape == 0:
		return bad("no escape character")
	case o.Quote == d:
		return bad("the delimiter and the quote must differ")
	case o.Quote == '\n' || o.Quote == '\r' || o.Escape == '\n' || o.Escape == '\r':
		// PostgreSQL accepts these, but its COPY FROM could not read such rows back, and
		// nobody asks for them: refuse rather than reason about them.
		return bad("the quote and escape characters cannot be newline or carriage return")
	case o.Escape == d:
		// Likewise accepted by PostgreSQL; an escape outside quotes is plain data, so the
		// rows are readable, but only by a reader that tracks that. Refuse.
		return bad("the delimiter and the escape character must differ")
	case bytes.IndexByte([]byte(o.Null), o.Quote) >= 0:
		return bad("the quote %q appears in the NULL string %q", o.Quote, o.Null)
	}
	return nil
}

// unpairedBackslash reports whether s, read as COPY text, ends inside a backslash escape.
func unpairedBackslash(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' {
			if i+1 == len(s) {
				return true
			}
			i++
		}
	}
	return false
}

// Field is one field of a row.
type Field struct {
	// Value is the decoded value: what a SELECT of the column would return as text. It is
	// nil when Null. The Values Split returns may share memory with the row (which the
	// caller must leave alone while it uses them) and with each other; each is capped at
	// its own length, so appending to one overwrites neither another nor the row.
	Value []byte
	// Null is a NULL: PostgreSQL wrote the NULL string, unquoted in CSV.
	Null bool
	// Quoted is CSV only: the field was quoted (Split), or is to be quoted even when its
	// value does not need it (Append), as FORCE_QUOTE has PostgreSQL do. Append ignores it
	// for NULL fields, which PostgreSQL never quotes.
	Quoted bool
}

// RowError is a row that COPY TO would not have written.
type RowError struct {
	Offset int    // byte offset in the row where the problem is
	Reason string // what is wrong: "an unterminated quoted field"
}

func (e *RowError) Error() string {
	return "pgcopy: malformed row at byte " + strconv.Itoa(e.Offset) + ": " + e.Reason
}

func rowErr(off int, format string, args ...any) error {
	return &RowError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

// Split splits one row of COPY TO output (one CopyData message's payload, with its final
// "\n") into its fields, appended to dst[:0]. The error is a *RowError for a malformed row:
// no final newline, a newline (or a bare carriage return) before the end, a backslash
// escape COPY FROM does not know, an unterminated quote, an escape character inside quotes
// that does not escape a quote or itself, bytes after a closing quote, a quote in an
// unquoted field, a NUL byte, an unquoted \. alone on a CSV row (COPY's end-of-data
// marker, which PostgreSQL quotes); or it wraps ErrOptions for invalid o. The fields read
// before the error are returned with it, for diagnostics only.
//
// A field is NULL when its raw bytes are the NULL string, unquoted in CSV, as PostgreSQL's
// COPY FROM decides. In text format, PostgreSQL writes a value that is spelled like the
// NULL string as the NULL string itself (NULL 'x' and the value "x" both become x), so
// Split reports such a value as NULL: the row does not say which it was.
//
// A row of a COPY of no columns is "\n", which Split reads as one empty field.
func Split(row []byte, o Options, dst []Field) ([]Field, error) {
	dst = dst[:0]
	if err := o.Validate(); err != nil {
		return dst, err
	}
	n := len(row)
	if n == 0 || row[n-1] != '\n' {
		return dst, rowErr(n, "the row does not end with a newline")
	}
	if o.CSV {
		return splitCSV(row[:n-1], o, dst)
	}
	return splitText(row[:n-1], o, dst)
}

// capped returns b[i:j] with its capacity cut to its length.
func capped(b []byte, i, j int) []byte { return b[i:j:j] }

func splitText(body []byte, o Options, dst []Field) ([]Field, error) {
	var scratch []byte // decoded values, allocated on the first escape
	for start := 0; ; {
		i, from := start, -1 // from: where this field's value starts in scratch; -1 while it needs no decoding
		bad := -1            // the first bad escape: an error unless the field is the NULL string
		for ; i < len(body) && body[i] != o.Delimiter; i++ {
			switch c := body[i]; c {
			case '\\':
				if i+1 == len(body) {
					return dst, rowErr(i, "a backslash at the end of the row")
				}
				if from < 0 {
					if scratch == nil {
						scratch = make([]byte, 0, len(body))
					}
					from = len(scratch)
					scratch = append(scratch, body[start:i]...)
				}
				b, n, ok := unescape(body[i:], o.Delimiter)
				if ok {
					scratch = append(scratch, b)
				} else if bad < 0 {
					bad = i
				}
				i += n - 1
			case '\n':
				return dst, rowErr(i, "a newline before the end of the row (bytes after the end of the row)")
			case '\r':
				return dst, rowErr(i, "an unescaped carriage return")
			case 0:
				return dst, rowErr(i, "a NUL byte")
			default:
				if from >= 0 {
					scratch = append(scratch, c)
				}
			}
		}
		switch {
		case string(body[start:i]) == o.Null:
			// Compared raw, before decoding, as PostgreSQL does.
			dst = append(dst, Field{Null: true})
			if from >= 0 {
				scratch = scratch[:from]
			}
		case bad >= 0:
			return dst, badEscape(body[bad:], bad, o.Delimiter)
		case from < 0:
			dst = append(dst, Field{Value: capped(body, start, i)})
		default:
			dst = append(dst, Field{Value: capped(scratch, from, len(scratch))})
		}
		if i == len(body) {
			return dst, nil
		}
		start = i + 1
	}
}

// unescape decodes the backslash escape at the start of s (s[0] is the backslash, and s
// has at least two bytes): the byte it stands for and how many bytes it takes, as
// PostgreSQL's COPY FROM reads it. The escapes are \b \f \n \r \t \v, a backslash and
// the delimiter after a backslash, one to three octal digits, and x with one or two hex
// digits. ok is false for anything else (n is then 2) and for an escape of a NUL byte.
func unescape(s []byte, delim byte) (b byte, n int, ok bool) {
	switch e := s[1]; {
	case e == 'b':
		return '\b', 2, true
	case e == 'f':
		return '\f', 2, true
	case e == 'n':
		return '\n', 2, true
	case e == 'r':
		return '\r', 2, true
	case e == 't':
		return '\t', 2, true
	case e == 'v':
		return '\v', 2, true
	case e == '\\' || e == delim:
		return e, 2, true
	case '0' <= e && e <= '7':
		v := e - '0' // the value is taken mod 256, as PostgreSQL does
		for n = 2; n < 4 && n < len(s) && '0' <= s[n] && s[n] <= '7'; n++ {
			v = v<<3 | (s[n] - '0')
		}
		b = v
	case e == 'x' && len(s) > 2 && isHex(s[2]):
		b, n = unhex(s[2]), 3
		if len(s) > 3 && isHex(s[3]) {
			b, n = b<<4|unhex(s[3]), 4
		}
	default:
		return 0, 2, false
	}
	return b, n, b != 0
}

// badEscape is the error for the escape that unescape refused at the start of s, at byte
// off of the row.
func badEscape(s []byte, off int, delim byte) error {
	if _, n, _ := unescape(s, delim); '0' <= s[1] && s[1] <= '7' || n > 2 {
		return rowErr(off, "an escape of a NUL byte %q", s[:n])
	}
	return rowErr(off, "an unknown escape %q", s[:2])
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func splitCSV(body []byte, o Options, dst []Field) ([]Field, error) {
	var scratch []byte // decoded quoted values, allocated on the first escape
	for i := 0; ; i++ {
		start := i
		if i < len(body) && body[i] == o.Quote {
			// A quoted field: its value runs to the closing quote, escapes taken out.
			// PostgreSQL writes the escape character before every quote and escape
			// character of a quoted value, and nowhere else.
			i++
			from := -1 // where the value starts in scratch; -1 while it is body[start+1:i]
			for ; ; i++ {
				if i == len(body) {
					return dst, rowErr(start, "an unterminated quoted field")
				}
				c := body[i]
				if c == 0 {
					return dst, rowErr(i, "a NUL byte")
				}
				if c == o.Escape && (o.Escape != o.Quote || i+1 < len(body) && body[i+1] == o.Quote) {
					if i+1 == len(body) || body[i+1] != o.Quote && body[i+1] != o.Escape {
						return dst, rowErr(i, "an escape character %q not followed by the quote or the escape character", c)
					}
					if from < 0 {
						if scratch == nil {
							scratch = make([]byte, 0, len(body))
						}
						from = len(scratch)
						scratch = append(scratch, body[start+1:i]...)
					}
					i++
					scratch = append(scratch, body[i])
					continue
				}
				if c == o.Quote {
					break
				}
				if from >= 0 {
					scratch = append(scratch, c)
				}
			}
			if from < 0 {
				dst = append(dst, Field{Value: capped(body, start+1, i), Quoted: true})
			} else {
				dst = append(dst, Field{Value: capped(scratch, from, len(scratch)), Quoted: true})
			}
			i++ // past the closing quote
			if i < len(body) && body[i] != o.Delimiter {
				return dst, rowErr(i, "%q after a closing quote, where the delimiter or the end of the row belongs", body[i])
			}
		} else {
			for ; i < len(body) && body[i] != o.Delimiter; i++ {
				switch body[i] {
				case o.Quote:
					return dst, rowErr(i, "a quote inside an unquoted field")
				case '\n':
					return dst, rowErr(i, "a newline outside quotes before the end of the row (bytes after the end of the row)")
				case '\r':
					return dst, rowErr(i, "a carriage return outside quotes")
				case 0:
					return dst, rowErr(i, "a NUL byte")
				}
			}
			if string(body[start:i]) == o.Null {
				dst = append(dst, Field{Null: true})
			} else {
				dst = append(dst, Field{Value: capped(body, start, i)})
			}
		}
		if i == len(body) {
			if len(dst) == 1 && !dst[0].Quoted && string(dst[0].Value) == `\.` {
				return dst, rowErr(0, `an unquoted \. alone on its row, which is COPY's end-of-data marker`)
			}
			return dst, nil
		}
		// body[i] is the delimiter; the loop steps past it.
	}
}

// Append appends to dst one row holding fields, as PostgreSQL's COPY TO writes it, with
// its final "\n", and returns the extended buffer.
//
// Text: a NULL is the NULL string as it is; in a value, backslash and the delimiter get a
// backslash before them, and backspace, form feed, newline, carriage return, tab and
// vertical tab become \b \f \n \r \t \v; other bytes, control characters included, are
// written as they are.
//
// CSV: a NULL is the NULL string, unquoted. A value is quoted when Quoted is set, when it
// holds the delimiter, the quote, a newline or a carriage return, when it equals the NULL
// string (so the empty string is quoted under the default NULL ""), and when it is `\.`
// alone on its row; inside quotes every quote and escape character gets the escape
// character before it. An escape character alone does not make PostgreSQL quote a value.
//
// o must be valid (see Validate): for invalid options the row is unspecified. A value
// holding a NUL byte, which no PostgreSQL text value holds, is written as it is, and Split
// refuses it.
func Append(dst []byte, fields []Field, o Options) []byte {
	for k, f := range fields {
		if k > 0 {
			dst = append(dst, o.Delimiter)
		}
		switch {
		case f.Null:
			dst = append(dst, o.Null...)
		case o.CSV:
			dst = appendCSV(dst, f, o, len(fields) == 1)
		default:
			dst = appendText(dst, f.Value, o.Delimiter)
		}
	}
	return append(dst, '\n')
}

func appendText(dst, v []byte, delim byte) []byte {
	start := 0
	for i, c := range v {
		var esc byte
		switch {
		case c == '\\' || c == delim && c >= 0x20:
			esc = c
		case c >= 0x20:
			continue
		case c == '\b':
			esc = 'b'
		case c == '\f':
			esc = 'f'
		case c == '\n':
			esc = 'n'
		case c == '\r':
			esc = 'r'
		case c == '\t':
			esc = 't'
		case c == '\v':
			esc = 'v'
		case c == delim:
			esc = c // a control character as delimiter: a backslash and the character
		default:
			continue
		}
		dst = append(dst, v[start:i]...)
		dst = append(dst, '\\', esc)
		start = i + 1
	}
	return append(dst, v[start:]...)
}

func appendCSV(dst []byte, f Field, o Options, alone bool) []byte {
	v := f.Value
	quote := f.Quoted || string(v) == o.Null || alone && string(v) == `\.`
	for i := 0; !quote && i < len(v); i++ {
		switch v[i] {
		case o.Delimiter, o.Quote, '\n', '\r':
			quote = true
		}
	}
	if !quote {
		return append(dst, v...)
	}
	dst = append(dst, o.Quote)
	start := 0
	for i, c := range v {
		if c == o.Quote || c == o.Escape {
			dst = append(dst, v[start:i]...)
			dst = append(dst, o.Escape)
			start = i // the character itself goes out with the next run
		}
	}
	dst = append(dst, v[start:]...)
	return append(dst, o.Quote)
}

// EncodingEmbedsASCII reports whether name, a PostgreSQL encoding name as client_encoding
// or COPY's ENCODING take it ("SJIS", "Shift_JIS", "win932"), is one of the client-only
// encodings whose multibyte characters may hold ASCII bytes: SJIS, SHIFT_JIS_2004, BIG5,
// GBK, UHC, GB18030 and JOHAB, with their aliases. Rows in those encodings cannot be
// split byte by byte, so this package must not be used for them. Like PostgreSQL, it
// ignores case and every character that is not a letter or a digit.
func EncodingEmbedsASCII(name string) bool {
	clean := make([]byte, 0, len(name))
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
			clean = append(clean, c)
		case 'A' <= c && c <= 'Z':
			clean = append(clean, c+'a'-'A')
		}
	}
	switch string(clean) {
	case "sjis", "shiftjis", "mskanji", "win932", "windows932", "shiftjis2004",
		"big5", "win950", "windows950", "gbk", "win936", "windows936",
		"uhc", "win949", "windows949", "gb18030", "johab":
		return true
	}
	return false
}
