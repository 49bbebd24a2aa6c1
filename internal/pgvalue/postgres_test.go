package pgvalue_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
	"github.com/hoopgw/hoop/internal/pgvalue"
	"github.com/hoopgw/hoop/mask"
)

// catalogTypes is a Types over pg_type, pg_attribute and pg_range, as the gateway's
// own catalog must be: domains, enums, composites, ranges and their arrays.
type catalogTypes struct {
	conn  *pgconn.PgConn
	cache map[uint32]pgvalue.Type
}

func (c *catalogTypes) Type(oid uint32) (pgvalue.Type, error) {
	if t, ok := c.cache[oid]; ok {
		return t, nil
	}
	res := c.conn.ExecParams(context.Background(), `
SELECT t.typtype, t.typbasetype, t.typelem, t.typdelim, t.typlen, t.typcategory,
	COALESCE((SELECT rngsubtype FROM pg_range WHERE rngtypid = t.oid), 0),
	COALESCE((SELECT rngtypid FROM pg_range WHERE rngmultitypid = t.oid), 0),
	COALESCE((SELECT string_agg(atttypid::text, ',' ORDER BY attnum) FROM pg_attribute
		WHERE attrelid = t.typrelid AND attnum > 0 AND NOT attisdropped), '')
FROM pg_type t WHERE t.oid = $1`, [][]byte{[]byte(strconv.FormatUint(uint64(oid), 10))}, nil, nil, nil).Read()
	if res.Err != nil {
		return pgvalue.Type{}, fmt.Errorf("catalog type %d: %w", oid, res.Err)
	}
	if len(res.Rows) != 1 {
		return pgvalue.Type{}, fmt.Errorf("catalog type %d: not found", oid)
	}
	row := res.Rows[0]
	num := func(i int) uint32 {
		n, _ := strconv.ParseUint(string(row[i]), 10, 32)
		return uint32(n)
	}
	t := pgvalue.Type{OID: oid}
	switch string(row[0]) {
	case "d":
		t.Kind, t.Elem = pgvalue.Domain, num(1)
	case "e":
		t.Kind = pgvalue.Enum
	case "c":
		t.Kind, t.Fields = pgvalue.Record, []uint32{}
		for f := range strings.SplitSeq(string(row[8]), ",") {
			if f != "" {
				n, _ := strconv.ParseUint(f, 10, 32)
				t.Fields = append(t.Fields, uint32(n))
			}
		}
	case "r":
		t.Kind, t.Elem = pgvalue.Range, num(6)
	case "m":
		t.Kind, t.Elem = pgvalue.Multirange, num(7)
	case "b":
		if string(row[5]) == "A" && num(2) != 0 && string(row[4]) == "-1" {
			t.Kind, t.Elem, t.Delim = pgvalue.Array, num(2), row[3][0]
		}
	}
	c.cache[oid] = t
	return t, nil
}

const pgSetup = `
CREATE DOMAIN note_d AS text;
CREATE DOMAIN posint AS int4 CHECK (VALUE >= 0);
CREATE DOMAIN ips AS inet[];
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE card AS (number text, ip inet, tags text[], amount numeric);
CREATE TYPE holder AS (name text, cards card[]);
CREATE TYPE floatrange AS RANGE (subtype = float8);
CREATE TABLE dropped_t (a int, b text, c inet);
ALTER TABLE dropped_t DROP COLUMN a;
`

// pgCase is one SELECT expression: the leaves Rewrite must find in text format (what
// PostgreSQL prints for each scalar), and in binary format when they differ (a record's
// fields are text in text format but typed in binary). NULL leaves are not listed.
type pgCase struct {
	expr    string
	set     string   // a setting for this case: "bytea_output = 'escape'"
	text    []string // leaves in text format
	binary  []string // leaves in binary format; nil: the same as text
	noParam bool     // an anonymous record: PostgreSQL takes none as a parameter
	rng     bool     // holds a range, which PostgreSQL may normalise after a rewrite
}

