package pgcopy_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/hoopgw/hoop/internal/pgcopy"
)

// fuzzOptions builds options from fuzz arguments.
func fuzzOptions(csv bool, delim, quote, escape byte, null string) pgcopy.Options {
	o := pgcopy.Defaults(csv)
	o.Delimiter, o.Null = delim, null
	if csv {
		o.Quote, o.Escape = quote, escape
	}
	return o
}

// fuzzFields makes fields from data: the values are separated by NUL bytes (which no
// PostgreSQL value holds), and a value of the single byte 0xff stands for NULL. When
// quoted is set, every other value asks to be quoted.
func fuzzFields(data []byte, quoted bool) []pgcopy.Field {
	var fields []pgcopy.Field
	for i, v := range bytes.Split(data, []byte{0}) {
		if len(v) == 1 && v[0] == 0xff {
			fields = append(fields, pgcopy.Field{Null: true})
			continue
		}
		fields = append(fields, pgcopy.Field{Value: v, Quoted: quoted && i%2 == 0})
	}
	return fields
}

// readBack is what Split reads back for in after Append wrote it: in itself, except that
// in text format a value that Append spells like the NULL string reads back as NULL (as it
// does from PostgreSQL), and Quoted is left out (CSV fields come back quoted when they
// needed it).
func readBack(in pgcopy.Field, o pgcopy.Options) pgcopy.Field {
	if !in.Null && !o.CSV && string(pgcopy.Append(nil, []pgcopy.Field{in}, o)) == o.Null+"\n" {
		return pgcopy.Field{Null: true}
	}
	return pgcopy.Field{Value: in.Value, Null: in.Null}
}

// FuzzRoundTrip: for valid options, Split reads back what Append wrote: the same values
// and NULLs (in text format, a value that Append spells like the NULL string reads back as
// NULL, as it does from PostgreSQL), a value asked to be quoted comes back quoted, and
// Append of what Split read writes the same row again.
//
//	go test ./internal/pgcopy -run '^$' -fuzz FuzzRoundTrip -fuzztime 60s
func FuzzRoundTrip(f *testing.F) {
	seeds := []struct {
		csv                  bool
		delim, quote, escape byte
		null                 string
		data                 string
	}{
		{false, '\t', 0, 0, `\N`, "a\x00\xff\x00tab\there\x00new\nline\x00back\\slash\x00\\N"},
		{false, '|', 0, 0, "NIL", "NIL\x00a|b\x00\x00\xff"},
		{false, 0x01, 0, 0, "", "\x01\x00\x02\x7f\x00"},
		{false, 'A', 0, 0, `\\`, "AAA\x00\\\x00\x01\x02"},
		{true, ',', '"', '"', "", "\x00\xff\x00\"\x00a,b\x00cr\r\x00\\."},
		{true, ',', '"', '"', "", "\\."},
		{true, ';', '\'', '\\', "NIL", "it's\x00NIL\x00\\\x00a\\b\x00\xff"},
		{true, '\t', '|', '"', `\N`, "|\x00\"\x00\\N\x00\t"},
	}
	for _, s := range seeds {
		f.Add(s.csv, s.delim, s.quote, s.escape, s.null, []byte(s.data), false)
		f.Add(s.csv, s.delim, s.quote, s.escape, s.null, []byte(s.data), true)
	}
	f.Fuzz(func(t *testing.T, csv bool, delim, quote, escape byte, null string, data []byte, quoted bool) {
		o := fuzzOptions(csv, delim, quote, escape, null)
		if o.Validate() != nil {
			return
		}
		fields := fuzzFields(data, quoted)
		row := pgcopy.Append(nil, fields, o)
		got, err := pgcopy.Split(row, o, nil)
		if err != nil {
			t.Fatalf("Split(Append(%+v)) = Split(%q): %v", fields, row, err)
		}
		if len(got) != len(fields) {
			t.Fatalf("Split(%q): got %d fields, want %d", row, len(got), len(fields))
		}
		for i, in := range fields {
			out, want := got[i], readBack(in, o)
			if out.Null != want.Null || !bytes.Equal(out.Value, want.Value) {
				t.Errorf("row %q, field %d: got %+v, want %+v", row, i, out, want)
			}
			if o.CSV && in.Quoted && !in.Null && !out.Quoted {
				t.Errorf("row %q, field %d: asked to be quoted, read back unquoted", row, i)
			}
		}
		if again := pgcopy.Append(nil, got, o); !bytes.Equal(again, row) {
			t.Errorf("Append(Split(%q)) = %q", row, again)
		}
	})
}

// FuzzSplit: whatever the row, Split does not panic; it fails with a RowError or reads
// fields that Append writes and Split reads back the same (but for text's NULL look-alikes,
// see readBack). A CSV row it accepts is written
// back byte for byte: CSV has one way to write each row. (Text has several: COPY FROM reads
// \101 as A, which COPY TO writes as A.)
//
//	go test ./internal/pgcopy -run '^$' -fuzz FuzzSplit -fuzztime 60s
func FuzzSplit(f *testing.F) {
	f.Add(false, byte('\t'), byte(0), byte(0), `\N`, []byte("a\t\\N\t\\\\N\t\\x41\\101\\b\n"))
	f.Add(false, byte('A'), byte(0), byte(0), `\N`, []byte("\\x4AB\\AA\n"))
	f.Add(true, byte(','), byte('"'), byte('"'), "", []byte("a,\"b\"\"c\",,\"\"\n"))
	f.Add(true, byte(','), byte('\''), byte('\\'), "NIL", []byte("'\\'\\\\',NIL,'NIL',a\\b\n"))
	f.Add(true, byte(','), byte('"'), byte('"'), "", []byte("\"a\nb\"\n"))
	f.Add(false, byte('|'), byte(0), byte(0), `\t`, []byte("\\x09|\\t\n"))
	f.Fuzz(func(t *testing.T, csv bool, delim, quote, escape byte, null string, row []byte) {
		o := fuzzOptions(csv, delim, quote, escape, null)
		fields, err := pgcopy.Split(row, o, nil)
		if err != nil {
			var re *pgcopy.RowError
			if o.Validate() == nil && !errors.As(err, &re) {
				t.Fatalf("Split(%q): %v, not a RowError", row, err)
			}
			if re != nil && (re.Offset < 0 || re.Offset > len(row)) {
				t.Fatalf("Split(%q): offset %d outside the row", row, re.Offset)
			}
			return
		}
		again := pgcopy.Append(nil, fields, o)
		if o.CSV && !bytes.Equal(again, row) {
			t.Fatalf("Append(Split(%q)) = %q", row, again)
		}
		back, err := pgcopy.Split(again, o, nil)
		if err != nil {
			t.Fatalf("Split(Append(Split(%q))) = Split(%q): %v", row, again, err)
		}
		if len(back) != len(fields) {
			t.Fatalf("Split(%q) = %+v, but Split(Append(that)) = %+v", row, fields, back)
		}
		for i := range fields {
			want := readBack(fields[i], o)
			want.Quoted = fields[i].Quoted
			if !sameFields(back[i:i+1], []pgcopy.Field{want}) {
				t.Fatalf("Split(%q) = %+v, but Split(Append(that)) = %+v", row, fields, back)
			}
		}
	})
}
