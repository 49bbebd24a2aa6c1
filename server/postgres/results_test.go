package postgres

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// fakeMasker masks the word "secret" in text, sends NULL for columns named "gone", and a
// zero for binary int4 columns named "ssn", so tests can see what reached the client.
type fakeMasker struct{ rows int }

var secret = []byte("secret")

func maskWord(src []byte) []byte {
	if !bytes.Contains(src, secret) {
		return src
	}
	return bytes.ReplaceAll(src, secret, []byte("[masked]"))
}

func (m *fakeMasker) Text(src []byte) []byte { return maskWord(src) }
func (m *fakeMasker) CopyOut(c CopyRef) (CopyRows, error) {
	if c.Binary {
		return nil, &DeniedError{Reason: "binary COPY is refused while masking applies"}
	}
	return fakeCopy{}, nil
}

type fakeCopy struct{}

func (fakeCopy) Row(src []byte) ([]byte, error) { return maskWord(src), nil }
func (m *fakeMasker) Rows(_ ResultRef, fields []pgproto3.FieldDescription, formats []int16) (RowMasker, error) {
	m.rows++
	return fakeRows{fields: fields, formats: formats}, nil
}

type fakeRows struct {
	fields  []pgproto3.FieldDescription
	formats []int16
}

func (r fakeRows) Stale() bool { return false }

func (r fakeRows) Value(col int, v []byte) ([]byte, bool) {
	switch {
	case string(r.fields[col].Name) == "gone":
		return nil, true
	case string(r.fields[col].Name) == "ssn" && r.formats[col] == 1:
		return []byte{0, 0, 0, 0}, false
	case r.formats[col] == 0:
		return maskWord(v), false
	}
	return v, false
}

func maskedConn(t *testing.T, pg *pgtest.Server) (*pgx.Conn, *fakeMasker) {
	m := &fakeMasker{}
	return connWith(t, pg, func(g *Grant) { g.Masker = m }), m
}

func TestMaskedResults(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	conn, _ := maskedConn(t, pg)

	t.Run("simple protocol, several statements", func(t *testing.T) {
		rr := conn.PgConn().Exec(ctx, "select 'a secret' as x, 1 as n; select 'no' as y, 'secret too' as z")
		res, err := rr.ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		got := [][]string{}
		for _, r := range res {
			for _, row := range r.Rows {
				var vals []string
				for _, v := range row {
					vals = append(vals, string(v))
				}
				got = append(got, vals)
			}
		}
		want := "[[a [masked] 1] [no [masked] too]]"
		if s := strings.Join(strings.Fields(strings.Trim(fmtRows(got), " ")), " "); s != want {
			t.Errorf("got %s, want %s", s, want)
		}
	})

	t.Run("extended protocol, binary formats, cached statement", func(t *testing.T) {
		for range 3 { // the second and third runs Bind and Execute without Describe
			var x string
			var ssn int32
			var gone *string
			err := conn.QueryRow(ctx, "select $1::text || ' secret' as x, 123456789::int4 as ssn, 'raw'::text as gone", "my").Scan(&x, &ssn, &gone)
			if err != nil {
				t.Fatal(err)
			}
			if x != "my [masked]" || ssn != 0 || gone != nil {
				t.Fatalf("got x=%q ssn=%d gone=%v; want masked, 0, NULL", x, ssn, gone)
			}
		}
	})

	t.Run("error texts", func(t *testing.T) {
		// A data exception's value is redacted whole; other errors go through Text.
		_, err := conn.Exec(ctx, "select 'secret'::int")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || strings.Contains(pgErr.Message, "secret") || !strings.Contains(pgErr.Message, `"[REDACTED]"`) {
			t.Fatalf("got %v, want the value redacted in the error", err)
		}
		_, err = conn.Exec(ctx, "select * from secret_nowhere")
		if !errors.As(err, &pgErr) || pgErr.Code != "42P01" || strings.Contains(pgErr.Message, "secret") || !strings.Contains(pgErr.Message, "[masked]") {
			t.Fatalf("got %v, want the name masked in the error", err)
		}
	})

	t.Run("COPY TO STDOUT", func(t *testing.T) {
		var buf bytes.Buffer
		if _, err := conn.PgConn().CopyTo(ctx, &buf, "copy (select 'top secret', 2) to stdout"); err != nil {
			t.Fatal(err)
		}
		if got := buf.String(); got != "top [masked]\t2\n" {
			t.Fatalf("got %q", got)
		}
		_, err := conn.PgConn().CopyTo(ctx, &buf, "copy (select 1) to stdout (format binary)")
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("binary COPY: got %v, want it refused", err)
		}
		var n int
		if err := conn.QueryRow(ctx, "select 9").Scan(&n); err != nil || n != 9 {
			t.Fatalf("after the refused COPY: %d, %v", n, err)
		}
	})

	t.Run("notifications", func(t *testing.T) {
		if _, err := conn.Exec(ctx, "listen ch"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "notify ch, 'the secret'"); err != nil {
			t.Fatal(err)
		}
		n, err := conn.WaitForNotification(ctx)
		if err != nil || n.Payload != "the [masked]" {
			t.Fatalf("got %+v, %v", n, err)
		}
	})

	t.Run("portal suspended and resumed", func(t *testing.T) {
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Parse{Name: "s2", Query: "select 'secret ' || g from generate_series(1, 3) g"})
		fe.Send(&pgproto3.Bind{DestinationPortal: "p2", PreparedStatement: "s2"})
		fe.Send(&pgproto3.Execute{Portal: "p2", MaxRows: 2})
		fe.Send(&pgproto3.Execute{Portal: "p2", MaxRows: 2})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		var rows []string
		for {
			m, err := fe.Receive()
			if err != nil {
				t.Fatal(err)
			}
			if d, ok := m.(*pgproto3.DataRow); ok {
				rows = append(rows, string(d.Values[0]))
			}
			if _, ok := m.(*pgproto3.ReadyForQuery); ok {
				break
			}
		}
		if strings.Join(rows, ",") != "[masked] 1,[masked] 2,[masked] 3" {
			t.Fatalf("got %q", rows)
		}
	})
}

