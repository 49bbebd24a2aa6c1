package classify_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/internal/pgcopy"
	"github.com/hoopgw/hoop/internal/pgtest"
)

// copyOpts returns PostgreSQL's defaults for text or CSV, changed by set.
func copyOpts(csv bool, set func(*pgcopy.Options)) pgcopy.Options {
	o := pgcopy.Defaults(csv)
	if set != nil {
		set(&o)
	}
	return o
}

var (
	textDefaults = pgcopy.Defaults(false)
	csvDefaults  = pgcopy.Defaults(true)
)

// copyCase is one text and the COPY ... TO STDOUT statements it holds.
type copyCase struct {
	sql  string
	want []classify.CopyTarget // nil: none
	// fields is the number of fields of each row on the test server (see copySeed); 0 when
	// the statement is not run there.
	fields int
}

var copyCases = []copyCase{
	{sql: "COPY t TO STDOUT", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}},
	{sql: "copy T to stdout;", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}},
	{sql: "COPY t TO STDIN", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}}, // PostgreSQL takes STDIN for STDOUT
	{sql: `COPY Public.T (A, "B") TO STDOUT`, fields: 2,
		want: []classify.CopyTarget{{Schema: "public", Table: "t", Columns: []string{"a", "B"}, Options: textDefaults}}},
	{sql: `COPY "My Table" ("Odd col", "x""y") TO STDOUT`, fields: 2,
		want: []classify.CopyTarget{{Table: "My Table", Columns: []string{"Odd col", `x"y`}, Options: textDefaults}}},
	{sql: `COPY "My Table" ("x""y") TO STDOUT`, fields: 1,
		want: []classify.CopyTarget{{Table: "My Table", Columns: []string{`x"y`}, Options: textDefaults}}},
	{sql: "COPY postgres.s.t (a) TO STDOUT", fields: 1,
		want: []classify.CopyTarget{{Catalog: "postgres", Schema: "s", Table: "t", Columns: []string{"a"}, Options: textDefaults}}},
	{sql: "COPY (SELECT a, 1, 2 FROM t) TO STDOUT (FORMAT csv)", fields: 3,
		want: []classify.CopyTarget{{Query: true, Options: csvDefaults}}},
	{sql: "COPY (WITH x AS (SELECT a FROM t) SELECT * FROM x) TO STDOUT", fields: 1,
		want: []classify.CopyTarget{{Query: true, Options: textDefaults}}},

	// The options, new syntax.
	{sql: "COPY t TO STDOUT (FORMAT text)", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}},
	{sql: "COPY t TO STDOUT (FORMAT CSV)", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: csvDefaults}}},
	{sql: `COPY t TO STDOUT (FORMAT csv, HEADER, DELIMITER ';', NULL 'NIL', QUOTE '''', ESCAPE '\', FORCE_QUOTE (a, "B"))`, fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) {
			o.Header, o.Delimiter, o.Null, o.Quote, o.Escape, o.ForceQuote = true, ';', "NIL", '\'', '\\', []string{"a", "B"}
		})}}},
	{sql: "COPY t TO STDOUT (FORMAT csv, QUOTE '|')", fields: 2, // ESCAPE defaults to QUOTE
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) { o.Quote, o.Escape = '|', '|' })}}},
	{sql: `COPY t TO STDOUT (FORMAT csv, ESCAPE '\')`, fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) { o.Escape = '\\' })}}},
	{sql: `COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE *, DELIMITER E'\t', HEADER true)`, fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) {
			o.ForceQuoteAll, o.Delimiter, o.Header = true, '\t', true
		})}}},
	{sql: `COPY t TO STDOUT (DELIMITER E'\x01', NULL '', HEADER on)`, fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(false, func(o *pgcopy.Options) { o.Delimiter, o.Null, o.Header = 1, "", true })}}},
	{sql: "COPY t TO STDOUT (HEADER 'off')", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}},
	{sql: "COPY t TO STDOUT (HEADER 0)", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: textDefaults}}},
	{sql: "COPY t TO STDOUT (HEADER 1)", fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(false, func(o *pgcopy.Options) { o.Header = true })}}},
	{sql: "COPY t TO STDOUT (HEADER FALSE, NULL 1.5)", fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(false, func(o *pgcopy.Options) { o.Null = "1.5" })}}},
	{sql: "COPY t TO STDOUT (FORMAT csv, DELIMITER 7, NULL -1)", fields: 2, // a digit is a CSV delimiter
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) { o.Delimiter, o.Null = '7', "-1" })}}},
	{sql: "COPY t TO STDOUT (ENCODING 'LATIN1')", fields: 2,
		want: []classify.CopyTarget{{Table: "t", Encoding: "LATIN1", Options: textDefaults}}},
	{sql: "COPY t TO STDOUT (FORMAT binary)", want: []classify.CopyTarget{{Table: "t", Binary: true}}},

	// The old syntax.
	{sql: `COPY t TO STDOUT WITH CSV HEADER DELIMITER ';' NULL AS 'x' QUOTE AS '"' ESCAPE '\' FORCE QUOTE a, "B" ENCODING 'UTF8'`, fields: 2,
		want: []classify.CopyTarget{{Table: "t", Encoding: "UTF8", Options: copyOpts(true, func(o *pgcopy.Options) {
			o.Header, o.Delimiter, o.Null, o.Escape, o.ForceQuote = true, ';', "x", '\\', []string{"a", "B"}
		})}}},
	{sql: "COPY t TO STDOUT CSV FORCE QUOTE *", fields: 2,
		want: []classify.CopyTarget{{Table: "t", Options: copyOpts(true, func(o *pgcopy.Options) { o.ForceQuoteAll = true })}}},
	{sql: "COPY t (a) TO STDOUT USING DELIMITERS '|' WITH NULL AS ''", fields: 1,
		want: []classify.CopyTarget{{Table: "t", Columns: []string{"a"}, Options: copyOpts(false, func(o *pgcopy.Options) { o.Delimiter, o.Null = '|', "" })}}},
	{sql: "COPY BINARY t TO STDOUT", want: []classify.CopyTarget{{Table: "t", Binary: true}}},
	{sql: "COPY t TO STDOUT WITH BINARY", want: []classify.CopyTarget{{Table: "t", Binary: true}}},

	// COPY FROM's options change nothing in COPY TO's rows (PostgreSQL refuses some).
	{sql: "COPY t TO STDOUT (FORMAT csv, FREEZE)", fields: 2, want: []classify.CopyTarget{{Table: "t", Options: csvDefaults}}},

	// Nothing: not COPY ... TO STDOUT.
	{sql: "SELECT 1"},
	{sql: "COPY t FROM STDIN"},
	{sql: "COPY t (a) FROM STDIN WITH (FORMAT csv, DELIMITER 'ab')"}, // not ours to check
	{sql: "COPY t TO '/tmp/t.csv' (FORMAT csv)"},
	{sql: "COPY t TO PROGRAM 'cat' (DELIMITER 'ab')"},
	{sql: "COPY t FROM PROGRAM 'cat'"},
	{sql: "-- COPY t TO STDOUT\nSELECT 'COPY t TO STDOUT'"},
	{sql: ""},

	// Several statements: in order, each with its index.
	{
		sql: "SELECT 1; COPY t TO STDOUT; COPY t FROM STDIN; COPY (SELECT 2) TO STDOUT WITH CSV; COPY t TO '/f'; COPY s.t TO STDOUT (FORMAT binary)",
		want: []classify.CopyTarget{
			{Stmt: 1, Table: "t", Options: textDefaults},
			{Stmt: 3, Query: true, Options: csvDefaults},
			{Stmt: 5, Schema: "s", Table: "t", Binary: true},
		},
	},
}