var pgCases = []pgCase{
	{expr: `'4111111111111111'::text`, text: []string{"4111111111111111"}},
	{expr: `'abc'::varchar(10)`, text: []string{"abc"}},
	{expr: `'ab'::char(4)`, text: []string{"ab  "}},
	{expr: `'relname'::name`, text: []string{"relname"}},
	{expr: `'x'::"char"`, text: []string{"x"}},
	{expr: `'<a>4111</a>'::xml`, text: []string{"<a>4111</a>"}},
	{expr: `42::int2`, text: []string{"42"}},
	{expr: `(-2147483648)::int4`, text: []string{"-2147483648"}},
	{expr: `9223372036854775807::int8`, text: []string{"9223372036854775807"}},
	{expr: `4000000000::oid`, text: []string{"4000000000"}},
	{expr: `1.5::float4`, text: []string{"1.5"}},
	{expr: `(-0.1)::float8`, text: []string{"-0.1"}},
	{expr: `1e100::float8`, text: []string{"1e+100"}},
	{expr: `123456789012345678::float8`, text: []string{"1.2345678901234568e+17"}},
	{expr: `ARRAY[1e-5::float8, 'Infinity', 'NaN', '-0', 123456789012345, 1e15]`, text: []string{"1e-05", "Infinity", "NaN", "-0", "123456789012345", "1e+15"}},
	{expr: `ARRAY[1e6::float4, 123456, '-Infinity', 3.4e38]`, text: []string{"1e+06", "123456", "-Infinity", "3.4e+38"}},
	{expr: `1234567890123456.78::numeric`, text: []string{"1234567890123456.78"}},
	{expr: `ARRAY[0.000120::numeric(10,6), 'NaN', '-Infinity', -12.5::numeric(10,3), 0, 1e20, 10000, 0.5]`,
		text: []string{"0.000120", "NaN", "-Infinity", "-12.500", "0", "100000000000000000000", "10000", "0.5"}},
	{expr: `(-1234.5)::money`, set: "lc_monetary = 'C'", text: []string{"-$1,234.50"}},
	{expr: `ARRAY[12::money, 1000000::money]`, set: "lc_monetary = 'C'", text: []string{"$12.00", "$1,000,000.00"}},
	{expr: `ARRAY[true, false]`, text: []string{"t", "f"}},
	{expr: `'192.168.0.1'::inet`, text: []string{"192.168.0.1"}},
	{expr: `'10.1.0.0/16'::cidr`, text: []string{"10.1.0.0/16"}},
	{expr: `ARRAY['2001:db8::1/64'::inet, '::ffff:1.2.3.4', '::2', '::1.2.3.4', '1:0:0:2:0:0:0:3', '1:0:2:0:3:0:4:0', '::', 'fe80::']`,
		text: []string{"2001:db8::1/64", "::ffff:1.2.3.4", "::2", "::1.2.3.4", "1:0:0:2::3", "1:0:2:0:3:0:4:0", "::", "fe80::"}},
	{expr: `ARRAY[['10.0.0.1'::inet, '::1'], [NULL, '192.168.1.0/24'::inet]]`, text: []string{"10.0.0.1", "::1", "192.168.1.0/24"}},
	{expr: `ARRAY['2001:db8::/32'::cidr, '10.0.0.0/8']`, text: []string{"2001:db8::/32", "10.0.0.0/8"}},
	{expr: `ARRAY['08:00:2b:01:02:03'::macaddr]`, text: []string{"08:00:2b:01:02:03"}},
	{expr: `'08:00:2b:01:02:03:04:05'::macaddr8`, text: []string{"08:00:2b:01:02:03:04:05"}},
	{expr: `ARRAY['a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid]`, text: []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
	{expr: `'\x00ff5c41'::bytea`, text: []string{"\x00\xff\\A"}},
	{expr: `'\x00ff5c41'::bytea`, set: "bytea_output = 'escape'", text: []string{"\x00\xff\\A"}},
	{expr: `ARRAY['\xdeadbeef'::bytea, '\x', '4111']`, text: []string{"\xde\xad\xbe\xef", "", "4111"}},
	{expr: `ARRAY['\xdeadbeef'::bytea, '\x', 'a b\\']`, set: "bytea_output = 'escape'", text: []string{"\xde\xad\xbe\xef", "", "a b\\"}},
	{expr: `'{"a": "4111111111111111"}'::json`, text: []string{`{"a": "4111111111111111"}`}},
	{expr: `ARRAY['{"a": 1}'::jsonb, '[]']`, text: []string{`{"a": 1}`, "[]"}},
	{expr: `ARRAY['2024-02-29'::date, '0044-03-15 BC', 'infinity', '-infinity', '12345-01-01']`,
		text: []string{"2024-02-29", "0044-03-15 BC", "infinity", "-infinity", "12345-01-01"}},
	{expr: `ARRAY['12:34:56.789'::time, '00:00', '24:00']`, text: []string{"12:34:56.789", "00:00:00", "24:00:00"}},
	{expr: `ARRAY['12:00:00-03:30'::timetz, '01:02+05:30:15', '23:59:59.999999+00']`, text: []string{"12:00:00-03:30", "01:02:00+05:30:15", "23:59:59.999999+00"}},
	{expr: `ARRAY['2024-01-02 03:04:05.000006'::timestamp, '1999-12-31 23:59:59', '0100-01-01 00:00 BC', 'infinity']`,
		text: []string{"2024-01-02 03:04:05.000006", "1999-12-31 23:59:59", "0100-01-01 00:00:00 BC", "infinity"}},
	{expr: `ARRAY['2024-01-02 03:04:05+02'::timestamptz, '-infinity']`, text: []string{"2024-01-02 01:04:05+00", "-infinity"}},
	{expr: `ARRAY['1 year 2 mons -3 days 04:05:06.5'::interval, '-1 day +02:00:00', '-1 year -2 mons +3 days -04:05:06.5', '0', '1 day -1 second', '100 hours']`,
		text: []string{"1 year 2 mons -3 days +04:05:06.5", "-1 days +02:00:00", "-1 years -2 mons +3 days -04:05:06.5", "00:00:00", "1 day -00:00:01", "100:00:00"}},
	{expr: `ARRAY[B'1010', B'']::varbit[]`, text: []string{"1010", ""}},
	{expr: `B'101'::bit(3)`, text: []string{"101"}},
	{expr: `'happy'::mood`, text: []string{"happy"}},
	{expr: `ARRAY['happy'::mood, 'sad']`, text: []string{"happy", "sad"}},
	{expr: `'secret 4111'::note_d`, text: []string{"secret 4111"}},
	{expr: `5::posint`, text: []string{"5"}},
	{expr: `ARRAY['x y'::note_d]`, text: []string{"x y"}},
	{expr: `ARRAY['1.2.3.4'::inet]::ips`, text: []string{"1.2.3.4"}},
	{expr: `ARRAY['4111111111111111', NULL, '', 'NULL', 'null', 'a b', 'q"uo\te', '{x}', 'a,b', ' lead']::text[]`,
		text: []string{"4111111111111111", "", "NULL", "null", "a b", `q"uo\te`, "{x}", "a,b", " lead"}},
	{expr: `ARRAY[ARRAY['a"b', 'c\d'], ARRAY['NULL', NULL]]`, text: []string{`a"b`, `c\d`, "NULL"}},
	{expr: `'[0:1]={1,2}'::int[]`, text: []string{"1", "2"}},
	{expr: `'[1:2][3:4]={{1,2},{3,4}}'::int8[]`, text: []string{"1", "2", "3", "4"}},
	{expr: `ARRAY[NULL::int]`, text: []string{}},
	{expr: `'{}'::text[]`, text: []string{}},
	{expr: `ARRAY['ab'::char(3)]`, text: []string{"ab "}},
	{expr: `'{"(1,2),(3,4)";"(5,6),(0,0)"}'::box[]`, text: []string{"(3,4),(1,2)", "(5,6),(0,0)"}, binary: []string{}},
	{expr: `point(1, 2)`, text: []string{"(1,2)"}, binary: []string{}},
	{expr: `ROW('4111111111111111', '10.0.0.1'::inet)`, text: []string{"4111111111111111", "10.0.0.1"}, noParam: true},
	{expr: `ROW(1, NULL, '', 'a,b', 'q"x', ARRAY[1,2], 'p\q')`,
		text: []string{"1", "", "a,b", `q"x`, "{1,2}", `p\q`}, binary: []string{"1", "", "a,b", `q"x`, "1", "2", `p\q`}, noParam: true},
	{expr: `ROW(NULL, NULL)`, text: []string{}, noParam: true},
	{expr: `ROW(1, ROW('x y', ARRAY['1.2.3.4'::inet]))`, text: []string{"1", `("x y",{1.2.3.4})`}, binary: []string{"1", "x y", "1.2.3.4"}, noParam: true},
	{expr: `ARRAY[ROW(1, 'a'), ROW(2, NULL)]`, text: []string{"1", "a", "2"}, noParam: true},
	{expr: `ROW('{"k": "v"}'::jsonb)`, text: []string{`{"k": "v"}`}, noParam: true},
	{expr: `ROW('4111111111111111', '10.0.0.1', ARRAY['a', 'b c'], 12.5)::card`, text: []string{"4111111111111111", "10.0.0.1", "a", "b c", "12.5"}},
	{expr: `ARRAY[ROW('4111', '::1', ARRAY['x'], 1)::card, NULL, ROW(NULL, NULL, NULL, NULL)::card, ROW('', NULL, '{}', NULL)::card]`,
		text: []string{"4111", "::1", "x", "1", ""}},
	{expr: `ROW('bob', ARRAY[ROW('4111 "q"', '10.0.0.1', '{"a,b",NULL}', 0)::card])::holder`, text: []string{"bob", `4111 "q"`, "10.0.0.1", "a,b", "0"}},
	{expr: `ROW('b', '1.2.3.4')::dropped_t`, text: []string{"b", "1.2.3.4"}},
	{expr: `int4range(1, 10)`, text: []string{"1", "10"}, rng: true},
	{expr: `numrange(1.5, NULL)`, text: []string{"1.5"}, rng: true},
	{expr: `'empty'::int8range`, text: []string{}, rng: true},
	{expr: `tstzrange('2024-01-01 00:00+00', '2024-06-01 00:00+00', '[]')`, text: []string{"2024-01-01 00:00:00+00", "2024-06-01 00:00:00+00"}, rng: true},
	{expr: `daterange('2024-01-01', '2024-02-01')`, text: []string{"2024-01-01", "2024-02-01"}, rng: true},
	{expr: `'[1.5,2.5]'::floatrange`, text: []string{"1.5", "2.5"}, rng: true},
	{expr: `ARRAY[int4range(1, 2), NULL, int4range(NULL, 5)]`, text: []string{"1", "2", "5"}, rng: true},
	{expr: `int4multirange(int4range(1, 3), int4range(5, 7))`, text: []string{"1", "3", "5", "7"}, rng: true},
	{expr: `'{}'::int4multirange`, text: []string{}, rng: true},
	{expr: `tsmultirange(tsrange('2024-01-01', '2024-01-02'), tsrange('2024-02-01', NULL))`, text: []string{"2024-01-01 00:00:00", "2024-01-02 00:00:00", "2024-02-01 00:00:00"}, rng: true},
}

// standIn is the replacement the test puts in every leaf: a value of the leaf's type,
// with characters that need quoting for text.
func standIn(t *testing.T, l *pgvalue.Leaf) pgvalue.Edit {
	switch l.Type.Kind {
	case pgvalue.Text:
		if l.Type.OID == pgvalue.OIDChar {
			return pgvalue.Edit{Text: []byte("m")}
		}
		return pgvalue.Edit{Text: []byte(`m "a",{s}\ (k) [x]`)}
	case pgvalue.Enum:
		return pgvalue.Edit{Text: []byte("sad")}
	case pgvalue.Unknown:
		return pgvalue.Edit{Keep: true}
	case pgvalue.Bytea:
		return pgvalue.Edit{Text: []byte("m\\\x00\"")}
	case pgvalue.Money:
		return pgvalue.Edit{Text: []byte("$0.00")}
	case pgvalue.Bit:
		return pgvalue.Edit{Text: bytes.Repeat([]byte("0"), len(l.Text))}
	case pgvalue.Inet:
		if l.Type.OID == pgvalue.OIDCIDR {
			return pgvalue.Edit{Text: []byte("0.0.0.0/32")}
		}
	}
	b, ok := mask.StandIn(l.Type.OID)
	if !ok {
		t.Fatalf("no stand-in for %s %d", l.Type.Kind, l.Type.OID)
	}
	return pgvalue.Edit{Text: b}
}

type gotLeaf struct {
	path string
	kind pgvalue.Kind
	text string
}

// leaves returns every leaf of v, and checks that an all-Keep rewrite is v itself.
func leaves(t *testing.T, types pgvalue.Types, oid uint32, bin bool, v []byte) []gotLeaf {
	t.Helper()
	var got []gotLeaf
	out, null, err := pgvalue.Rewrite(nil, types, oid, bin, v, func(l *pgvalue.Leaf) pgvalue.Edit {
		if l.Decoded || !bin {
			got = append(got, gotLeaf{fmt.Sprint(l.Path), l.Type.Kind, string(l.Text)})
		}
		return pgvalue.Edit{Keep: true}
	})
	if err != nil {
		t.Fatalf("rewrite %q: %v", v, err)
	}
	if null || len(out) != len(v) || (len(v) > 0 && &out[0] != &v[0]) {
		t.Fatalf("all-Keep rewrite of %q gave %q (null %v), not the value itself", v, out, null)
	}
	return got
}

func texts(ls []gotLeaf) []string {
	out := []string{}
	for _, l := range ls {
		out = append(out, l.text)
	}
	return out
}

// TestAgainstPostgres reads values of many types from a real PostgreSQL in text and
// binary format, checks each scalar's text against what PostgreSQL prints, then puts a
// stand-in in every scalar (and then NULL in every one) and sends the value back in
// the same format, to prove PostgreSQL accepts the rewrite and reads the stand-ins.
func TestAgainstPostgres(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	if err := pg.Exec(ctx, pgSetup); err != nil {
		t.Fatal(err)
	}
	conn, err := pgconn.Connect(ctx, pg.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1")
	types := &catalogTypes{conn: conn, cache: map[uint32]pgvalue.Type{}}
	for _, c := range pgCases {
		name := c.expr
		if c.set != "" {
			name += " " + c.set
		}
		t.Run(name, func(t *testing.T) {
			if c.set != "" {
				exec("SET " + c.set)
				defer exec("RESET " + strings.SplitN(c.set, " ", 2)[0])
			}
			for _, format := range []int16{0, 1} {
				bin := format == 1
				res := conn.ExecParams(ctx, "SELECT "+c.expr, nil, nil, nil, []int16{format}).Read()
				if res.Err != nil {
					t.Fatal(res.Err)
				}
				oid := res.FieldDescriptions[0].DataTypeOID
				v := res.Rows[0][0]
				got := leaves(t, types, oid, bin, v)
				want := c.text
				if bin && c.binary != nil {
					want = c.binary
				}
				if diff := cmp.Diff(want, texts(got)); diff != "" {
					t.Fatalf("format %d: leaves of %q (-want +got):\n%s", format, v, diff)
				}
				if c.noParam {
					continue
				}
				// Every leaf a stand-in: PostgreSQL must take the value back and print
				// the stand-ins.
				var wantBack []string
				out, null, err := pgvalue.Rewrite(nil, types, oid, bin, v, func(l *pgvalue.Leaf) pgvalue.Edit {
					e := standIn(t, l)
					if !l.Decoded && bin {
						return e
					}
					w := string(e.Text)
					if e.Keep {
						w = string(l.Text)
					} else if l.Type.OID == pgvalue.OIDChar {
						w = "m"
					}
					wantBack = append(wantBack, w)
					return e
				})
				if err != nil || null {
					t.Fatalf("format %d: rewrite: %v (null %v)", format, err, null)
				}
				back := roundTrip(t, conn, oid, format, out)
				gotBack := texts(leaves(t, types, oid, bin, back))
				if wantBack == nil {
					wantBack = []string{}
				}
				if c.rng && len(gotBack) < len(wantBack) {
					wantBack = wantBack[:len(gotBack)] // [0,0) is empty
				}
				if diff := cmp.Diff(wantBack, gotBack); diff != "" {
					t.Fatalf("format %d: sent %q, PostgreSQL read back %q (-want +got):\n%s", format, out, back, diff)
				}
				// Every leaf NULL: a scalar becomes NULL; a container keeps its shape.
				out, null, err = pgvalue.Rewrite(nil, types, oid, bin, v, func(*pgvalue.Leaf) pgvalue.Edit {
					return pgvalue.Edit{Null: true}
				})
				if err != nil {
					t.Fatalf("format %d: rewrite to NULL: %v", format, err)
				}
				if null {
					if len(c.text) == 0 {
						t.Fatalf("format %d: a value with no leaves became NULL", format)
					}
					continue
				}
				back = roundTrip(t, conn, oid, format, out)
				if left := leaves(t, types, oid, bin, back); len(left) != 0 && !slicesAllUnknown(left) {
					t.Fatalf("format %d: sent %q, leaves left %v", format, out, left)
				}
			}
		})
	}
}

func slicesAllUnknown(ls []gotLeaf) bool {
	for _, l := range ls {
		if l.kind != pgvalue.Unknown {
			return false
		}
	}
	return true
}

// roundTrip sends v as a parameter of type oid in format and reads it back in format.
func roundTrip(t *testing.T, conn *pgconn.PgConn, oid uint32, format int16, v []byte) []byte {
	t.Helper()
	res := conn.ExecParams(context.Background(), "SELECT $1", [][]byte{v}, []uint32{oid}, []int16{format}, []int16{format}).Read()
	if res.Err != nil {
		t.Fatalf("PostgreSQL refused %q as type %d in format %d: %v", v, oid, format, res.Err)
	}
	return res.Rows[0][0]
}

// TestBuiltinCoversCatalog: every base, range and multirange type and every array of
// them in a fresh database's pg_catalog (but the arrays of the catalog's own row
// types, whose OIDs initdb assigns) is known to Builtin, with the catalog's
// element type and delimiter, so no built-in type falls to the caller's catalog.
func TestBuiltinCoversCatalog(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, pg.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res := conn.ExecParams(ctx, `
SELECT t.oid, t.typname, t.typtype, t.typelem, t.typdelim, t.typcategory = 'A' AND t.typlen = -1,
	COALESCE((SELECT rngsubtype FROM pg_range WHERE rngtypid = t.oid), 0),
	COALESCE((SELECT rngtypid FROM pg_range WHERE rngmultitypid = t.oid), 0)
FROM pg_type t
WHERE t.typnamespace = 'pg_catalog'::regnamespace AND t.typtype IN ('b', 'r', 'm') AND t.typrelid = 0
	AND t.oid NOT IN ('int2vector'::regtype, 'oidvector'::regtype) -- space-separated in text: read as Unknown
	AND NOT EXISTS (SELECT FROM pg_type e WHERE e.oid = t.typelem AND e.typrelid <> 0) -- arrays of catalog rows`, nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	if len(res.Rows) < 150 {
		t.Fatalf("only %d types in pg_catalog", len(res.Rows))
	}
	for _, row := range res.Rows {
		oid, _ := strconv.ParseUint(string(row[0]), 10, 32)
		elem, _ := strconv.ParseUint(string(row[3]), 10, 32)
		sub, _ := strconv.ParseUint(string(row[6]), 10, 32)
		rng, _ := strconv.ParseUint(string(row[7]), 10, 32)
		name := string(row[1])
		got, ok := pgvalue.Builtin(uint32(oid))
		switch {
		case !ok:
			t.Errorf("%s (%d): not known to Builtin", name, oid)
		case string(row[5]) == "t" && (got.Kind != pgvalue.Array || got.Elem != uint32(elem) || got.Delim != row[4][0]):
			t.Errorf("%s (%d): %+v, want an array of %d delimited by %q", name, oid, got, elem, row[4])
		case string(row[2]) == "r" && (got.Kind != pgvalue.Range || got.Elem != uint32(sub)):
			t.Errorf("%s (%d): %+v, want a range of %d", name, oid, got, sub)
		case string(row[2]) == "m" && (got.Kind != pgvalue.Multirange || got.Elem != uint32(rng)):
			t.Errorf("%s (%d): %+v, want a multirange of %d", name, oid, got, rng)
		}
	}
}

// TestBinaryFormatEvasion is the regression test of the class "a secret inside a
// value that is not plain text passes unmasked": a binary inet, an array, a record, a
// numeric, read by a driver in binary format as raw bytes, and the same values in text
// format, where one secret used to turn the whole array into {} or NULL. Each value
// comes from a real PostgreSQL; the edit replaces only the leaves that hold a secret.
// The test proves that every secret reaches the edit function as text, that none of
// it is left in the rewritten bytes (as text or as its binary encoding), and that the
// other scalars of the value survive.
func TestBinaryFormatEvasion(t *testing.T) {
	pg := pgtest.Start(t)
	ctx := context.Background()
	if err := pg.Exec(ctx, pgSetup); err != nil {
		t.Fatal(err)
	}
	conn, err := pgconn.Connect(ctx, pg.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	types := &catalogTypes{conn: conn, cache: map[uint32]pgvalue.Type{}}
	secrets := []string{"4111111111111111", "10.1.2.3"}
	// What a secret looks like in binary format: an int8, an inet's address.
	rawSecrets := [][]byte{u64(4111111111111111), {10, 1, 2, 3}, []byte("4111111111111111")}
	for _, c := range []struct {
		expr    string
		survive []string // leaves that hold no secret and must come back as they were
	}{
		{`ARRAY[4111111111111111::int8, 42]`, []string{"42"}},
		{`ROW(4111111111111111::numeric, '10.1.2.3'::inet, 'ok')`, []string{"ok"}},
		{`(SELECT array_agg(ip) FROM (VALUES ('10.1.2.3'::inet), ('10.9.9.9')) v(ip))`, []string{"10.9.9.9"}},
		{`ARRAY[ROW('4111111111111111', '10.9.9.9', ARRAY['x', 'card 4111111111111111'], 7)::card]`, []string{"10.9.9.9", "x", "7"}},
		{`ARRAY[['10.1.2.3'::cidr, '10.9.9.0/24'::cidr], ['10.1.2.3/32'::cidr, NULL]]`, []string{"10.9.9.0/24"}},
		{`ARRAY['{"card": "4111111111111111"}'::jsonb, '{"n": 1}']`, []string{`{"n": 1}`}},
		{`4111111111111111::numeric`, nil},
		{`'10.1.2.3'::inet`, nil},
		{`int8range(4111111111111111, NULL)`, nil},
	} {
		for _, format := range []int16{0, 1} {
			bin := format == 1
			res := conn.ExecParams(ctx, "SELECT "+c.expr, nil, nil, nil, []int16{format}).Read()
			if res.Err != nil {
				t.Fatalf("%s: %v", c.expr, res.Err)
			}
			oid, v := res.FieldDescriptions[0].DataTypeOID, res.Rows[0][0]
			found := 0
			out, null, err := pgvalue.Rewrite(nil, types, oid, bin, v, func(l *pgvalue.Leaf) pgvalue.Edit {
				for _, s := range secrets {
					if bytes.Contains(l.Text, []byte(s)) {
						found++
						if b, ok := mask.StandIn(l.Type.OID); ok {
							return pgvalue.Edit{Text: b}
						}
						return pgvalue.Edit{Text: bytes.ReplaceAll(l.Text, []byte(s), []byte("****"))}
					}
				}
				return pgvalue.Edit{Keep: true}
			})
			if err != nil || null {
				t.Fatalf("%s format %d: %v (null %v)", c.expr, format, err, null)
			}
			if found == 0 {
				t.Fatalf("%s format %d: no secret reached the edit function in %q", c.expr, format, v)
			}
			for _, raw := range rawSecrets {
				if bytes.Contains(out, raw) {
					t.Errorf("%s format %d: %q still holds %q", c.expr, format, out, raw)
				}
			}
			left := texts(leaves(t, types, oid, bin, out))
			for _, s := range c.survive {
				if !strings.Contains(strings.Join(left, "\x00")+"\x00", s+"\x00") {
					t.Errorf("%s format %d: %q lost %q (leaves %q)", c.expr, format, out, s, left)
				}
			}
		}
	}
}
