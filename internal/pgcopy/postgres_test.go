package pgcopy_test

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgcopy"
	"github.com/hoopgw/hoop/internal/pgtest"
)

// nastyValues are the values of column a of table nasty (nil is NULL); b holds them in
// the reverse order, and the other columns are built from a and b.
var nastyValues = [][]byte{
	[]byte(""), nil, []byte("plain"), []byte("tab\there"), []byte("new\nline"),
	[]byte("cr\r and crlf\r\n"), []byte(`back\slash`), []byte(`\N`), []byte(`\\N`), []byte(`\`),
	[]byte(`say "hi"`), []byte(`""`), []byte(`"`), []byte("comma,here"), []byte("semi;colon"),
	[]byte("pipe|here"), []byte("it's"), []byte("żółć ✓ 日本語 🐘"), []byte("ctl \x01\x02\x07\x1b\x7f"),
	[]byte("\b\f\v"), []byte("NIL"), []byte("NULL"), []byte(`\.`), []byte("."), []byte(" spaced "),
	[]byte(`\x41\101`), []byte("#;,|\t\"'\\"), []byte(strings.Repeat("long ", 400)), []byte("\x01"),
	[]byte(`{"a": 1}`), []byte("x"),
}

// nastyColumns are the columns of nasty in order; the last name holds a quote, a comma and
// a backslash, so that the header line needs escaping and quoting.
var nastyColumns = []string{"id", "a", "b", "arr", "j", "by", `odd "col", x\y`}

func nastySQL() string {
	lit := func(v []byte) string {
		if v == nil {
			return "NULL"
		}
		return "'" + strings.ReplaceAll(string(v), "'", "''") + "'"
	}
	var rows []string
	n := len(nastyValues)
	for i, v := range nastyValues {
		rows = append(rows, fmt.Sprintf("(%d, %s, %s)", i+1, lit(v), lit(nastyValues[n-1-i])))
	}
	return `CREATE TABLE nasty (id int PRIMARY KEY, a text, b text, arr text[], j jsonb, "by" bytea,
		"odd ""col"", x\y" varchar);
	INSERT INTO nasty SELECT v.id, v.a, v.b, ARRAY[v.a, v.b, NULL, ''], jsonb_build_object('a', v.a, 'b', v.b),
		convert_to(coalesce(v.a, ''), 'UTF8'), v.a || '|' || v.b
	FROM (VALUES ` + strings.Join(rows, ",\n") + `) v(id, a, b) ORDER BY v.id;`
}

// rowWriter keeps each Write as a row: pgconn's CopyTo writes each CopyData message's
// payload with one Write. Were that to change, Split would see several rows in one and
// fail the test, not pass it.
type rowWriter struct{ rows [][]byte }

func (w *rowWriter) Write(p []byte) (int, error) {
	w.rows = append(w.rows, bytes.Clone(p))
	return len(p), nil
}

// copyCase is one COPY TO STDOUT and the options its rows are written with.
type copyCase struct {
	name    string
	copy    string
	o       pgcopy.Options
	columns []string // the columns copied, in order: nastyColumns when nil
	ordered bool     // the rows come in id order (a COPY of a query); otherwise sorted by id
	// forceQuoted are the positions of FORCE_QUOTE columns, whose values must come quoted.
	forceQuoted []int
	// ambiguous: a non-NULL value is spelled like the text NULL string, so Split must
	// report it as NULL (text format writes both the same way); the test checks it happens.
	ambiguous bool
}

func withOpts(csv bool, set func(*pgcopy.Options)) pgcopy.Options {
	o := pgcopy.Defaults(csv)
	if set != nil {
		set(&o)
	}
	return o
}

var copyCases = []copyCase{
	{name: "text defaults", copy: "COPY nasty TO STDOUT", o: pgcopy.Defaults(false)},
	{
		name: "text header, delimiter, null", copy: "COPY nasty TO STDOUT (FORMAT text, HEADER, DELIMITER '|', NULL 'NIL')",
		o: withOpts(false, func(o *pgcopy.Options) { o.Header, o.Delimiter, o.Null = true, '|', "NIL" }), ambiguous: true,
	},
	{
		name: "text control-character delimiter", copy: `COPY nasty TO STDOUT WITH DELIMITER E'\x01' NULL ''`,
		o: withOpts(false, func(o *pgcopy.Options) { o.Delimiter, o.Null = 0x01, "" }), ambiguous: true,
	},
	{
		name: "text null marker x, comma", copy: "COPY nasty (id, a, b) TO STDOUT (DELIMITER ',', NULL 'x')",
		o:       withOpts(false, func(o *pgcopy.Options) { o.Delimiter, o.Null = ',', "x" }),
		columns: []string{"id", "a", "b"}, ambiguous: true,
	},
	{name: "csv defaults", copy: "COPY nasty TO STDOUT (FORMAT csv)", o: pgcopy.Defaults(true)},
	{
		name: "csv header, delimiter, null, quote, escape, force quote",
		copy: `COPY nasty TO STDOUT (FORMAT csv, HEADER true, DELIMITER ';', NULL 'NIL', QUOTE '''', ESCAPE '\', FORCE_QUOTE (b, "by"))`,
		o: withOpts(true, func(o *pgcopy.Options) {
			o.Header, o.Delimiter, o.Null, o.Quote, o.Escape = true, ';', "NIL", '\'', '\\'
		}),
		forceQuoted: []int{2, 5},
	},
	{
		name: "csv force quote all, tab", copy: "COPY nasty TO STDOUT WITH CSV HEADER DELIMITER E'\\t' FORCE QUOTE *",
		o:           withOpts(true, func(o *pgcopy.Options) { o.Header, o.Delimiter = true, '\t' }),
		forceQuoted: []int{0, 1, 2, 3, 4, 5, 6},
	},
	{
		name: "csv null that looks like text's", copy: `COPY nasty TO STDOUT (FORMAT csv, NULL '\N', QUOTE '|', ESCAPE '"')`,
		o: withOpts(true, func(o *pgcopy.Options) { o.Null, o.Quote, o.Escape = `\N`, '|', '"' }),
	},
	{
		name: "csv one column", copy: "COPY (SELECT a FROM nasty ORDER BY id) TO STDOUT (FORMAT csv, HEADER)",
		o: withOpts(true, func(o *pgcopy.Options) { o.Header = true }), columns: []string{"a"}, ordered: true,
	},
	{
		name: "text one column", copy: "COPY (SELECT b FROM nasty ORDER BY id) TO STDOUT",
		o: pgcopy.Defaults(false), columns: []string{"b"}, ordered: true,
	},
}

// TestRealPostgres checks this package against a real PostgreSQL (see the functions it
// runs).
func TestRealPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithSeed("", nastySQL()))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, srv.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	t.Run("nasty table", func(t *testing.T) { testNastyTable(t, ctx, conn) })
	t.Run("exact rows", func(t *testing.T) { testExactRows(t, ctx, conn) })
	t.Run("encodings", func(t *testing.T) { testEncodings(t, ctx, conn) })
}