// copyErrors are COPY ... TO STDOUT statements whose options PostgreSQL refuses, or that
// CopyTargets refuses while PostgreSQL accepts them (pgAccepts), each with part of the
// error's message.
var copyErrors = []struct {
	sql       string
	why       string
	pgAccepts bool
}{
	{sql: "COPY t TO STDOUT (DELIMITER 'ab')", why: "DELIMITER must be a single one-byte character"},
	{sql: "COPY t TO STDOUT WITH DELIMITER ''", why: "DELIMITER must be a single one-byte character"},
	{sql: "COPY t TO STDOUT (DELIMITER 'é')", why: "DELIMITER must be a single one-byte character"},
	{sql: "COPY t TO STDOUT (DELIMITER 12)", why: "DELIMITER must be a single one-byte character"},
	{sql: "COPY t TO STDOUT (FORMAT csv, QUOTE 'ab')", why: "QUOTE must be a single one-byte character"},
	{sql: "COPY t TO STDOUT (FORMAT csv, ESCAPE '')", why: "ESCAPE must be a single one-byte character"},
	{sql: "COPY t TO STDOUT (DELIMITER ',', DELIMITER ';')", why: "DELIMITER is given twice"},
	{sql: "COPY t TO STDOUT WITH CSV CSV", why: "FORMAT is given twice"},
	{sql: "COPY BINARY t TO STDOUT WITH CSV", why: "FORMAT is given twice"},
	{sql: "COPY t TO STDOUT (HEADER, HEADER false)", why: "HEADER is given twice"},
	{sql: "COPY t TO STDOUT (FORMAT 'json')", why: `COPY format "json" is not recognized`},
	{sql: "COPY t TO STDOUT (FORMAT 'CSV')", why: `COPY format "CSV" is not recognized`},
	{sql: `COPY t TO STDOUT ("Format" csv)`, why: `COPY option "Format" is not recognized`},
	{sql: "COPY t TO STDOUT (bogus 1)", why: `COPY option "bogus" is not recognized`},
	{sql: "COPY t TO STDOUT (DELIMITER)", why: "DELIMITER requires a value"},
	{sql: "COPY t TO STDOUT (FORMAT)", why: "FORMAT requires a value"},
	{sql: "COPY t TO STDOUT (FORCE_QUOTE)", why: "FORCE_QUOTE takes a list of column names"},
	{sql: "COPY t TO STDOUT (FORMAT csv, FORCE_QUOTE a)", why: "FORCE_QUOTE takes a list of column names"},
	{sql: "COPY t TO STDOUT (HEADER match)", why: "HEADER MATCH is for COPY FROM only"},
	{sql: "COPY t TO STDOUT (HEADER 2)", why: "HEADER requires a Boolean value"},
	{sql: "COPY t TO STDOUT (HEADER maybe)", why: "HEADER requires a Boolean value"},
	{sql: "COPY t TO STDOUT (QUOTE '\"')", why: "for CSV mode only"},
	{sql: `COPY t TO STDOUT (ESCAPE '\')`, why: "for CSV mode only"},
	{sql: "COPY t TO STDOUT (FORCE_QUOTE *)", why: "for CSV mode only"},
	{sql: "COPY t TO STDOUT (FORMAT binary, HEADER)", why: "HEADER cannot be given in BINARY mode"},
	{sql: "COPY t TO STDOUT (FORMAT binary, DELIMITER ',')", why: "DELIMITER cannot be given in BINARY mode"},
	{sql: "COPY BINARY t TO STDOUT WITH NULL 'x'", why: "NULL cannot be given in BINARY mode"},
	{sql: "COPY t TO STDOUT (DELIMITER 'x')", why: "the delimiter cannot be"},
	{sql: `COPY t TO STDOUT (DELIMITER '\')`, why: "the delimiter cannot be"},
	{sql: "COPY t TO STDOUT (DELIMITER '.')", why: "the delimiter cannot be"},
	{sql: `COPY t TO STDOUT (DELIMITER E'\n')`, why: "newline"},
	{sql: `COPY t TO STDOUT (NULL E'a\rb')`, why: "newline"},
	{sql: "COPY t TO STDOUT (FORMAT csv, DELIMITER '\"')", why: "the delimiter and the quote must differ"},
	{sql: "COPY t TO STDOUT (NULL 'a|b', DELIMITER '|')", why: "appears in the NULL string"},
	{sql: "COPY t TO STDOUT (FORMAT csv, NULL '\"')", why: "appears in the NULL string"},
	{sql: "COPY t TO STDOUT (ENCODING '')", why: "ENCODING is empty"},
	// Stricter than PostgreSQL.
	{sql: `COPY t TO STDOUT (NULL 'a\')`, why: "unpaired backslash", pgAccepts: true},
	{sql: "COPY t TO STDOUT (DELIMITER ('|'))", why: "DELIMITER requires a single value", pgAccepts: true},
	{sql: "COPY t TO STDOUT (FORMAT csv, ESCAPE ',')", why: "the delimiter and the escape character must differ", pgAccepts: true},
	{sql: `COPY t TO STDOUT (FORMAT csv, QUOTE E'\n')`, why: "newline", pgAccepts: true},
	// In a text of several statements, the whole text fails.
	{sql: "COPY t TO STDOUT; COPY t TO STDOUT (DELIMITER 'ab')", why: "DELIMITER must be a single one-byte character"},
}

