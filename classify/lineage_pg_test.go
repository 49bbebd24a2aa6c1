package classify_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/internal/pgtest"
)

// lineageSeed makes, on a real server, the relations testSchema describes (but the view
// cycle and the foreign table, which PostgreSQL refuses or cannot serve).
const lineageSeed = `
CREATE TABLE customers (id serial PRIMARY KEY, name text, email text, phone text, ssn text);
CREATE TABLE orders (id serial PRIMARY KEY, customer_id int, amount numeric, note text);
CREATE TABLE cards (id serial PRIMARY KEY, customer_id int, card_n text, ip inet);
CREATE TABLE items (id serial PRIMARY KEY, note text);
CREATE SCHEMA s2;
CREATE TABLE s2.customers (id int, secret text);
CREATE TABLE dropped (a int, gone text, b text);
ALTER TABLE dropped DROP COLUMN gone;
INSERT INTO customers (name, email, phone, ssn) VALUES ('ann', 'a@x.org', '555-0100', '123-45-6789'), ('bob', 'b@x.org', '555-0101', '987-65-4321');
INSERT INTO orders (customer_id, amount, note) VALUES (1, 10, 'n1'), (2, 20, 'n2');
INSERT INTO cards (customer_id, card_n, ip) VALUES (1, '4111111111111111', '10.0.0.1');
INSERT INTO items VALUES (100, 'i1'); -- one row, an id no statement of the corpus writes
CREATE FUNCTION f(x text) RETURNS text LANGUAGE sql AS 'SELECT x';
CREATE FUNCTION my_srf(n int) RETURNS SETOF record LANGUAGE sql AS 'SELECT 1, ''a''::text';
CREATE FUNCTION my_scalar_srf(n int) RETURNS SETOF text LANGUAGE sql AS 'SELECT ssn FROM customers';
CREATE PROCEDURE p(n int) LANGUAGE sql AS 'SELECT 1';
CREATE VIEW v_cust AS SELECT id, name, ssn FROM customers;
CREATE VIEW v_v AS SELECT name, ssn FROM v_cust;
CREATE VIEW v_expr AS SELECT id, 'x' || ssn AS s FROM customers;
CREATE VIEW v_renamed (cid, secret) AS SELECT id, ssn FROM customers;
CREATE VIEW v_func AS SELECT f(ssn) AS x FROM customers;
CREATE MATERIALIZED VIEW mv AS SELECT id, upper(ssn) AS u, ssn FROM customers;
`

// pgSchema is a Schema read from a real server's catalog: what the gateway's own does.
type pgSchema struct {
	ctx  context.Context
	conn *pgconn.PgConn
}

func (s *pgSchema) query(sql string, args ...string) ([][]string, error) {
	params := make([][]byte, len(args))
	for k, a := range args {
		params[k] = []byte(a)
	}
	res := s.conn.ExecParams(s.ctx, sql, params, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, res.Err
	}
	out := make([][]string, len(res.Rows))
	for k, r := range res.Rows {
		for _, v := range r {
			out[k] = append(out[k], string(v))
		}
	}
	return out, nil
}

func (s *pgSchema) Relation(schema, name string) (*classify.RelationDef, error) {
	qualified := `"` + name + `"`
	if schema != "" {
		qualified = `"` + schema + `".` + qualified
	}
	rows, err := s.query(`SELECT c.oid, n.nspname, c.relname, c.relkind,
			CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) ELSE '' END
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = to_regclass($1)`, qualified)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, classify.ErrNoRelation
	}
	r := &classify.RelationDef{Schema: rows[0][1], Name: rows[0][2], Query: rows[0][4]}
	switch rows[0][3] {
	case "r", "p", "v", "m":
	default:
		r.Opaque = "relation " + r.Schema + "." + r.Name + " of kind " + rows[0][3]
	}
	cols, err := s.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, rows[0][0])
	if err != nil {
		return nil, err
	}
	for _, c := range cols {
		r.Columns = append(r.Columns, c[0])
	}
	return r, nil
}

func (s *pgSchema) Transparent(schema, name string) bool {
	if schema != "" && schema != "pg_catalog" {
		return false
	}
	// A built-in (made by initdb) of pg_catalog, not written in SQL, and no user function
	// of that name anywhere that an unqualified call could resolve to.
	rows, err := s.query(`SELECT bool_and(p.oid < 16384 AND n.nspname = 'pg_catalog' AND l.lanname IN ('internal', 'c') AND p.prokind <> 'p')
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_language l ON l.oid = p.prolang
		WHERE p.proname = $1 AND (n.nspname = 'pg_catalog' OR $2 = '')`, name, schema)
	return err == nil && len(rows) == 1 && rows[0][0] == "t"
}