// testNastyTable checks Split and Append against the rows of COPY TO STDOUT of a table of
// awkward values, in text and CSV with many options: Split gives the values a SELECT
// returns (the header gives the column names), and Append of what Split gave writes the
// row again byte for byte.
func testNastyTable(t *testing.T, ctx context.Context, conn *pgconn.PgConn) {
	for _, tc := range copyCases {
		t.Run(tc.name, func(t *testing.T) {
			columns := tc.columns
			if columns == nil {
				columns = nastyColumns
			}
			want := selectRows(t, ctx, conn, columns)

			var w rowWriter
			if _, err := conn.CopyTo(ctx, &w, tc.copy); err != nil {
				t.Fatalf("%s: %v", tc.copy, err)
			}
			rows := w.rows
			if tc.o.Header {
				if len(rows) == 0 {
					t.Fatal("no header row")
				}
				checkRow(t, rows[0], tc.o, len(columns))
				hdr, _ := pgcopy.Split(rows[0], tc.o, nil)
				for i, f := range hdr {
					if f.Null || string(f.Value) != columns[i] {
						t.Errorf("header field %d: got %q (null %v), want %q", i, f.Value, f.Null, columns[i])
					}
				}
				rows = rows[1:]
			}
			if len(rows) != len(want) {
				t.Fatalf("got %d rows, want %d", len(rows), len(want))
			}
			got := make([][]pgcopy.Field, len(rows))
			for i, row := range rows {
				got[i] = checkRow(t, row, tc.o, len(columns))
			}
			if !tc.ordered {
				sort.SliceStable(got, func(i, j int) bool { return id(t, got[i]) < id(t, got[j]) })
			}
			ambiguous := 0
			for r, fields := range got {
				for c, f := range fields {
					w := want[r][c]
					if !tc.o.CSV && w != nil && string(pgcopy.Append(nil, []pgcopy.Field{{Value: w}}, tc.o)) == tc.o.Null+"\n" {
						// PostgreSQL wrote the value exactly as it writes NULL.
						ambiguous++
						w = nil
					}
					if f.Null != (w == nil) || !bytes.Equal(f.Value, w) {
						t.Errorf("row %d, %s: got %q (null %v), want %q (null %v)",
							r, columns[c], f.Value, f.Null, w, w == nil)
					}
					if tc.o.CSV && f.Null && f.Quoted {
						t.Errorf("row %d, %s: a NULL came quoted", r, columns[c])
					}
				}
				for _, c := range tc.forceQuoted {
					if !fields[c].Null && !fields[c].Quoted {
						t.Errorf("row %d, %s: FORCE_QUOTE, yet the value %q came unquoted", r, columns[c], fields[c].Value)
					}
				}
			}
			if tc.ambiguous != (ambiguous > 0) {
				t.Errorf("%d values were written as the NULL string, want some: %v", ambiguous, tc.ambiguous)
			}
		})
	}
}