func TestCopyTargets(t *testing.T) {
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			c := classify.New(p.parse, 0)
			for _, tc := range copyCases {
				got, err := p.parse.CopyTargets(tc.sql)
				if err != nil {
					t.Errorf("%s: %v", tc.sql, err)
					continue
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("%s: (-want +got)\n%s", tc.sql, diff)
				}
				// Stmt is the index of the statement in what Classify lists.
				sts, err := c.Classify(tc.sql)
				if err != nil {
					t.Fatal(err)
				}
				for _, ct := range got {
					if ct.Stmt >= len(sts) || sts[ct.Stmt].Kind != "COPY" {
						t.Errorf("%s: Stmt %d is not a COPY in %+v", tc.sql, ct.Stmt, sts)
					}
				}
			}
			for _, tc := range copyErrors {
				got, err := p.parse.CopyTargets(tc.sql)
				if !errors.Is(err, classify.ErrCopyOptions) || !strings.Contains(err.Error(), tc.why) {
					t.Errorf("%s: got %+v, %v; want ErrCopyOptions saying %q", tc.sql, got, err, tc.why)
				}
			}
		})
	}
}

func TestCopyTargetsBadText(t *testing.T) {
	for _, p := range parsers {
		if _, err := p.parse.CopyTargets("COPY t TO STDOUT (FORMAT"); err == nil || errors.Is(err, classify.ErrCopyOptions) {
			t.Errorf("%s: a syntax error gave %v, want the parser's error", p.name, err)
		}
		if _, err := p.parse.CopyTargets("COPY t TO STDOUT\x00; COPY u TO STDOUT"); !errors.Is(err, classify.ErrCopyOptions) {
			t.Errorf("%s: a NUL byte gave %v, want ErrCopyOptions", p.name, err)
		}
	}
	if _, err := classify.Parser(nil).CopyTargets("COPY t TO STDOUT"); !errors.Is(err, classify.ErrInternal) {
		t.Errorf("no parser: got %v, want ErrInternal", err)
	}
}