// stricterThanPostgres are the queries where a column PostgreSQL reports as passed
// through is, by design, computed for lineage: it is then masked whole (fail closed).
var stricterThanPostgres = map[string]string{
	`SELECT ssn::text FROM customers`:                                           "a cast to the column's own type is a no-op that PostgreSQL drops; lineage does not know column types",
	`UPDATE items SET note = c.ssn FROM customers c RETURNING note`:             "assigned",
	"UPDATE customers SET name = name, ssn = ssn || '' RETURNING name, ssn":     "assigned",
	"INSERT INTO items (id, note) SELECT id, ssn FROM customers RETURNING note": "assigned",
	// RETURNING shows the values the statement wrote: PostgreSQL names the target's
	// column, lineage adds the sources of what was assigned to it.
	`INSERT INTO cards (card_n) SELECT ssn FROM customers RETURNING card_n, ip`:                                                             "assigned",
	`UPDATE items SET note = c.ssn FROM customers c RETURNING note, items.id`:                                                               "assigned",
	`UPDATE items SET (id, note) = (SELECT id, ssn FROM customers LIMIT 1) RETURNING note`:                                                  "assigned",
	`UPDATE items SET (id, note) = (1, (SELECT ssn FROM customers LIMIT 1)) RETURNING id, note`:                                             "assigned",
	`INSERT INTO items (id, note) SELECT id, ssn FROM customers RETURNING note, id`:                                                         "assigned",
	`INSERT INTO items VALUES (1, (SELECT ssn FROM customers LIMIT 1)) RETURNING note`:                                                      "assigned",
	`INSERT INTO items (id, note) VALUES (1, 'a') ON CONFLICT (id) DO UPDATE SET note = (SELECT ssn FROM customers LIMIT 1) RETURNING note`: "assigned",
	`INSERT INTO items (id, note) SELECT id, ssn FROM customers ON CONFLICT (id) DO UPDATE SET id = excluded.id + 1 RETURNING id`:           "assigned",
	`WITH u AS (UPDATE items SET note = (SELECT ssn FROM customers LIMIT 1) RETURNING note) SELECT note FROM u`:                             "assigned",
	`WITH x AS (SELECT ssn FROM customers) INSERT INTO items (note) SELECT ssn FROM x RETURNING note`:                                       "assigned",
	`MERGE INTO items i USING customers c ON c.id = i.id WHEN NOT MATCHED THEN INSERT (id, note) VALUES (c.id, c.ssn || 'x') RETURNING *`:   "assigned",
	`MERGE INTO items i USING customers c ON c.id = i.id WHEN MATCHED THEN UPDATE SET note = c.ssn RETURNING i.note, c.ssn, merge_action()`: "assigned",
}

