package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// TestMaskingLeaks: an analyst reads the sample customers (names, e-mails, phones, SSNs)
// in every position the issue names (plain columns, aliases, expressions, JSON, arrays,
// row_to_json, binary format, errors from casts) through the gateway with the example
// policy's masking; no raw e-mail, phone or SSN may reach the client. A DBA is exempt.
func TestMaskingLeaks(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	var secrets []string
	rows, err := direct.Query(ctx, "select email, phone, ssn from customers")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e, p, s string
		if err := rows.Scan(&e, &p, &s); err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, e, p, s)
	}
	if len(secrets) < 300 {
		t.Fatalf("sample data: got %d values", len(secrets))
	}

	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	conn := connectPgx(t, addr)

	queries := []string{
		"select * from customers",
		"select email as x, phone as y, ssn as z from customers",
		"select upper(email), email || '', 'mail: ' || email, lower(phone), ssn || '' from customers",
		"select row_to_json(c) from customers c",
		"select json_agg(c) from customers c",
		"select array_agg(email), string_agg(ssn, ',') from customers",
		"select jsonb_build_object('e', email, 'p', phone)::text, jsonb_build_object('s', ssn) from customers",
		"select format('%s / %s / %s', name, email, ssn) from customers",
		"with c as (select * from customers) select c.email, c.ssn from c",
	}
	var got bytes.Buffer
	for _, q := range queries {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec, pgx.QueryExecModeCacheStatement} {
			rows, err := conn.Query(ctx, q, mode)
			if err != nil {
				t.Fatalf("%q: %v", q, err)
			}
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatalf("%q: %v", q, err)
				}
				fmt.Fprintln(&got, vals...)
				for _, raw := range rows.RawValues() {
					got.Write(raw)
					got.WriteByte('\n')
				}
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%q: %v", q, err)
			}
		}
	}
	// A failed cast prints the value.
	for _, q := range []string{"select email::int from customers", "select ssn::int from customers", "select phone::date from customers"} {
		_, err := conn.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) {
			t.Fatalf("%q: got %v, want a cast error", q, err)
		}
		fmt.Fprintln(&got, pgErr.Message, pgErr.Detail)
	}
	leaks := 0
	for _, s := range secrets {
		if strings.Contains(got.String(), s) {
			leaks++
			if leaks <= 5 {
				t.Errorf("leaked: %q", s)
			}
		}
	}
	if leaks != 0 {
		t.Fatalf("%d of %d sample values reached the client unmasked", leaks, len(secrets))
	}
	if !strings.Contains(got.String(), "@example.") {
		t.Error("partial mode should keep e-mail domains; none seen")
	}

	// A card number kept as a number, read in binary format: found and replaced by a
	// stand-in of the type.
	var num pgtype.Numeric
	var i8 int64
	if err := conn.QueryRow(ctx, "select 4111111111111111::numeric, 4111111111111111::int8").Scan(&num, &i8); err != nil {
		t.Fatal(err)
	}
	if v, _ := num.Value(); v != "0" || i8 != 0 {
		t.Errorf("card numbers as numbers: got %v and %d, want stand-ins 0 and 0", v, i8)
	}

	// COPY of a table with column rules: refused, not leaked; the session goes on.
	var buf bytes.Buffer
	_, err = conn.PgConn().CopyTo(ctx, &buf, "copy customers to stdout")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "column masking rules") {
		t.Fatalf("COPY: got %v, want it refused", err)
	}
	for _, s := range secrets {
		if strings.Contains(buf.String(), s) {
			t.Fatal("COPY leaked a value before it was refused")
		}
	}

	// The DBA is exempt and sees the values.
	addr, _ = gw.connect(t, gw.login(t, "dana"), "db-prod")
	var email string
	if err := connectPgx(t, addr).QueryRow(ctx, "select email from customers order by id limit 1").Scan(&email); err != nil {
		t.Fatal(err)
	}
	if email != secrets[0] && !strings.Contains(strings.Join(secrets, " "), email) {
		t.Errorf("dba: got %q, want a raw e-mail", email)
	}
	conn.Close(ctx)
	waitFor(t, "the session's masking counts in the log", func() bool {
		return strings.Contains(gw.Logs.String(), "values masked") && strings.Contains(gw.Logs.String(), "by_column_rule=")
	})
}
