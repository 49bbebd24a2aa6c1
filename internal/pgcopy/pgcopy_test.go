package pgcopy_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/internal/pgcopy"
)

func TestDefaults(t *testing.T) {
	text, csv := pgcopy.Defaults(false), pgcopy.Defaults(true)
	if text.CSV || text.Delimiter != '\t' || text.Null != `\N` || text.Quote != 0 || text.Escape != 0 || text.Header {
		t.Errorf("Defaults(false) = %+v", text)
	}
	if !csv.CSV || csv.Delimiter != ',' || csv.Null != "" || csv.Quote != '"' || csv.Escape != '"' || csv.Header {
		t.Errorf("Defaults(true) = %+v", csv)
	}
	for _, o := range []pgcopy.Options{text, csv} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
}

func TestValidate(t *testing.T) {
	text := func(set func(*pgcopy.Options)) pgcopy.Options { return withOpts(false, set) }
	csv := func(set func(*pgcopy.Options)) pgcopy.Options { return withOpts(true, set) }
	for _, tc := range []struct {
		o    pgcopy.Options
		want string // "" = valid
	}{
		{text(func(o *pgcopy.Options) { o.Delimiter = '|'; o.Null = "" }), ""},
		{text(func(o *pgcopy.Options) { o.Delimiter = 0x01 }), ""},
		{text(func(o *pgcopy.Options) { o.Delimiter = 'A' }), ""},
		{text(func(o *pgcopy.Options) { o.Null = `\\` }), ""},
		{csv(func(o *pgcopy.Options) { o.Delimiter = 'a'; o.Null = "NULL" }), ""},
		{csv(func(o *pgcopy.Options) { o.Quote, o.Escape = '\'', '\\' }), ""},
		{csv(func(o *pgcopy.Options) { o.ForceQuoteAll = true }), ""},
		{text(func(o *pgcopy.Options) { o.Delimiter = 0 }), "no delimiter"},
		{text(func(o *pgcopy.Options) { o.Delimiter = '\n' }), "newline"},
		{csv(func(o *pgcopy.Options) { o.Delimiter = '\r' }), "newline"},
		{text(func(o *pgcopy.Options) { o.Delimiter = '\\' }), "cannot be"},
		{text(func(o *pgcopy.Options) { o.Delimiter = '.' }), "cannot be"},
		{text(func(o *pgcopy.Options) { o.Delimiter = 'x' }), "cannot be"},
		{text(func(o *pgcopy.Options) { o.Delimiter = '7' }), "cannot be"},
		{text(func(o *pgcopy.Options) { o.Null = "a\rb" }), "NULL string"},
		{text(func(o *pgcopy.Options) { o.Null = "a\x00" }), "NUL"},
		{text(func(o *pgcopy.Options) { o.Null = "a\tb" }), "appears in the NULL string"},
		{text(func(o *pgcopy.Options) { o.Null = `a\` }), "unpaired backslash"},
		{text(func(o *pgcopy.Options) { o.Null = `\\\` }), "unpaired backslash"},
		{text(func(o *pgcopy.Options) { o.Quote = '"' }), "CSV format only"},
		{text(func(o *pgcopy.Options) { o.ForceQuote = []string{"a"} }), "CSV format only"},
		{csv(func(o *pgcopy.Options) { o.Quote = 0 }), "no quote"},
		{csv(func(o *pgcopy.Options) { o.Escape = 0 }), "no escape"},
		{csv(func(o *pgcopy.Options) { o.Quote = ',' }), "delimiter and the quote"},
		{csv(func(o *pgcopy.Options) { o.Escape = ',' }), "delimiter and the escape"},
		{csv(func(o *pgcopy.Options) { o.Quote = '\n' }), "newline"},
		{csv(func(o *pgcopy.Options) { o.Null = `"x"` }), "quote"},
		{csv(func(o *pgcopy.Options) { o.Null = "a,b" }), "appears in the NULL string"},
	} {
		err := tc.o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.o, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, pgcopy.ErrOptions)):
			t.Errorf("%+v: got %v, want ErrOptions saying %q", tc.o, err, tc.want)
		}
		if tc.want != "" {
			if _, err := pgcopy.Split([]byte("a\n"), tc.o, nil); !errors.Is(err, pgcopy.ErrOptions) {
				t.Errorf("Split with %+v: got %v, want ErrOptions", tc.o, err)
			}
		}
	}
}

// f, n and q make test fields: a value, a NULL and a quoted value.
func f(s string) pgcopy.Field { return pgcopy.Field{Value: []byte(s)} }
func q(s string) pgcopy.Field { return pgcopy.Field{Value: []byte(s), Quoted: true} }

var n = pgcopy.Field{Null: true}

func sameFields(a, b []pgcopy.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Null != b[i].Null || a[i].Quoted != b[i].Quoted || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}

func TestSplit(t *testing.T) {
	text, csv := pgcopy.Defaults(false), pgcopy.Defaults(true)
	for _, tc := range []struct {
		row  string
		o    pgcopy.Options
		want []pgcopy.Field
	}{
		{"\n", text, []pgcopy.Field{f("")}},
		{"a\tb\t\n", text, []pgcopy.Field{f("a"), f("b"), f("")}},
		// The NULL string is compared raw: it may hold what would be a bad escape.
		{"\\\\N\tx\\N\\\\\n", withOpts(false, func(o *pgcopy.Options) { o.Null = `x\N\\` }),
			[]pgcopy.Field{f(`\N`), n}},
		{"\\N\t\\\\N\n", text, []pgcopy.Field{n, f(`\N`)}},
		{"\\b\\f\\n\\r\\t\\v\\\\\\\t\n", text, []pgcopy.Field{f("\b\f\n\r\t\v\\\t")}},
		// Octal and hex escapes, as COPY FROM reads them (COPY TO never writes them).
		{"\\101\\7\\0101\\777\\x41\\x4a\\xZ\n", text, nil}, // \xZ: an unknown escape
		{"\\101\\7\\0101\\777\\x41\\x4a\\x4\n", text, []pgcopy.Field{f("A\x07\x081\xffAJ\x04")}},
		// The delimiter A is also a hex digit: like PostgreSQL, the escape takes it.
		{"\\x4AB\n", withOpts(false, func(o *pgcopy.Options) { o.Delimiter = 'A' }), []pgcopy.Field{f("JB")}},
		{"\\x4A\\AB\n", withOpts(false, func(o *pgcopy.Options) { o.Delimiter = 'A' }), []pgcopy.Field{f("JAB")}},
		{"\\x4\\AA\n", withOpts(false, func(o *pgcopy.Options) { o.Delimiter = 'A' }), []pgcopy.Field{f("\x04A"), f("")}},
		{"a\\|b|\n", withOpts(false, func(o *pgcopy.Options) { o.Delimiter = '|' }), []pgcopy.Field{f("a|b"), f("")}},
		{"\x01\x7f\xff\xfe\n", text, []pgcopy.Field{f("\x01\x7f\xff\xfe")}},

		{"\n", csv, []pgcopy.Field{n}},
		{"\"\"\n", csv, []pgcopy.Field{q("")}},
		{",\"\",a\n", csv, []pgcopy.Field{n, q(""), f("a")}},
		{"\"a,b\",\"c\"\"d\",\"e\nf\r\",\"\"\"\"\n", csv, []pgcopy.Field{q("a,b"), q(`c"d`), q("e\nf\r"), q(`"`)}},
		{"a\\b,\"\\\\\\\"\"\n", withOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' }),
			[]pgcopy.Field{f(`a\b`), q(`\"`)}},
		{"'it\\'s',NIL,'NIL',\n", withOpts(true, func(o *pgcopy.Options) { o.Quote, o.Escape, o.Null = '\'', '\\', "NIL" }),
			[]pgcopy.Field{q("it's"), n, q("NIL"), f("")}},
		{"\"\\.\"\n", csv, []pgcopy.Field{q(`\.`)}},
		{"\\.,\n", csv, []pgcopy.Field{f(`\.`), n}},
	} {
		got, err := pgcopy.Split([]byte(tc.row), tc.o, nil)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("Split(%q): got %+v, want an error", tc.row, got)
		case tc.want != nil && err != nil:
			t.Errorf("Split(%q): %v", tc.row, err)
		case tc.want != nil && !sameFields(got, tc.want):
			t.Errorf("Split(%q):\n got %+v\nwant %+v", tc.row, got, tc.want)
		}
	}
}

func TestSplitMalformed(t *testing.T) {
	text, csv := pgcopy.Defaults(false), pgcopy.Defaults(true)
	for _, tc := range []struct {
		row    string
		o      pgcopy.Options
		offset int
		reason string
	}{
		{"", text, 0, "does not end with a newline"},
		{"a\tb", text, 3, "does not end with a newline"},
		{"a\tb\r\n", text, 3, "carriage return"},
		{"a\nb\n", text, 1, "bytes after the end of the row"},
		{"a\n\n", text, 1, "bytes after the end of the row"},
		{"a\\\n", text, 1, "backslash at the end of the row"},
		{"ab\\q\n", text, 2, `unknown escape "\\q"`},
		{"x\t\\N\\N\n", text, 2, `unknown escape "\\N"`},
		{"\\x\n", text, 0, "unknown escape"},
		{"a\\0\n", text, 1, "NUL"},
		{"a\\x00\n", text, 1, "NUL"},
		{"a\\400\n", text, 1, "NUL"}, // 0o400 is 256: 0 mod 256
		{"a\x00b\n", text, 1, "NUL"},
		{"\\.\n", text, 0, "unknown escape"},

		{"a,b", csv, 3, "does not end with a newline"},
		{"\"a\n", csv, 0, "unterminated quoted field"},
		{"a,\"b\"\"\n", csv, 2, "unterminated quoted field"},
		{"\"a\"b\n", csv, 3, "after a closing quote"},
		{"\"a\" ,b\n", csv, 3, "after a closing quote"},
		{"a\"b\"\n", csv, 1, "quote inside an unquoted field"},
		{"a\nb\n", csv, 1, "bytes after the end of the row"},
		{"\"a\"\n\n", csv, 3, "after a closing quote"},
		{"a\r\n", csv, 1, "carriage return outside quotes"},
		{"\"a\x00\"\n", csv, 2, "NUL"},
		{"a\x00\n", csv, 1, "NUL"},
		{"\\.\n", csv, 0, "end-of-data marker"},
		{"\"a\\b\"\n", withOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' }), 2, "escape character"},
		{"\"a\\\"\n", withOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' }), 0, "unterminated"},
		{"\"a\"\"b\"\n", withOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' }), 3, "after a closing quote"},
	} {
		_, err := pgcopy.Split([]byte(tc.row), tc.o, nil)
		var re *pgcopy.RowError
		if !errors.As(err, &re) || re.Offset != tc.offset || !strings.Contains(re.Reason, tc.reason) {
			t.Errorf("Split(%q): got %v, want a RowError at byte %d saying %q", tc.row, err, tc.offset, tc.reason)
		}
	}
}

func TestAppend(t *testing.T) {
	text, csv := pgcopy.Defaults(false), pgcopy.Defaults(true)
	for _, tc := range []struct {
		fields []pgcopy.Field
		o      pgcopy.Options
		want   string
	}{
		{nil, text, "\n"},
		{[]pgcopy.Field{f("a\tb"), n, f(`\N`), f("")}, text, "a\\tb\t\\N\t\\\\N\t\n"},
		{[]pgcopy.Field{f("\b\f\n\r\t\v\\\x01\x1f\x7f\xc3\xa9")}, text, "\\b\\f\\n\\r\\t\\v\\\\\x01\x1f\x7f\xc3\xa9\n"},
		{[]pgcopy.Field{f("a|b\tc"), n}, withOpts(false, func(o *pgcopy.Options) { o.Delimiter, o.Null = '|', "" }), "a\\|b\\tc|\n"},
		{[]pgcopy.Field{f("a\x01b\tc")}, withOpts(false, func(o *pgcopy.Options) { o.Delimiter = 0x01 }), "a\\\x01b\\tc\n"},
		{[]pgcopy.Field{f("a\bb")}, withOpts(false, func(o *pgcopy.Options) { o.Delimiter = '\b' }), "a\\bb\n"},
		{[]pgcopy.Field{q("x"), q("")}, text, "x\t\n"}, // Quoted means nothing in text

		{[]pgcopy.Field{f(""), n, f("a"), q("a"), pgcopy.Field{Null: true, Quoted: true}}, csv, "\"\",,a,\"a\",\n"},
		{[]pgcopy.Field{f("a,b"), f(`say "hi"`), f("l1\nl2"), f("cr\r"), f(`a\b`)}, csv,
			"\"a,b\",\"say \"\"hi\"\"\",\"l1\nl2\",\"cr\r\",a\\b\n"},
		{[]pgcopy.Field{f(`\.`)}, csv, "\"\\.\"\n"},
		{[]pgcopy.Field{f(`\.`), f(`\.`)}, csv, "\\.,\\.\n"},
		{[]pgcopy.Field{f(`a\b`), f(`"\`), f("NIL"), n, f("")},
			withOpts(true, func(o *pgcopy.Options) { o.Escape, o.Null = '\\', "NIL" }),
			"a\\b,\"\\\"\\\\\",\"NIL\",NIL,\n"},
	} {
		if got := string(pgcopy.Append(nil, tc.fields, tc.o)); got != tc.want {
			t.Errorf("Append(%+v):\n got %q\nwant %q", tc.fields, got, tc.want)
		}
	}
	// Append appends.
	if got := string(pgcopy.Append([]byte("row1\n"), []pgcopy.Field{f("x")}, text)); got != "row1\nx\n" {
		t.Errorf("got %q", got)
	}
}

// TestSplitMemory: dst is reused, and a value, capped at its length, can be appended to
// without changing the row or the other values.
func TestSplitMemory(t *testing.T) {
	for _, o := range []pgcopy.Options{pgcopy.Defaults(false), pgcopy.Defaults(true)} {
		row := []byte("a\tb\\tc\td\n")
		if o.CSV {
			row = []byte("a,\"b\"\"c\",\"d\",e\n")
		}
		orig := bytes.Clone(row)
		dst := make([]pgcopy.Field, 0, 8)
		fields, err := pgcopy.Split(row, o, dst)
		if err != nil {
			t.Fatal(err)
		}
		if &fields[0] != &dst[:1][0] {
			t.Error("Split did not reuse dst")
		}
		before := make([]string, len(fields))
		for i := range fields {
			before[i] = string(fields[i].Value)
		}
		for i := range fields {
			fields[i].Value = append(fields[i].Value, "XYZ"...)
		}
		for i := range fields {
			if string(fields[i].Value) != before[i]+"XYZ" {
				t.Errorf("%s: field %d is %q after appends, want %q", row, i, fields[i].Value, before[i]+"XYZ")
			}
		}
		if !bytes.Equal(row, orig) {
			t.Errorf("the row changed: %q", row)
		}
	}
}

func TestRowError(t *testing.T) {
	_, err := pgcopy.Split([]byte("\"abc\n"), pgcopy.Defaults(true), nil)
	if got, want := fmt.Sprint(err), "pgcopy: malformed row at byte 0: an unterminated quoted field"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func BenchmarkSplitAppend(b *testing.B) {
	for _, o := range []pgcopy.Options{pgcopy.Defaults(false), pgcopy.Defaults(true)} {
		fields := []pgcopy.Field{f("12345"), f("Jane Doe"), f("jane@example.com"), f("123-45-6789"),
			f("42 Main St, Springfield\nUSA"), n, f(`a "quoted" \ value`), f("2024-01-02 03:04:05+00")}
		row := pgcopy.Append(nil, fields, o)
		name := "text"
		if o.CSV {
			name = "csv"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(row)))
			b.ReportAllocs()
			var dst []pgcopy.Field
			var out []byte
			for b.Loop() {
				var err error
				if dst, err = pgcopy.Split(row, o, dst); err != nil {
					b.Fatal(err)
				}
				dst[3].Value = []byte("***-**-****")
				out = pgcopy.Append(out[:0], dst, o)
			}
		})
	}
}