// checkRow splits row, checks its field count and that Append writes it again byte for
// byte, and returns its fields.
func checkRow(t *testing.T, row []byte, o pgcopy.Options, n int) []pgcopy.Field {
	t.Helper()
	fields, err := pgcopy.Split(row, o, nil)
	if err != nil {
		t.Fatalf("Split(%q): %v", row, err)
	}
	if len(fields) != n {
		t.Fatalf("Split(%q): got %d fields, want %d", row, len(fields), n)
	}
	if again := pgcopy.Append(nil, fields, o); !bytes.Equal(again, row) {
		t.Errorf("Append(Split(row)) differs:\n got %q\nwant %q", again, row)
	}
	return fields
}

func id(t *testing.T, fields []pgcopy.Field) int {
	t.Helper()
	n, err := strconv.Atoi(string(fields[0].Value))
	if err != nil {
		t.Fatalf("id %q: %v", fields[0].Value, err)
	}
	return n
}

// selectRows returns what a SELECT of columns gives in text format, by id.
func selectRows(t *testing.T, ctx context.Context, conn *pgconn.PgConn, columns []string) [][][]byte {
	t.Helper()
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = `"` + strings.ReplaceAll(c, `"`, `""`) + `"`
	}
	res := conn.ExecParams(ctx, "SELECT "+strings.Join(quoted, ", ")+" FROM nasty ORDER BY id", nil, nil, nil, nil).Read()
	if res.Err != nil {
		t.Fatal(res.Err)
	}
	return res.Rows
}