// copySeed makes the tables copyCases name, with values that need escaping and quoting.
const copySeed = `
CREATE TABLE t (a text, "B" text);
INSERT INTO t VALUES ('plain', NULL), (E'tab\there, "quoted"; new\nline', ''), ('NIL', 'x'), (E'back\\slash|pipe', '7');
CREATE TABLE "My Table" ("Odd col" text, "x""y" text);
INSERT INTO "My Table" SELECT a, "B" FROM t;
CREATE SCHEMA s;
CREATE TABLE s.t (a text);
INSERT INTO s.t SELECT a FROM t;
`

// TestCopyTargetsPostgres runs the cases on a real PostgreSQL: each statement CopyTargets
// describes runs, and its rows split into the expected number of fields with the Options
// it gave (binary ones start with the binary signature); each statement it refuses,
// PostgreSQL refuses too, but for those marked as stricter than PostgreSQL.
func TestCopyTargetsPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithSeed("", copySeed))
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	conn, err := pgconn.Connect(ctx, srv.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	parse := parsers[0].parse

	for _, tc := range copyCases {
		if len(tc.want) != 1 || (tc.fields == 0 && !tc.want[0].Binary) {
			continue
		}
		targets, err := parse.CopyTargets(tc.sql)
		if err != nil || len(targets) != 1 {
			t.Fatalf("%s: %v, %v", tc.sql, targets, err)
		}
		var w rowsWriter
		if _, err := conn.CopyTo(ctx, &w, tc.sql); err != nil {
			t.Errorf("%s: PostgreSQL refused it: %v", tc.sql, err)
			continue
		}
		if targets[0].Binary {
			if len(w.rows) == 0 || !bytes.HasPrefix(w.rows[0], []byte("PGCOPY\n\xff\r\n\x00")) {
				t.Errorf("%s: not binary COPY rows: %q", tc.sql, w.rows)
			}
			continue
		}
		o := targets[0].Options
		if want := 4 + btoi(o.Header); len(w.rows) != want {
			t.Errorf("%s: got %d rows, want %d", tc.sql, len(w.rows), want)
		}
		for _, row := range w.rows {
			fields, err := pgcopy.Split(row, o, nil)
			if err != nil || len(fields) != tc.fields {
				t.Errorf("%s: Split(%q) with %+v: %d fields, %v; want %d fields", tc.sql, row, o, len(fields), err, tc.fields)
			}
			if again := pgcopy.Append(nil, fields, o); err == nil && !bytes.Equal(again, row) {
				t.Errorf("%s: Append(Split(%q)) = %q", tc.sql, row, again)
			}
		}
	}
	for _, tc := range copyErrors {
		_, err := conn.CopyTo(ctx, io.Discard, tc.sql)
		if tc.pgAccepts != (err == nil) {
			t.Errorf("%s: PostgreSQL says %v; want it to accept the statement: %v", tc.sql, err, tc.pgAccepts)
		}
	}
}

// rowsWriter keeps each Write, which pgconn's CopyTo makes once per CopyData message.
type rowsWriter struct{ rows [][]byte }

func (w *rowsWriter) Write(p []byte) (int, error) {
	w.rows = append(w.rows, bytes.Clone(p))
	return len(p), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// FuzzCopyTargets: whatever the text, CopyTargets does not panic or fail internally, and
// the Options of every text or CSV target it gives are valid.
//
//	go test ./classify -run '^$' -fuzz FuzzCopyTargets -fuzztime 60s
func FuzzCopyTargets(f *testing.F) {
	for _, tc := range copyCases {
		f.Add(tc.sql)
	}
	for _, tc := range copyErrors {
		f.Add(tc.sql)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		targets, err := fuzzParser.parse.CopyTargets(sql)
		if errors.Is(err, classify.ErrInternal) {
			t.Fatalf("CopyTargets(%q): %v", sql, err)
		}
		for _, ct := range targets {
			if err := ct.Options.Validate(); !ct.Binary && err != nil {
				t.Errorf("CopyTargets(%q): %+v: %v", sql, ct, err)
			}
		}
	})
}
