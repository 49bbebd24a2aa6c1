package pgvalue_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/hoopgw/hoop/internal/pgvalue"
)

// Type OIDs of the fake catalog of these tests.
const (
	oidCard     = 90001 // composite (number text, ip inet, tags text[])
	oidCardArr  = 90002 // card[]
	oidMood     = 90003 // enum
	oidPosInts  = 90004 // domain over int4[]
	oidLoop     = 90005 // a domain over itself
	oidNoFields = 90006 // a composite of no columns
)

type fakeTypes struct{}

func (fakeTypes) Type(oid uint32) (pgvalue.Type, error) {
	switch oid {
	case oidCard:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Record, Fields: []uint32{pgvalue.OIDText, pgvalue.OIDInet, 1009}}, nil
	case oidCardArr:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Array, Elem: oidCard, Delim: ','}, nil
	case oidMood:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Enum}, nil
	case oidPosInts:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Domain, Elem: 1007}, nil
	case oidLoop:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Domain, Elem: oidLoop}, nil
	case oidNoFields:
		return pgvalue.Type{OID: oid, Kind: pgvalue.Record, Fields: []uint32{}}, nil
	}
	return pgvalue.Type{}, fmt.Errorf("no type %d", oid)
}

func keep(*pgvalue.Leaf) pgvalue.Edit { return pgvalue.Edit{Keep: true} }

// collect returns every leaf's text, and fails unless an all-Keep rewrite is v itself.
func collect(t *testing.T, oid uint32, bin bool, v []byte) []string {
	t.Helper()
	got := []string{}
	out, null, err := pgvalue.Rewrite(nil, fakeTypes{}, oid, bin, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		got = append(got, string(l.Text))
		return pgvalue.Edit{Keep: true}
	})
	if err != nil {
		t.Fatalf("rewrite %q: %v", v, err)
	}
	if null || !sameSlice(out, v) {
		t.Fatalf("all-Keep rewrite of %q gave %q, not the value itself", v, out)
	}
	return got
}

func sameSlice(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func replaceAll(t *testing.T, oid uint32, bin bool, v []byte, with string) ([]byte, bool) {
	t.Helper()
	out, null, err := pgvalue.Rewrite(nil, fakeTypes{}, oid, bin, v, func(*pgvalue.Leaf) pgvalue.Edit {
		return pgvalue.Edit{Text: []byte(with)}
	})
	if err != nil {
		t.Fatalf("rewrite %q: %v", v, err)
	}
	return out, null
}

func u16(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint16(b, x)
	}
	return b
}