// testExactRows pins the rules of PostgreSQL's COPY TO that Append follows and that are
// easy to get wrong, and checks that Split reads each row back.
func testExactRows(t *testing.T, ctx context.Context, conn *pgconn.PgConn) {
	csv := pgcopy.Defaults(true)
	text := pgcopy.Defaults(false)
	for _, tc := range []struct {
		why  string
		copy string
		o    pgcopy.Options
		row  string
		want []pgcopy.Field
	}{
		{
			why:  `CSV quotes \. alone on its row (COPY FROM's end-of-data marker)`,
			copy: `COPY (SELECT '\.') TO STDOUT (FORMAT csv)`, o: csv,
			row: `"\."` + "\n", want: []pgcopy.Field{{Value: []byte(`\.`), Quoted: true}},
		},
		{
			why:  `CSV does not quote \. beside other fields`,
			copy: `COPY (SELECT '\.', 'a') TO STDOUT (FORMAT csv)`, o: csv,
			row: `\.,a` + "\n", want: []pgcopy.Field{{Value: []byte(`\.`)}, {Value: []byte("a")}},
		},
		{
			why:  "CSV does not quote for an escape character alone",
			copy: `COPY (SELECT 'a\b', 'c"d') TO STDOUT (FORMAT csv, ESCAPE '\')`,
			o:    withOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' }),
			row:  `a\b,"c\"d"` + "\n", want: []pgcopy.Field{{Value: []byte(`a\b`)}, {Value: []byte(`c"d`), Quoted: true}},
		},
		{
			why:  "CSV quotes the empty string under the default NULL, and not otherwise",
			copy: `COPY (SELECT '', NULL::text) TO STDOUT (FORMAT csv)`, o: csv,
			row: `"",` + "\n", want: []pgcopy.Field{{Value: []byte{}, Quoted: true}, {Null: true}},
		},
		{
			why:  "CSV writes the empty string unquoted when NULL is something else",
			copy: `COPY (SELECT '', NULL::text, 'x') TO STDOUT (FORMAT csv, NULL 'x')`,
			o:    withOpts(true, func(o *pgcopy.Options) { o.Null = "x" }),
			row:  `,x,"x"` + "\n", want: []pgcopy.Field{{Value: []byte{}}, {Null: true}, {Value: []byte("x"), Quoted: true}},
		},
		{
			why:  "CSV never quotes NULL, FORCE_QUOTE or not",
			copy: `COPY (SELECT NULL::text, 'a') TO STDOUT (FORMAT csv, FORCE_QUOTE *)`, o: csv,
			row: `,"a"` + "\n", want: []pgcopy.Field{{Null: true}, {Value: []byte("a"), Quoted: true}},
		},
		{
			why:  "text writes a value spelled like NULL as NULL",
			copy: `COPY (SELECT 'NIL', NULL::text) TO STDOUT (NULL 'NIL')`,
			o:    withOpts(false, func(o *pgcopy.Options) { o.Null = "NIL" }),
			row:  "NIL\tNIL\n", want: []pgcopy.Field{{Null: true}, {Null: true}},
		},
		{
			why:  "text escapes a control-character delimiter as a backslash and the character",
			copy: `COPY (SELECT E'a\x01b', 'c') TO STDOUT (DELIMITER E'\x01')`,
			o:    withOpts(false, func(o *pgcopy.Options) { o.Delimiter = 0x01 }),
			row:  "a\\\x01b\x01c\n", want: []pgcopy.Field{{Value: []byte("a\x01b")}, {Value: []byte("c")}},
		},
		{
			why:  "text writes other control characters and DEL as they are",
			copy: `COPY (SELECT E'\x01\x1b\x7f', E'\b\f\n\r\t' || chr(11) || E'\\') TO STDOUT`, o: text,
			row:  "\x01\x1b\x7f\t\\b\\f\\n\\r\\t\\v\\\\\n",
			want: []pgcopy.Field{{Value: []byte("\x01\x1b\x7f")}, {Value: []byte("\b\f\n\r\t\v\\")}},
		},
		{
			why:  "a COPY of no columns writes an empty line per row, which reads as one empty field",
			copy: `COPY (SELECT) TO STDOUT`, o: text,
			row: "\n", want: []pgcopy.Field{{Value: []byte{}}},
		},
	} {
		t.Run(tc.why, func(t *testing.T) {
			var w rowWriter
			if _, err := conn.CopyTo(ctx, &w, tc.copy); err != nil {
				t.Fatalf("%s: %v", tc.copy, err)
			}
			if len(w.rows) != 1 || string(w.rows[0]) != tc.row {
				t.Fatalf("%s: got rows %q, want %q", tc.copy, w.rows, tc.row)
			}
			got := checkRow(t, w.rows[0], tc.o, len(tc.want))
			for i := range got {
				if got[i].Null != tc.want[i].Null || got[i].Quoted != tc.want[i].Quoted || !bytes.Equal(got[i].Value, tc.want[i].Value) {
					t.Errorf("field %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// testEncodings checks EncodingEmbedsASCII against the encoding the server finds for each
// name, for every alias of the encodings it must catch and some others.
func testEncodings(t *testing.T, ctx context.Context, conn *pgconn.PgConn) {
	embedding := map[string]bool{"SJIS": true, "SHIFT_JIS_2004": true, "BIG5": true, "GBK": true,
		"UHC": true, "GB18030": true, "JOHAB": true}
	names := []string{
		"sjis", "Shift_JIS", "MS-Kanji", "win932", "Windows-932", "SHIFT_JIS_2004", "big5", "win950",
		"windows950", "gbk", "win936", "windows936", "uhc", "win949", "windows949", "GB18030", "johab",
		"UTF8", "utf-8", "unicode", "LATIN1", "iso-8859-1", "EUC_JP", "EUC_JIS_2004", "EUC_KR", "EUC_CN",
		"EUC_TW", "SQL_ASCII", "WIN1252", "win", "KOI8", "mule_internal", "windows1258", "abc", "cp936",
	}
	for _, name := range names {
		res := conn.ExecParams(ctx, "SELECT pg_encoding_to_char(pg_char_to_encoding($1))", [][]byte{[]byte(name)}, nil, nil, nil).Read()
		if res.Err != nil || len(res.Rows) != 1 {
			t.Fatalf("%s: %v", name, res.Err)
		}
		enc := string(res.Rows[0][0]) // "" when PostgreSQL knows no such name
		if got := pgcopy.EncodingEmbedsASCII(name); got != embedding[enc] {
			t.Errorf("EncodingEmbedsASCII(%q) = %v; PostgreSQL reads it as %q", name, got, enc)
		}
	}
}