// TestLineageAgainstPostgres runs a corpus of queries on a real PostgreSQL and checks the
// flows against what the server itself reports in RowDescription: as many flows as
// fields; every field the server says is a table's column passed through (a non-zero
// table OID of a table) has a Flow with Pass and that very column; and no field the
// server reports as computed (table OID 0) is Pass.
func TestLineageAgainstPostgres(t *testing.T) {
	srv := pgtest.Start(t, pgtest.WithSeed("", lineageSeed))
	ctx := t.Context()
	conn, err := pgconn.Connect(ctx, srv.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	meta, err := pgconn.Connect(ctx, srv.SuperDSN("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close(context.WithoutCancel(ctx))
	schema := &pgSchema{ctx: ctx, conn: meta}
	l := &classify.Lineage{Parse: parsers[0].parse, Schema: schema}

	corpus := make([]string, 0, len(lineageCases)+16)
	for _, c := range lineageCases {
		corpus = append(corpus, c.sql)
	}
	corpus = append(corpus, evasionQueries...)
	corpus = append(corpus,
		`SELECT * FROM dropped`,
		`SELECT * FROM mv`,
		`SELECT u, ssn FROM mv`,
		`SELECT * FROM v_renamed`,
		`SELECT x FROM v_func`,
		`SELECT * FROM my_scalar_srf(1)`,
		`SELECT c.*, k.* FROM customers c LEFT JOIN cards k ON k.customer_id = c.id`,
		`SELECT * FROM customers c JOIN orders o ON o.customer_id = c.id JOIN cards k USING (customer_id)`,
		`SELECT (SELECT max(ssn) FROM customers), name FROM customers`,
		`SELECT ssn FROM customers UNION ALL SELECT ssn FROM customers ORDER BY 1`,
		`SELECT DISTINCT ssn FROM customers`,
		`SELECT ssn, count(*) FROM customers GROUP BY ssn`,
		`WITH RECURSIVE r AS (SELECT ssn FROM customers UNION SELECT ssn FROM r) SELECT * FROM r`,
		`SELECT ssn::text FROM customers`,
		`SELECT c.ssn FROM customers c WHERE c.id IN (SELECT customer_id FROM orders)`,
		`UPDATE customers SET name = name WHERE id = 1 RETURNING *`,
		`INSERT INTO cards (card_n) SELECT ssn FROM customers RETURNING card_n, ip`,
	)

	oids := map[uint32][2]string{} // table OID -> relkind, "schema.table"
	relOf := func(oid uint32) (string, string) {
		if r, ok := oids[oid]; ok {
			return r[0], r[1]
		}
		rows, err := schema.query(`SELECT c.relkind, n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`, strconv.FormatUint(uint64(oid), 10))
		if err != nil || len(rows) == 0 {
			t.Fatalf("relation %d: %v", oid, err)
		}
		oids[oid] = [2]string{rows[0][0], rows[0][1]}
		return rows[0][0], rows[0][1]
	}
	checked, passes := 0, 0
	for _, sql := range corpus {
		if strings.HasPrefix(sql, "COPY") {
			continue // Exec does not run COPY; its flows are those of a SELECT, tested as such
		}
		if err := conn.Exec(ctx, "BEGIN").Close(); err != nil {
			t.Fatal(err)
		}
		fields, err := firstFields(ctx, conn, sql)
		if rerr := conn.Exec(ctx, "ROLLBACK").Close(); rerr != nil {
			t.Fatal(rerr)
		}
		if err != nil {
			t.Logf("skipped, the server refuses it: %s: %v", sql, err)
			continue
		}
		tree, perr := parsers[0].parse(sql)
		if perr != nil {
			t.Fatal(perr)
		}
		flows, ferr := l.Flows(tree, 0)
		if ferr != nil {
			t.Errorf("%s: %v", sql, ferr)
			continue
		}
		checked++
		if len(fields) != len(flows) {
			// The caller then takes every field as Opaque: only acceptable when we
			// said so.
			opaqueSaid := false
			for _, f := range flows {
				if f.Opaque != "" {
					opaqueSaid = true
				}
			}
			if !opaqueSaid {
				t.Errorf("%s: %d flows for %d fields: %s", sql, len(flows), len(fields), fmtFlows(flows))
			}
			continue
		}
		for k, fd := range fields {
			f := flows[k]
			if fd.TableOID == 0 {
				if f.Pass {
					t.Errorf("%s: field %d (%s) is computed, got Pass %s", sql, k, fd.Name, fmtFlow(f))
				}
				continue
			}
			kind, rel := relOf(fd.TableOID)
			if kind != "r" {
				// A view's column: the server reports the view, we report its query's
				// sources; a view column may be computed.
				continue
			}
			if int16(fd.TableAttributeNumber) < 0 {
				// A system column (ctid): no data of the table's own.
				if f.Pass || f.Opaque != "" || len(f.Sources) > 0 {
					t.Errorf("%s: field %d (%s) is a system column, got %s", sql, k, fd.Name, fmtFlow(f))
				}
				continue
			}
			if fd.TableAttributeNumber == 0 {
				// A whole-row reference: the server names the table, with no column.
				if f.Pass || f.Fields == nil {
					t.Errorf("%s: field %d (%s) is a whole row of %s, got %s", sql, k, fd.Name, rel, fmtFlow(f))
				}
				continue
			}
			rows, err := schema.query(`SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum = $2`,
				strconv.FormatUint(uint64(fd.TableOID), 10), strconv.Itoa(int(fd.TableAttributeNumber)))
			if err != nil || len(rows) != 1 {
				t.Fatalf("attribute %d.%d: %v", fd.TableOID, fd.TableAttributeNumber, err)
			}
			want := rel + "." + rows[0][0]
			if why, ok := stricterThanPostgres[sql]; ok && !f.Pass && slices.ContainsFunc(f.Sources, func(s classify.Source) bool { return s.String() == want }) {
				t.Logf("%s: masked whole where PostgreSQL passes %s through: %s", sql, want, why)
				continue
			}
			if !f.Pass || len(f.Sources) != 1 || f.Sources[0].String() != want {
				t.Errorf("%s: field %d (%s) passes %s through, got %s", sql, k, fd.Name, want, fmtFlow(f))
			}
			passes++
		}
	}
	t.Logf("checked %d statements, %d pass-through fields", checked, passes)
	if checked < 200 {
		t.Errorf("only %d statements of the corpus ran: the seed or the server is not what the test expects", checked)
	}
	if passes < 50 {
		t.Errorf("only %d pass-through fields checked", passes)
	}
}

// firstFields runs sql and returns the RowDescription of its first result, copied: pgconn
// reuses the buffer it decodes them from.
func firstFields(ctx context.Context, conn *pgconn.PgConn, sql string) ([]pgconn.FieldDescription, error) {
	mrr := conn.Exec(ctx, sql)
	var fields []pgconn.FieldDescription
	first := true
	for mrr.NextResult() {
		rr := mrr.ResultReader()
		if first {
			fields = slices.Clone(rr.FieldDescriptions())
			first = false
		}
		if _, err := rr.Close(); err != nil {
			mrr.Close()
			return nil, err
		}
	}
	return fields, mrr.Close()
}