func u32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.BigEndian.AppendUint32(b, x)
	}
	return b
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestBinaryScalars decodes each binary scalar kind to PostgreSQL's text, and encodes
// that text back to the same bytes.
func TestBinaryScalars(t *testing.T) {
	for _, c := range []struct {
		oid  uint32
		v    []byte
		text string
	}{
		{pgvalue.OIDInt2, u16(42), "42"},
		{pgvalue.OIDInt4, u32(0xffffffff), "-1"},
		{pgvalue.OIDInt8, u64(1 << 62), "4611686018427387904"},
		{pgvalue.OIDOID, u32(4000000000), "4000000000"},
		{pgvalue.OIDFloat8, u64(0x3fb999999999999a), "0.1"},
		{pgvalue.OIDFloat4, u32(0x3fc00000), "1.5"},
		{pgvalue.OIDFloat8, u64(0x7ff0000000000000), "Infinity"},
		{pgvalue.OIDNumeric, u16(2, 0, 0, 2, 1, 5000), "1.50"},
		{pgvalue.OIDNumeric, u16(2, 0xffff, 0, 6, 1, 2000), "0.000120"},
		{pgvalue.OIDNumeric, u16(1, 1, 0x4000, 0, 1), "-10000"},
		{pgvalue.OIDNumeric, u16(0, 0, 0, 0), "0"},
		{pgvalue.OIDNumeric, u16(0, 0, 0xC000, 0), "NaN"},
		{pgvalue.OIDNumeric, u16(0, 0, 0xF000, 0), "-Infinity"},
		{pgvalue.OIDMoney, u64(uint64(^uint64(123450 - 1))), "-$1,234.50"},
		{pgvalue.OIDBool, []byte{1}, "t"},
		{pgvalue.OIDInet, []byte{2, 8, 0, 4, 10, 0, 0, 1}, "10.0.0.1/8"},
		{pgvalue.OIDInet, []byte{2, 32, 0, 4, 10, 0, 0, 1}, "10.0.0.1"},
		{pgvalue.OIDCIDR, cat([]byte{3, 32, 1, 16, 0x20, 0x01, 0x0d, 0xb8}, make([]byte, 12)), "2001:db8::/32"},
		{pgvalue.OIDInet, cat([]byte{3, 128, 0, 16}, make([]byte, 10), []byte{0xff, 0xff, 1, 2, 3, 4}), "::ffff:1.2.3.4"},
		{pgvalue.OIDMacaddr, []byte{8, 0, 0x2b, 1, 2, 3}, "08:00:2b:01:02:03"},
		{pgvalue.OIDUUID, cat(u32(0xa0eebc99, 0x9c0b4ef8, 0xbb6d6bb9, 0xbd380a11)), "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{pgvalue.OIDDate, u32(0), "2000-01-01"},
		{pgvalue.OIDDate, u32(uint32(0xffffffff - 10957 + 1)), "1970-01-01"},
		{pgvalue.OIDTime, u64(45296789000), "12:34:56.789"},
		{pgvalue.OIDTimetz, cat(u64(0), u32(uint32(0xffffffff-19800+1))), "00:00:00+05:30"},
		{pgvalue.OIDTimestamp, u64(1), "2000-01-01 00:00:00.000001"},
		{pgvalue.OIDTimestamptz, u64(0), "2000-01-01 00:00:00+00"},
		{pgvalue.OIDInterval, cat(u64(3600000000), u32(1, 14)), "1 year 2 mons 1 day 01:00:00"},
		{pgvalue.OIDVarbit, cat(u32(4), []byte{0xa0}), "1010"},
		{pgvalue.OIDJSONB, []byte("\x01{}"), "{}"},
		{pgvalue.OIDBytea, []byte{0, 0xff}, "\x00\xff"},
		{oidMood, []byte("happy"), "happy"},
	} {
		t.Run(fmt.Sprintf("%d %s", c.oid, c.text), func(t *testing.T) {
			got := collect(t, c.oid, true, c.v)
			if len(got) != 1 || got[0] != c.text {
				t.Fatalf("got %q, want %q", got, c.text)
			}
			out, null := replaceAll(t, c.oid, true, c.v, c.text)
			if null || !bytes.Equal(out, c.v) {
				t.Fatalf("encoding %q gave %x (null %v), want %x", c.text, out, null, c.v)
			}
		})
	}
}

// TestTextScalars: text-format scalars are their own text, bytea decoded from both
// bytea_output forms and written back in the form it came in.
func TestTextScalars(t *testing.T) {
	for _, c := range []struct {
		oid     uint32
		v, text string
		with    string
		want    string
	}{
		{pgvalue.OIDInt4, "12", "12", "0", "0"},
		{pgvalue.OIDBytea, `\x00ff5c`, "\x00\xff\\", "a\\\x01", `\x615c01`},
		{pgvalue.OIDBytea, `\000\377\\`, "\x00\xff\\", "a\\\x01", `a\\\001`},
		{pgvalue.OIDBytea, ``, "", "ab", `\x6162`},
		{pgvalue.OIDText, "secret", "secret", "s****t", "s****t"},
	} {
		if got := collect(t, c.oid, false, []byte(c.v)); len(got) != 1 || got[0] != c.text {
			t.Errorf("%d %q: leaf %q, want %q", c.oid, c.v, got, c.text)
		}
		if out, null := replaceAll(t, c.oid, false, []byte(c.v), c.with); null || string(out) != c.want {
			t.Errorf("%d %q: replaced by %q gave %q (null %v), want %q", c.oid, c.v, c.with, out, null, c.want)
		}
	}
}

// TestReplacementNotOfTheType: a replacement the type cannot hold makes the leaf NULL,
// never the raw value: the whole value at top level, the element inside an array.
func TestReplacementNotOfTheType(t *testing.T) {
	if out, null := replaceAll(t, pgvalue.OIDInt4, true, u32(4111), "abc"); !null {
		t.Errorf("binary int4: got %x, want NULL", out)
	}
	if out, null := replaceAll(t, pgvalue.OIDInet, false, []byte("10.0.0.1"), "ten"); !null {
		t.Errorf("text inet: got %q, want NULL", out)
	}
	if out, null := replaceAll(t, 603, true, make([]byte, 32), "(0,0),(0,0)"); !null {
		t.Errorf("binary box (unread): got %x, want NULL", out)
	}
	if out, _ := replaceAll(t, 1007, false, []byte("{1,2}"), "x"); string(out) != "{NULL,NULL}" {
		t.Errorf("text int4[]: got %q, want {NULL,NULL}", out)
	}
	arr := cat(u32(1, 0, pgvalue.OIDInt4, 2, 1, 4, 7, 4, 8))
	want := cat(u32(1, 1, pgvalue.OIDInt4, 2, 1, 0xffffffff, 0xffffffff))
	if out, _ := replaceAll(t, 1007, true, arr, "x"); !bytes.Equal(out, want) {
		t.Errorf("binary int4[]: got %x, want %x (NULLs and the has-NULL flag)", out, want)
	}
}

// TestTextArrayQuoting: replaced elements are quoted as array_out quotes them; kept
// elements keep their bytes.
func TestTextArrayQuoting(t *testing.T) {
	v := []byte(`[0:6]={a,"b c",NULL,x,y,z,w}`)
	repl := []string{"", "NULL", "a,b", `q"\`, "{x}", " s"}
	want := `[0:6]={"","NULL",NULL,"a,b","q\"\\","{x}"," s"}`
	i := 0
	out, _, err := pgvalue.Rewrite(nil, nil, 1009, false, v, func(*pgvalue.Leaf) pgvalue.Edit {
		i++
		return pgvalue.Edit{Text: []byte(repl[i-1])}
	})
	if err != nil || string(out) != want {
		t.Fatalf("got %q (%v), want %q", out, err, want)
	}
	if got := collect(t, 1009, false, []byte(` { "a\"b" , c\,d , e f ,"" , g\  } `)); fmt.Sprint(got) != fmt.Sprint([]string{`a"b`, "c,d", "e f", "", "g "}) {
		t.Fatalf("leaves %q", got)
	}
	if got := collect(t, 1020, false, []byte(`{(1,2),(0,0);(3,4),(0,0)}`)); len(got) != 2 || got[1] != "(3,4),(0,0)" {
		t.Fatalf("box[] with ; delimiter: leaves %q", got)
	}
}

// TestTextRecordQuoting: fields are read as record_in reads them and written as
// record_out writes them.
func TestTextRecordQuoting(t *testing.T) {
	v := []byte(`(a,"b ""c""",,"",d\,e)`)
	if got := collect(t, pgvalue.OIDRecord, false, v); fmt.Sprint(got) != fmt.Sprint([]string{"a", `b "c"`, "", "d,e"}) {
		t.Fatalf("leaves %q", got)
	}
	repl := []string{"", `q"\`, "(x)", "y z"}
	i := 0
	out, _, err := pgvalue.Rewrite(nil, nil, pgvalue.OIDRecord, false, v, func(*pgvalue.Leaf) pgvalue.Edit {
		i++
		return pgvalue.Edit{Text: []byte(repl[i-1])}
	})
	if want := `("","q""\\",,"(x)","y z")`; err != nil || string(out) != want {
		t.Fatalf("got %q (%v), want %q", out, err, want)
	}
}

// TestPaths: every leaf knows where it is, through a named composite, an array and a
// nested array.
func TestPaths(t *testing.T) {
	v := []byte(`{"(4111,10.0.0.1,\"{a,b}\")",NULL,"(,,)"}`)
	var got []string
	_, _, err := pgvalue.Rewrite(nil, fakeTypes{}, oidCardArr, false, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		got = append(got, fmt.Sprintf("%v %s %s", l.Path, l.Type.Kind, l.Text))
		return pgvalue.Edit{Keep: true}
	})
	want := []string{
		"[{0 true} {0 false}] text 4111",
		"[{0 true} {1 false}] inet 10.0.0.1",
		"[{0 true} {2 false} {0 true}] text a",
		"[{0 true} {2 false} {1 true}] text b",
	}
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

// TestRangeBoundToNull: a bound edited to NULL becomes unbounded, in both formats.
func TestRangeBoundToNull(t *testing.T) {
	v := cat([]byte{0x02}, u32(4, 1, 4, 10)) // [1,10)
	out, null, err := pgvalue.Rewrite(nil, nil, 3904, true, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		return pgvalue.Edit{Null: l.Path[0].Field == 0, Keep: l.Path[0].Field == 1}
	})
	if want := cat([]byte{0x08}, u32(4, 10)); err != nil || null || !bytes.Equal(out, want) {
		t.Fatalf("binary: got %x (%v), want %x", out, err, want)
	}
	out, _, err = pgvalue.Rewrite(nil, nil, 3904, false, []byte("[1,10)"), func(l *pgvalue.Leaf) pgvalue.Edit {
		return pgvalue.Edit{Null: l.Path[0].Field == 0, Keep: l.Path[0].Field == 1}
	})
	if err != nil || string(out) != "[,10)" {
		t.Fatalf("text: got %q (%v)", out, err)
	}
}

// TestMalformedValue: bytes that are not a value of their type are an error, never a
// panic and never a value passed on unread.
func TestMalformedValue(t *testing.T) {
	for _, c := range []struct {
		oid uint32
		bin bool
		v   string
	}{
		{1007, true, "\x00\x00\x00\x01"},
		{1007, true, string(cat(u32(7, 0, 23)))},
		{1007, true, string(cat(u32(1, 0, 23, 2, 1, 4, 7)))},
		{1007, true, string(cat(u32(1, 0, 23, 1, 1, 99, 7)))},
		{1007, true, string(cat(u32(1, 0, 23, 0x7fffffff, 1)))},
		{1007, true, string(cat(u32(2, 0, 23, 0x10000, 1, 0x10000, 1)))},
		{pgvalue.OIDRecord, true, string(cat(u32(1, 23, 8, 1)))},
		{pgvalue.OIDInt4, true, "\x00\x01"},
		{pgvalue.OIDNumeric, true, string(u16(1, 0, 0, 0))},
		{pgvalue.OIDNumeric, true, string(u16(1, 0, 0, 0, 10000))},
		{pgvalue.OIDInet, true, "\x02\x21\x00\x04\x00\x00\x00\x00"},
		{pgvalue.OIDJSONB, true, "\x02{}"},
		{3904, true, "\x00\x00\x00\x00\x09"},
		{1007, false, "{1,2"},
		{1007, false, "{1,}"},
		{1007, false, "{{1}"},
		{1007, false, `{"1}`},
		{1007, false, "{1}x"},
		{1007, false, "{{{{{{{1}}}}}}}"},
		{pgvalue.OIDRecord, false, "(a,b"},
		{oidCard, false, "(a,b)"},
		{oidCard, false, "(a,b,,d)"},
		{3904, false, "[1,2"},
		{3904, false, "1,2)"},
		{4451, false, "{[1,2),"},
		{pgvalue.OIDBytea, false, `\x0`},
		{pgvalue.OIDBytea, false, `\9`},
		{oidLoop, false, "1"},
		{oidNoFields, false, "(a)"},
		{424242, false, "x"},
	} {
		_, _, err := pgvalue.Rewrite(nil, fakeTypes{}, c.oid, c.bin, []byte(c.v), keep)
		if err == nil {
			t.Errorf("%d binary=%v %q: no error", c.oid, c.bin, c.v)
		}
	}
}

// TestTooDeep: a value nested deeper than Rewrite walks is refused.
func TestTooDeep(t *testing.T) {
	v := u32(23)
	v = cat(u32(1, 23, uint32(len(v))), v)
	for range 100 {
		v = cat(u32(1, pgvalue.OIDRecord, uint32(len(v))), v)
	}
	_, _, err := pgvalue.Rewrite(nil, nil, pgvalue.OIDRecord, true, v, keep)
	if !errors.Is(err, pgvalue.ErrTooDeep) {
		t.Fatalf("got %v, want ErrTooDeep", err)
	}
}

// TestNoAllocationWhenKept: the hot path, a value in which nothing changes, costs no
// allocation. (With a Rewriter of its own: under the race detector, sync.Pool drops
// what it holds at random.)
func TestNoAllocationWhenKept(t *testing.T) {
	var r pgvalue.Rewriter
	for name, b := range benchValues() {
		allocs := testing.AllocsPerRun(100, func() {
			if _, _, err := r.Rewrite(nil, nil, b.oid, b.bin, b.v, keep); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per all-Keep rewrite", name, allocs)
		}
	}
}

type benchValue struct {
	oid uint32
	bin bool
	v   []byte
}

func benchValues() map[string]benchValue {
	inets := cat(u32(1, 0, pgvalue.OIDInet, 10, 1))
	for i := range 10 {
		inets = cat(inets, u32(8), []byte{2, 32, 0, 4, 10, 0, 0, byte(i)})
	}
	rec := u32(5)
	rec = cat(rec, u32(pgvalue.OIDInt8, 8), u64(4111111111111111))
	rec = cat(rec, u32(pgvalue.OIDText, 11), []byte("123-45-6789"))
	rec = cat(rec, u32(pgvalue.OIDInet, 8), []byte{2, 32, 0, 4, 10, 0, 0, 1})
	rec = cat(rec, u32(pgvalue.OIDNumeric, 12), u16(2, 0, 0, 2, 1, 5000))
	rec = cat(rec, u32(pgvalue.OIDTimestamptz, 8), u64(1<<50))
	return map[string]benchValue{
		"Int8Binary":     {pgvalue.OIDInt8, true, u64(4111111111111111)},
		"IntArrayText":   {1007, false, []byte("{1,22,333,4444,55555,666666,7777777,88888888,999999999,10}")},
		"InetArrayBin":   {1041, true, inets},
		"Record5Binary":  {pgvalue.OIDRecord, true, rec},
		"Record5Text":    {pgvalue.OIDRecord, false, []byte(`(4111111111111111,123-45-6789,10.0.0.1,1.50,"2024-01-01 00:00:00+00")`)},
		"TextArrayQuote": {1009, false, []byte(`{"a b","c\"d",e}`)},
	}
}

func benchmarkRewrite(b *testing.B, name string) {
	v := benchValues()[name]
	b.ReportAllocs()
	b.SetBytes(int64(len(v.v)))
	leaves := 0
	edit := func(l *pgvalue.Leaf) pgvalue.Edit {
		leaves += len(l.Text)
		return pgvalue.Edit{Keep: true}
	}
	for b.Loop() {
		if _, _, err := pgvalue.Rewrite(nil, nil, v.oid, v.bin, v.v, edit); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRewriteInt8Binary(b *testing.B)      { benchmarkRewrite(b, "Int8Binary") }
func BenchmarkRewriteIntArrayText(b *testing.B)    { benchmarkRewrite(b, "IntArrayText") }
func BenchmarkRewriteInetArrayBinary(b *testing.B) { benchmarkRewrite(b, "InetArrayBin") }
func BenchmarkRewriteRecord5Binary(b *testing.B)   { benchmarkRewrite(b, "Record5Binary") }
func BenchmarkRewriteRecord5Text(b *testing.B)     { benchmarkRewrite(b, "Record5Text") }
func BenchmarkRewriteTextArrayQuoted(b *testing.B) { benchmarkRewrite(b, "TextArrayQuote") }

// BenchmarkRewriteInetArrayBinaryMasked is the cost when every element is replaced.
func BenchmarkRewriteInetArrayBinaryMasked(b *testing.B) {
	v := benchValues()["InetArrayBin"]
	b.ReportAllocs()
	standIn := []byte("0.0.0.0")
	edit := func(*pgvalue.Leaf) pgvalue.Edit { return pgvalue.Edit{Text: standIn} }
	var dst []byte
	for b.Loop() {
		out, _, err := pgvalue.Rewrite(dst[:0], nil, v.oid, v.bin, v.v, edit)
		if err != nil {
			b.Fatal(err)
		}
		dst = out
	}
}