func fmtRows(rows [][]string) string {
	var b strings.Builder
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString("[" + strings.Join(r, " ") + "]")
	}
	b.WriteString("]")
	return b.String()
}

// TestErrorValuesRedacted: a data exception or an integrity violation prints the value it
// failed on, which may be one computed from a masked column (reverse(ssn)::int): in a
// masked session that value never reaches the client; the rest of the error does, and
// errors of other classes are untouched.
func TestErrorValuesRedacted(t *testing.T) {
	r := newResults(&fakeMasker{})
	for _, c := range []struct {
		in, want pgproto3.ErrorResponse
	}{
		{pgproto3.ErrorResponse{Severity: "ERROR", Code: "22P02", Message: `invalid input syntax for type integer: "9876-54-321"`},
			pgproto3.ErrorResponse{Severity: "ERROR", Code: "22P02", Message: `invalid input syntax for type integer: "[REDACTED]"`}},
		{pgproto3.ErrorResponse{Severity: "ERROR", Code: "22003", Message: `value "98765432198" is out of range for type integer`},
			pgproto3.ErrorResponse{Severity: "ERROR", Code: "22003", Message: `value "[REDACTED]" is out of range for type integer`}},
		{pgproto3.ErrorResponse{Severity: "ERROR", Code: "23505", Message: `duplicate key value violates unique constraint "c_ssn_key"`,
			Detail: `Key (ssn)=(9876-54-321) already exists.`},
			pgproto3.ErrorResponse{Severity: "ERROR", Code: "23505", Message: `duplicate key value violates unique constraint "c_ssn_key"`,
				Detail: `Key (ssn)=([REDACTED]) already exists.`}},
		{pgproto3.ErrorResponse{Severity: "ERROR", Code: "23502", Message: `null value in column "name" of relation "c" violates not-null constraint`,
			Detail: `Failing row contains (1, null, 1-2-3).`},
			pgproto3.ErrorResponse{Severity: "ERROR", Code: "23502", Message: `null value in column "name" of relation "c" violates not-null constraint`,
				Detail: `Failing row contains ([REDACTED]).`}},
		{pgproto3.ErrorResponse{Severity: "ERROR", Code: "42703", Message: `column "ssn2" does not exist`},
			pgproto3.ErrorResponse{Severity: "ERROR", Code: "42703", Message: `column "ssn2" does not exist`}},
	} {
		body, err := c.in.Encode(nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := r.maskNotice(body[5:])
		if err != nil {
			t.Fatal(err)
		}
		var got pgproto3.ErrorResponse
		if err := got.Decode(out); err != nil {
			t.Fatal(err)
		}
		if got.Message != c.want.Message || got.Detail != c.want.Detail || got.Code != c.want.Code {
			t.Errorf("%s %q %q:\n got %q %q\nwant %q %q", c.in.Code, c.in.Message, c.in.Detail, got.Message, got.Detail, c.want.Message, c.want.Detail)
		}
	}
}
