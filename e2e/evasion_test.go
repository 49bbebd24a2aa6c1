package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql/driver"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/hoopgw/hoop/api"
)

// The evasion corpus: an analyst (ann, masked by the example policy: partial mode, every
// detector, column rules *.ssn and customers.phone) tries to read seeded secrets past the
// masking with the tricks of issue 13: gluing a secret to other text, computing over a
// masked column, bytea in escape output, binary result formats, and literals the gateway
// keeps in its statement text. Every query runs through one gateway and one tunnel with
// four real clients: psql (text), pgx (every result column in binary), asyncpg (binary by
// default) and psycopg 3 (a binary cursor). Each query also runs directly against
// PostgreSQL with the same client: that proves the query really exposes a secret (else the
// entry proves nothing and fails as a corpus error), and that the ordinary values come
// back through the gateway exactly as they do directly (over-masking fails too).
//
// The corpus runs once per test binary (in whichever TestEvasion* test runs first); the
// TestEvasion* tests each check one class of it. Each client connects once; only when the
// gateway closes a session does a new one go on with the rest (after the SETs before it).
//
//	go test -count=1 -run TestEvasion ./e2e/
//	HOOP_EVASION_DUMP=/tmp go test -count=1 -run TestEvasion ./e2e/   # every output in /tmp/evasion.json

// evasionClass names the class a query belongs to, after the list.
const (
	classGlue      = "glue"        // a secret glued to other text
	classExpr      = "expressions" // expressions, functions, casts, constructors over a masked column
	classBytea     = "bytea"       // bytea_output = escape (and hex) and casts to bytea
	classBinary    = "binary"      // types read in binary: inet, cidr, numeric, arrays, records
	classOrdinary  = "ordinary"    // ordinary values that must come back untouched
	classStatement = "statement"   // statements whose text holds a secret literal
	classSetup     = "setup"       // SET and the like, run for their effect only
	evasionTable   = "evasion_canary"
	evasionView    = "evasion_canary_v"
	evasionFunc    = "evasion_canary_card"
	evasionSetFunc = "evasion_canary_rows"
)

// evasionClients are the real clients every query runs with.
var evasionClients = []string{"psql", "pgx", "asyncpg", "psycopg"}

// canaryRow is a row of the seeded table: secrets of every kind the detectors know, and
// ordinary values (names, order numbers, UUIDs, dates, look-alikes) that must stay.
type canaryRow struct {
	id                                                 int
	name, orderNo, uid, created, amount, mac, note     string
	email, phone, ssn, card, ip, netAddr, netLen, iban string
}

// canaryRows: Luhn-valid cards in several groupings, SSNs in valid ranges, IBANs that
// pass mod 97 (one spaced), e-mails, phones in several national formats, IPv4 and IPv6.
var canaryRows = []canaryRow{
	{1, "Marguerite Okafor", "ORD-000123", "a3bb189e-8bf9-3888-9912-ace4e6543002", "2024-03-15", "129.99", "08:00:2b:01:02:03",
		"shipped 2024-03-15 14:22, v1.2.3, SKU 84-2291-77",
		"marguerite.okafor@example.net", "(312) 555-0148", "412-63-2958", "4532 0189 7364 5121", "203.0.113.47", "198.51.100.0", "24", "DE89370400440532013000"},
	{2, "Tomás Lindqvist", "ORD-000456", "6fa459ea-ee8a-3ca4-894e-db77e160355e", "2024-06-01", "15.00", "00:1a:2b:3c:4d:5e",
		"gift wrap, ISBN 978-3-16-148410-0",
		"tomas.lindqvist+billing@mail.example.co.uk", "+44 20 7946 0958", "287-41-6093", "5528-7410-6395-8277", "2001:db8:85a3::8a2e:370:7334", "10.42.0.0", "16", "GB82 WEST 1234 5698 7654 32"},
	{3, "Aiko Brennan", "INV-2024-0042", "886313e1-3b8a-5372-9b90-0c9aee199e5d", "2023-12-31", "4200.50", "52:54:00:12:34:56",
		"two boxes, 3 apples @ 0.50 each",
		"aiko.brennan@example.org", "415.555.0172", "158-72-4406", "6011548372901647", "192.0.2.146", "2001:db8:abcd::", "48", "FR1420041010050500013M02606"},
	{4, "Dmitri Ferreira", "ORD-2024-000789", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", "2022-01-09", "0.99", "ac:de:48:00:11:22",
		"call back after 14:00, ticket #40213",
		"d.ferreira@example.com", "+1 646-555-0193", "603-18-7735", "3782 845219 06341", "fe80::a00:27ff:fe4e:66a1", "172.20.0.0", "14", "NL91ABNA0417164300"},
	{5, "Priya Castellanos", "ORD-001010", "f47ac10b-58cc-4372-a567-0e02b2c3d479", "2025-11-30", "75.25", "3c:22:fb:aa:bb:cc",
		"zip 75001 Paris, 1700000000",
		"priya.c@example.io", "030/12345678", "071-54-3289", "4916932758403199", "198.51.100.23", "203.0.113.0", "24", "CH9300762011623852957"},
}

// secrets returns every secret the seeded rows hold, as PostgreSQL prints them.
func (r canaryRow) secrets() []string {
	return []string{r.email, r.phone, r.ssn, r.card, digitsOf(r.card), r.ip, r.netAddr, r.iban}
}

// canarySchema creates the table, a view and two functions over it, for the read role.
func canarySchema(roUser, rwUser string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `CREATE TABLE %[1]s (id int PRIMARY KEY, name text, order_no text, uid uuid, created date, amount numeric(10,2),
	email text, phone text, ssn text, card text, card_n numeric, card_i int8, ip inet, net cidr, mac macaddr, iban text, note text, doc jsonb,
	tags text[]);
`, evasionTable)
	for _, r := range canaryRows {
		doc, _ := json.Marshal(map[string]string{"email": r.email, "ip": r.ip, "card": r.card, "plan": "gold"})
		fmt.Fprintf(&b, "INSERT INTO %s VALUES (%d, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ARRAY['vip', %s, %s]);\n", evasionTable,
			r.id, sqlQuote(r.name), sqlQuote(r.orderNo), sqlQuote(r.uid), sqlQuote(r.created), r.amount,
			sqlQuote(r.email), sqlQuote(r.phone), sqlQuote(r.ssn), sqlQuote(r.card), digitsOf(r.card), digitsOf(r.card),
			sqlQuote(r.ip), sqlQuote(r.netAddr+"/"+r.netLen), sqlQuote(r.mac), sqlQuote(r.iban), sqlQuote(r.note), sqlQuote(string(doc)),
			sqlQuote(r.email), sqlQuote(r.orderNo))
	}
	fmt.Fprintf(&b, `CREATE VIEW %[2]s AS SELECT id, name, email, card, ssn, ip FROM %[1]s;
CREATE FUNCTION %[3]s(int) RETURNS text LANGUAGE sql STABLE AS 'SELECT card FROM %[1]s WHERE id = $1';
CREATE FUNCTION %[4]s() RETURNS SETOF %[1]s LANGUAGE sql STABLE AS 'SELECT * FROM %[1]s ORDER BY id';
GRANT SELECT ON %[1]s, %[2]s TO %[5]s, %[6]s;
GRANT UPDATE ON %[1]s TO %[6]s;
`, evasionTable, evasionView, evasionFunc, evasionSetFunc, roUser, rwUser)
	return b.String()
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func digitsOf(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Statement-text secrets: values the analyst writes into statements, compared with or
// written into masked columns. None of them is in any result of the corpus, so finding one
// in the recording, the audit trail or the log can only come from the statement text.
// Some are caught by a detector on their own (the SSN with dashes), the rest only by
// where they flow (a bare SSN, a phone without separators).
type statementSecrets struct {
	custSSN     string // a seeded customer's SSN, compared with customers.ssn
	custSSNBare string // another customer's SSN without dashes, compared with replace(ssn, ...)
	custPhone   string // a seeded customer's phone, compared with customers.phone
	newPhone    string // written into customers.phone: ten digits no detector takes for a phone
	newSSN      string // written into customers.ssn, bare
	paramSSN    string // a bind parameter compared with customers.ssn, bare
	// An engineer's writes, held for review: the review, its notifications and the
	// recording show approvers the statement.
	reviewPhone string // written into customers.phone by a held UPDATE, bare
	reviewSSN   string // compared with customers.ssn in the held UPDATE, bare
	reviewParam string // a bind parameter written into customers.phone by a held UPDATE
}

func (s statementSecrets) list() []string {
	return []string{s.custSSN, s.custSSNBare, s.custPhone, s.newPhone, s.newSSN, s.paramSSN, s.reviewPhone, s.reviewSSN, s.reviewParam}
}

// evasionQuery is one entry of the corpus, as the Python scripts read it from JSON.
type evasionQuery struct {
	ID     string   `json:"id"`
	Class  string   `json:"class"`
	SQL    string   `json:"sql"`
	Exec   bool     `json:"exec,omitempty"`   // run for its effect (SET): no rows
	Params []string `json:"params,omitempty"` // bind parameters: only pgx runs such an entry
	Direct bool     `json:"-"`                // also run directly (false for statement-text entries)
	// Keep are ordinary values the output must still hold: a pass-through array, record or
	// JSON value is masked element by element, the rest of it survives.
	Keep []string `json:"-"`
}

// evasionCorpus builds the queries. sts holds the statement-text literals.
func evasionCorpus(sts statementSecrets) []evasionQuery {
	var qs []evasionQuery
	n := map[string]int{}
	add := func(class, sql string) {
		n[class]++
		qs = append(qs, evasionQuery{ID: fmt.Sprintf("%s-%03d", class, n[class]), Class: class, SQL: sql, Direct: true})
	}
	from := " FROM " + evasionTable + " ORDER BY id"
	// Glue: every text form of every secret kind, glued to letters, digits, other columns,
	// zero-width spaces, inside JSON and arrays.
	glueCols := []string{"email", "phone", "ssn", "card", "card_n::text", "card_i::text", "ip::text", "iban"}
	glueTpl := []string{
		"'x' || %s", "%s || 'x'", "name || %s", "'ref' || %s || 'end'", "concat('a', %s, 'b')",
		"json_build_object('k', 'x' || %s)", "ARRAY['x' || %s]", "%s || order_no", "'0' || %s || '0'",
		`U&'\200B' || %s || U&'\200B'`,
	}
	for _, tpl := range glueTpl {
		for _, c := range glueCols {
			add(classGlue, "SELECT "+fmt.Sprintf(tpl, c)+from)
		}
	}
	add(classGlue, "SELECT 'x' || host(ip) || 'y', 'n' || net::text"+from)
	add(classGlue, "SELECT name || ssn || email || card"+from)
	add(classGlue, "SELECT 'card:' || card_n || ';ssn:' || ssn"+from)

	// Expressions over a masked column (a column rule's or a detector's).
	for _, e := range []string{
		"concat_ws(' ', name, phone, ssn)", "concat_ws('|', email, card, iban)",
		"replace(ssn, '-', '')", "replace(phone, ' ', '')", "replace(replace(card, '-', ''), ' ', '')", "replace(iban, ' ', '')",
		"reverse(email)", "reverse(ssn)", "reverse(card_n::text)", "reverse(iban)", "reverse(host(ip))",
		"encode(convert_to(email, 'UTF8'), 'base64')", "encode(convert_to(ssn, 'UTF8'), 'base64')",
		"encode(convert_to(card, 'UTF8'), 'base64')", "encode(convert_to(iban, 'UTF8'), 'base64')",
		"encode(convert_to('x' || ssn, 'UTF8'), 'base64')",
		"encode(convert_to(ssn, 'UTF8'), 'hex')", "encode(convert_to(card, 'UTF8'), 'hex')", "encode(convert_to(email, 'UTF8'), 'hex')",
		"encode(ssn::bytea, 'escape')",
		"translate(phone, '0123456789', 'abcdefghij')", "translate(ssn, '0123456789', 'abcdefghij')",
		"substr(card, 1, 8) || substr(card, 9)", "substr(ssn, 1, 3) || substr(ssn, 5, 2) || substr(ssn, 8)",
		"left(card, 10) || '/' || right(card, -10)", "left(email, 5) || '.' || substr(email, 6)",
		"overlay(card placing 'X' from 1 for 0)", "overlay(ssn placing '' from 4 for 1)",
		"split_part(email, '@', 1) || '@' || split_part(email, '@', 2)",
		"split_part(ssn, '-', 1) || split_part(ssn, '-', 2) || split_part(ssn, '-', 3)",
		`regexp_replace(ssn, '(\d)', '\1 ', 'g')`, `regexp_replace(card, '\s', '', 'g')`,
		"upper(email)", "lower(iban)", "initcap(email)", "upper(ssn)",
		"encode(sha256(convert_to(ssn, 'UTF8')), 'hex')", "sha256(ssn::bytea)",
		"card_n::float8", "card_i::float8", "card_n::money", "card_n::int8", "card_i::numeric", "card_n::text::numeric",
		"replace(card, ' ', '')::int8", "card_n + 0", "card_i * 1", "-card_n", "card_n::numeric(20,2)",
		"to_char(card_n, '9999999999999999')", "to_hex(card_i)",
		"ssn::bytea", "card::bytea", "to_json(card)", "to_jsonb(ssn)", "card_n::text::json", "ssn::text[]", "('{' || ssn || '}')::text[]",
		"ssn::varchar", "ssn::char(20)", `ssn COLLATE "C"`, "quote_literal(ssn)", "quote_ident(email)",
		"lpad(ssn, 20, '0')", "rpad(card, 30, 'x')", "btrim(' ' || ssn || ' ')", "repeat(ssn, 2)", "ssn || ssn",
		"string_to_array(ssn, '-')", "regexp_split_to_array(card_n::text, '')", "array_to_string(ARRAY[ssn, card], ';')",
		"format('%s', ssn)", "format('%s-%s', name, card)", "format('%I', email)", "format('%L', phone)",
		"json_build_object('s', ssn)", "jsonb_build_array(card, iban)", "to_json(email)", "to_jsonb(card_n)",
		"json_build_array(phone)", "row_to_json(ROW(ssn, card))", "ROW(ssn, card)", "ARRAY[ssn, card]", "ARRAY[email]",
		"CASE WHEN id > 0 THEN ssn END", "CASE WHEN id > 0 THEN card ELSE name END", "COALESCE(NULL, ssn)",
		"NULLIF(phone, '')", "greatest(ssn, '')", "first_value(ssn) OVER (ORDER BY id)", "lag(card) OVER (ORDER BY id)",
		"doc::text", "doc->>'email'", "doc->'card'", "doc #>> '{ip}'", "jsonb_path_query_first(doc, '$.card')",
		"xmlelement(name x, ssn)", "ssn AS s", `phone AS "name"`,
	} {
		add(classExpr, "SELECT "+e+from)
	}
	for _, q := range []string{
		"SELECT c FROM %[1]s c ORDER BY id", "SELECT c.* FROM %[1]s c ORDER BY id", "SELECT row_to_json(c) FROM %[1]s c",
		"SELECT json_agg(c) FROM %[1]s c", "SELECT string_agg(ssn, ',') FROM %[1]s", "SELECT string_agg(email, ' ' ORDER BY id) FROM %[1]s",
		"SELECT array_agg(card) FROM %[1]s", "SELECT array_agg(phone ORDER BY id)::text FROM %[1]s",
		"SELECT unnest(ARRAY[ssn, email]) FROM %[1]s", "SELECT x FROM %[1]s c, LATERAL (SELECT c.ssn || '') l(x)",
		"SELECT x FROM %[1]s c CROSS JOIN LATERAL unnest(ARRAY[c.card, c.iban]) x",
		"WITH t AS (SELECT ssn || '' s FROM %[1]s) SELECT s FROM t", "WITH t(s) AS (SELECT ssn FROM %[1]s) SELECT s || '!' FROM t",
		"WITH RECURSIVE r(s, n) AS (SELECT card, 1 FROM %[1]s UNION ALL SELECT s, n + 1 FROM r WHERE n < 2) SELECT s FROM r",
		"SELECT name FROM %[1]s WHERE false UNION ALL SELECT ssn FROM %[1]s", "SELECT 'x' UNION SELECT email FROM %[1]s",
		"SELECT order_no FROM %[1]s UNION ALL SELECT card FROM %[1]s", "SELECT (SELECT ssn FROM %[1]s c2 WHERE c2.id = c.id) FROM %[1]s c",
		"SELECT name FROM (SELECT ssn AS name FROM %[1]s) s", "SELECT * FROM (SELECT id, card || '' AS note FROM %[1]s) s",
		"SELECT DISTINCT ssn FROM %[1]s", "SELECT ssn, count(*) FROM %[1]s GROUP BY ssn", "SELECT max(card), min(email) FROM %[1]s",
		"SELECT email FROM %[1]s GROUP BY email HAVING count(*) > 0", "SELECT * FROM %[1]s a NATURAL JOIN %[1]s b",
		"SELECT jsonb_each_text(doc) FROM %[1]s", "SELECT * FROM jsonb_each_text((SELECT doc FROM %[1]s WHERE id = 1))",
		"SELECT * FROM %[2]s", "SELECT card, ssn FROM %[2]s", "SELECT card || '' FROM %[2]s",
		"SELECT %[3]s(id) FROM %[1]s", "SELECT %[3]s(1) || ''", "SELECT * FROM %[4]s()", "SELECT ssn, card FROM %[4]s()",
		"SELECT r FROM %[4]s() r", "SELECT (%[4]s()).email",
		"SELECT ARRAY(SELECT ssn FROM %[1]s)", "SELECT (SELECT array_agg(c) FROM %[1]s c)",
		"VALUES ((SELECT card FROM %[1]s WHERE id = 3))", "SELECT * FROM ROWS FROM (unnest((SELECT array_agg(iban) FROM %[1]s)))",
	} {
		add(classExpr, fmt.Sprintf(q, evasionTable, evasionView, evasionFunc, evasionSetFunc))
	}

	// bytea output: escape shows the bytes of a text as the text itself.
	setup := func(sql string) {
		n[classSetup]++
		qs = append(qs, evasionQuery{ID: fmt.Sprintf("%s-%03d", classSetup, n[classSetup]), Class: classSetup, SQL: sql, Exec: true, Direct: true})
	}
	byteaExprs := []string{"card::bytea", "ssn::bytea", "email::bytea", "card_n::text::bytea", "convert_to(ssn, 'UTF8')",
		"decode(replace(ssn, '-', ''), 'escape')", "iban::bytea", "host(ip)::bytea", "('x' || ssn)::bytea",
		"ARRAY[ssn::bytea]", "ROW(card::bytea)", "convert_to(phone, 'LATIN1')", "decode(card_n::text, 'escape')"}
	setup("SET bytea_output = 'escape'")
	for _, e := range byteaExprs {
		add(classBytea, "SELECT "+e+from)
	}
	setup("SET bytea_output = 'hex'")
	for _, e := range byteaExprs[:6] {
		add(classBytea, "SELECT "+e+from)
	}
	setup("RESET bytea_output")

	// Binary formats: the value's own type read in binary (text for psql).
	for _, e := range []string{
		"ip", "net", "card_n", "card_i", "card_n::float8", "card_n::money", "ARRAY[card_n]", "ARRAY[card_i]", "ARRAY[ip]", "ARRAY[net]",
		"ARRAY[[card_n]]", "ROW(card_n, ip)", "ROW(ssn, email)", "ROW(card_i, net, iban)", "ARRAY[ROW(card_n, ip)]", "doc",
		"jsonb_build_object('c', card_n)", "host(ip)::inet", "set_masklen(ip, 24)", "ip + 0", "ARRAY[ip]::text[]",
		"'{}'::inet[] || ip", "ARRAY[ssn, card]", "card_n::numeric(30,4)", "ROW(ROW(card_n))", "ARRAY[card_n::float8]",
		"network(ip)", "ARRAY[doc]", "ARRAY[card_n::money]",
	} {
		add(classBinary, "SELECT "+e+from)
	}
	keep := func(class, sql string, values ...string) {
		add(class, sql)
		qs[len(qs)-1].Keep = values
	}
	keep(classBinary, "SELECT tags"+from, "vip", canaryRows[0].orderNo, canaryRows[4].orderNo)
	keep(classBinary, "SELECT id, tags, doc"+from, "vip", "gold", canaryRows[2].orderNo)
	keep(classExpr, "SELECT c.* FROM "+evasionTable+" c ORDER BY id", canaryRows[0].name, canaryRows[3].orderNo, canaryRows[4].uid, "gold", "vip")
	keep(classExpr, "SELECT *"+from, canaryRows[1].name, canaryRows[2].orderNo, canaryRows[3].uid, "gold", "vip")
	for _, q := range []string{"SELECT array_agg(ip) FROM %s", "SELECT array_agg(card_n) FROM %s", "SELECT array_agg(net) FROM %s",
		"SELECT array_agg(ROW(card_i, ip)) FROM %s", "SELECT array_agg(doc) FROM %s"} {
		add(classBinary, fmt.Sprintf(q, evasionTable))
	}

	// Ordinary values: through the gateway exactly as direct.
	for _, q := range []string{
		"SELECT id, name, order_no, uid, created, amount, mac, note FROM %s ORDER BY id",
		"SELECT upper(name), lower(order_no), name || ' #' || order_no FROM %s ORDER BY id",
		"SELECT uid::text, created::text, amount::text, mac::text FROM %s ORDER BY id",
		"SELECT array_agg(name ORDER BY id), array_agg(uid ORDER BY id), array_agg(mac ORDER BY id), array_agg(created ORDER BY id) FROM %s",
		"SELECT ROW(id, name, order_no, uid, created) FROM %s ORDER BY id",
		"SELECT json_build_object('name', name, 'order', order_no, 'uid', uid, 'created', created, 'amount', amount) FROM %s ORDER BY id",
		"SELECT count(*), sum(amount), max(created) FROM %s",
		"SELECT name FROM %s WHERE ssn IS NOT NULL ORDER BY id",
		"WITH x AS (SELECT name, order_no FROM %s) SELECT * FROM x ORDER BY order_no",
		"SELECT id, note FROM %s ORDER BY id",
		"SELECT note || ' / ' || order_no || ' / ' || uid FROM %s ORDER BY id",
		"SELECT amount, amount::float8, amount::text::numeric FROM %s ORDER BY id",
	} {
		add(classOrdinary, fmt.Sprintf(q, evasionTable))
	}

	// Statement text: literals compared with or written into masked columns. The writes
	// are denied to an analyst: their text is kept all the same.
	for _, q := range []string{
		"SELECT id, name FROM customers WHERE ssn = '" + sts.custSSN + "'",
		"SELECT id FROM customers WHERE replace(ssn, '-', '') = '" + sts.custSSNBare + "'",
		"SELECT count(*) FROM customers WHERE phone = '" + sts.custPhone + "'",
		"UPDATE customers SET phone = '" + sts.newPhone + "' WHERE id = 1",
		"INSERT INTO customers (name, ssn) VALUES ('Nobody', '" + sts.newSSN + "')",
		"UPDATE customers SET name = 'x' WHERE ssn = '" + sts.custSSNBare + "' RETURNING ssn",
	} {
		n[classStatement]++
		qs = append(qs, evasionQuery{ID: fmt.Sprintf("%s-%03d", classStatement, n[classStatement]), Class: classStatement, SQL: q})
	}
	qs = append(qs, evasionQuery{ID: "statement-param", Class: classStatement, SQL: "SELECT id FROM customers WHERE replace(ssn, '-', '') = $1",
		Params: []string{sts.paramSSN}})
	return qs
}

// leakForms returns secret and its trivially reversed forms: reversed, digits only,
// without separators, base64 (at each alignment) and hex of its bytes, URL-encoded, its
// SHA-256 (an SSN's is found by brute force in minutes), a card's number in hex. Case and
// separators are handled by leakIn, which compares case-insensitively and also without
// separators.
func leakForms(secret string) []string {
	forms := []string{secret, reverse(secret)}
	if d := digitsOf(secret); len(d) >= 9 {
		forms = append(forms, d, reverse(d))
		if len(d) >= 12 {
			if n, ok := new(big.Int).SetString(d, 10); ok {
				forms = append(forms, n.Text(16))
			}
		}
		// translate(x, '0123456789', 'abcdefghij')
		forms = append(forms, strings.Map(func(r rune) rune { return 'a' + (r - '0') }, d))
	}
	if s := stripSeparators(secret); s != secret {
		forms = append(forms, s)
	}
	b := []byte(secret)
	for j := 0; j < 3 && j < len(b); j++ {
		// A secret glued after j bytes of other text starts its own base64 groups
		// j bytes in: only the groups made of the secret's bytes alone are stable.
		skip := (3 - j%3) % 3
		rest := b[skip:]
		full := len(rest) / 3 * 3
		if enc := base64.StdEncoding.EncodeToString(rest[:full]); len(enc) >= 8 {
			forms = append(forms, enc)
		}
	}
	forms = append(forms, hex.EncodeToString(b))
	if q := url.QueryEscape(secret); q != secret {
		forms = append(forms, q, url.PathEscape(secret))
	}
	sum := sha256.Sum256(b)
	forms = append(forms, hex.EncodeToString(sum[:]))
	return forms
}

func reverse(s string) string {
	r := []rune(s)
	slices.Reverse(r)
	return string(r)
}

// stripSeparators lowers s and removes what separates groups of a value (dashes, spaces,
// dots, parentheses, slashes, commas, colons, underscores), so a value printed with other
// separators, or none, is still found.
func stripSeparators(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '-', ' ', '.', '(', ')', '/', ',', ':', '_', '\t', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u00a0':
			return -1
		}
		return r
	}, strings.ToLower(s))
}

// leakIn returns the first form of a secret found in out, and the secret: compared
// case-insensitively, and without separators on both sides (a form that loses too much
// without them, under 8 characters or 9 digits, is compared only as it is).
func leakIn(out string, secrets []string) (secret, form string, ok bool) {
	low, flat := strings.ToLower(out), stripSeparators(out)
	for _, s := range secrets {
		for _, f := range leakForms(s) {
			if strings.Contains(low, strings.ToLower(f)) {
				return s, f, true
			}
			ff := stripSeparators(f)
			if len(ff) < 8 || len(digitsOf(ff)) == len(ff) && len(ff) < 9 {
				continue
			}
			if strings.Contains(flat, ff) {
				return s, f, true
			}
		}
	}
	return "", "", false
}

// evasionRun is what the corpus gave: each client's output per query, through the
// gateway and directly, and what the gateway kept of the analyst's sessions.
type evasionRun struct {
	queries []evasionQuery
	secrets []string
	sts     statementSecrets
	through map[string]map[string]string // client, query id: output
	direct  map[string]map[string]string
	missing map[string]string // client: why it could not run
	kept    map[string]string // "recording", "audit trail", "gateway log", "reviews", "notifications": text
	// An engineer's approved UPDATE … RETURNING in a rolled-back transaction, through
	// the gateway and directly (pgx, binary).
	returning, returningDirect string
}

var (
	evasionOnce sync.Once
	evasionRes  *evasionRun
)

// runEvasion runs the corpus once per test binary, with the first caller's t.
func runEvasion(t *testing.T) *evasionRun {
	t.Helper()
	sharedPG(t) // skips every TestEvasion* test alike where there is no PostgreSQL (not in CI)
	evasionOnce.Do(func() { evasionRes = doEvasion(t) })
	if evasionRes == nil {
		t.Fatal("the evasion corpus did not run: see the failure of the first TestEvasion* test")
	}
	return evasionRes
}

func doEvasion(t *testing.T) *evasionRun {
	pg := sharedPG(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := pg.ExecIn(ctx, pg.App.DB, canarySchema(pg.App.ROUser, pg.App.RWUser)); err != nil {
		t.Fatalf("seed %s: %v", evasionTable, err)
	}
	t.Cleanup(func() {
		pg.ExecIn(context.Background(), pg.App.DB, fmt.Sprintf("DROP VIEW %s; DROP FUNCTION %s(int), %s(); DROP TABLE %s",
			evasionView, evasionFunc, evasionSetFunc, evasionTable))
	})
	// Seeded customers for the statement-text literals.
	super, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	var sts statementSecrets
	if err := super.QueryRow(ctx, "SELECT (SELECT ssn FROM customers WHERE id = 3), (SELECT ssn FROM customers WHERE id = 4), (SELECT phone FROM customers WHERE id = 5)").
		Scan(&sts.custSSN, &sts.custSSNBare, &sts.custPhone); err != nil {
		t.Fatal(err)
	}
	super.Close(ctx)
	sts.custSSNBare = digitsOf(sts.custSSNBare)
	sts.newPhone, sts.newSSN, sts.paramSSN = "4155550148", "321549876", "219099991"
	sts.reviewPhone, sts.reviewSSN, sts.reviewParam = "6465550177", "457219034", "2125550143"

	run := &evasionRun{queries: evasionCorpus(sts), sts: sts, through: map[string]map[string]string{}, direct: map[string]map[string]string{},
		missing: map[string]string{}, kept: map[string]string{}}
	for _, r := range canaryRows {
		run.secrets = append(run.secrets, r.secrets()...)
	}

	dir := t.TempDir()
	directQueries := slices.DeleteFunc(slices.Clone(run.queries), func(q evasionQuery) bool { return !q.Direct })
	writeFile(t, filepath.Join(dir, "asyncpg_run.py"), asyncpgScript)
	writeFile(t, filepath.Join(dir, "psycopg_run.py"), psycopgScript)
	python := evasionPython()

	// Review notifications go to a webhook that keeps them.
	var hookMu sync.Mutex
	var hooks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooks = append(hooks, r.URL.Path+" "+string(b))
		hookMu.Unlock()
	}))
	t.Cleanup(hook.Close)
	cfg := readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml")) +
		"\nreviews:\n  notify:\n    - type: webhook\n      url: " + hook.URL + "/hook\n"
	gw := startGateway(t, gatewayOptions{config: cfg})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	through, direct := dsn(addr), pg.DSN(pg.App.ROUser, pg.App.ROPassword, pg.App.DB)
	for _, client := range evasionClients {
		var missing error
		switch client {
		case "psql":
			if _, err := exec.LookPath("psql"); err != nil {
				missing = err
			}
		case "asyncpg", "psycopg":
			if out, err := exec.Command(python, "-c", "import "+client).CombinedOutput(); err != nil {
				missing = fmt.Errorf("%s cannot import %s: %v: %s", python, client, err, out)
			}
		}
		if missing != nil {
			run.missing[client] = missing.Error()
			continue
		}
		runner := func(dsn string, qs []evasionQuery) (*corpusOut, error) {
			switch client {
			case "psql":
				return runPsqlCorpus(ctx, dir, dsn, qs)
			case "pgx":
				return runPgxCorpus(ctx, dsn, qs)
			}
			return runPythonCorpus(ctx, python, filepath.Join(dir, client+"_run.py"), dsn, qs, dir)
		}
		out, err := runCorpus(through, run.queries, runner)
		if err != nil {
			t.Fatalf("%s through the gateway: %v", client, err)
		}
		run.through[client] = out
		if out, err = runCorpus(direct, directQueries, runner); err != nil {
			t.Fatalf("%s direct: %v", client, err)
		}
		run.direct[client] = out
	}

	// HOOP_EVASION_DUMP=dir keeps every output, for reading what a client got.
	if d := os.Getenv("HOOP_EVASION_DUMP"); d != "" {
		b, _ := json.MarshalIndent(map[string]any{"queries": run.queries, "through": run.through, "direct": run.direct}, "", "  ")
		if err := os.WriteFile(filepath.Join(d, "evasion.json"), b, 0o600); err != nil {
			t.Error(err)
		}
	}

	// An engineer's writes with secret literals, held for review, then denied.
	alice, dana := gw.login(t, "alice"), gw.login(t, "dana")
	aliceAddr, _ := gw.connect(t, alice, "db-prod")
	aconn := connectPgx(t, aliceAddr)
	var reviews bytes.Buffer
	for _, held := range []struct {
		sql  string
		args []any
	}{
		{"UPDATE customers SET phone = '" + sts.reviewPhone + "' WHERE replace(ssn, '-', '') = '" + sts.reviewSSN + "'", []any{pgx.QueryExecModeSimpleProtocol}},
		{"UPDATE customers SET phone = $1 WHERE id = $2", []any{sts.reviewParam, 1}},
	} {
		done := make(chan error, 1)
		go func() {
			_, err := aconn.Exec(ctx, held.sql, held.args...)
			done <- err
		}()
		rv := pendingReview(t, gw, dana)
		b, _ := json.Marshal(rv)
		reviews.Write(b)
		reviews.WriteByte('\n')
		if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{Reason: "not now"}, nil); code != 200 {
			t.Fatalf("deny the held write: %d", code)
		}
		if err := <-done; err == nil {
			t.Fatalf("a denied write ran: %s", held.sql)
		}
	}
	// Approved: an UPDATE … RETURNING computed from masked columns, in a transaction
	// rolled back; and the same directly, which proves it exposes the secrets.
	returning := evasionQuery{ID: "returning", SQL: "UPDATE " + evasionTable + " SET note = note RETURNING id, name, 'x' || ssn, card_n, ip, reverse(email), ROW(iban, card)"}
	for _, c := range []struct {
		conn *pgx.Conn
		into *string
	}{{aconn, &run.returning}, {nil, &run.returningDirect}} {
		conn := c.conn
		if conn == nil {
			var err error
			if conn, err = pgx.Connect(ctx, pg.DSN(pg.App.RWUser, pg.App.RWPassword, pg.App.DB)); err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
		}
		if _, err := conn.Exec(ctx, "BEGIN", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
		done := make(chan *corpusOut, 1)
		go func() { done <- runPgxOn(ctx, conn, []evasionQuery{returning}) }()
		if c.conn != nil {
			rv := pendingReview(t, gw, dana)
			if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", api.ReviewAnswer{}, nil); code != 200 {
				t.Fatalf("approve the UPDATE … RETURNING: %d", code)
			}
		}
		*c.into = (<-done).Out[returning.ID]
		if _, err := conn.Exec(ctx, "ROLLBACK", pgx.QueryExecModeSimpleProtocol); err != nil {
			t.Fatal(err)
		}
	}
	aconn.Close(ctx)
	run.kept["reviews"] = reviews.String()
	waitFor(t, "the review notifications", func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		return len(hooks) >= 3
	})

	// What the gateway kept: the sessions (the analyst's, one per client, and the
	// engineer's), the audit trail's file, the gateway's log.
	want := map[string]int{"ann": len(evasionClients) - len(run.missing), "alice": 1}
	waitFor(t, "the sessions to end", func() bool {
		for user, n := range want {
			list := sessionsOf(t, gw.Store, user)
			if len(list) < n {
				return false
			}
			for _, s := range list {
				if s.EndedAt.IsZero() {
					return false
				}
			}
		}
		return true
	})
	var rec bytes.Buffer
	for _, s := range append(sessionsOf(t, gw.Store, "ann"), sessionsOf(t, gw.Store, "alice")...) {
		_, stmts, err := gw.Store.GetSession(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stmts {
			b, _ := json.Marshal(st)
			rec.Write(b)
			rec.WriteByte('\n')
		}
	}
	run.kept["recording"] = rec.String()
	audit, err := os.ReadFile(filepath.Join(gw.Dir, "hoop-data", "audit.jsonl"))
	if err != nil {
		t.Fatalf("audit trail: %v", err)
	}
	run.kept["audit trail"] = string(audit)
	run.kept["gateway log"] = gw.Logs.String()
	hookMu.Lock()
	run.kept["notifications"] = strings.Join(hooks, "\n")
	hookMu.Unlock()
	return run
}

// corpusOut is what one client session gave: each query's output, in the order run, and
// whether the session was lost (the gateway closed it) after the last one.
type corpusOut struct {
	Order []string          `json:"order"`
	Out   map[string]string `json:"out"`
	Lost  bool              `json:"lost"`
}

func (o *corpusOut) add(id, text string) {
	if o.Out == nil {
		o.Out = map[string]string{}
	}
	if _, ok := o.Out[id]; !ok {
		o.Order = append(o.Order, id)
	}
	o.Out[id] = text
}

// runCorpus runs qs with one client session; when the gateway closes the session, the
// query that was running keeps what it gave (the error), and a new session runs the rest,
// after the settings (SET) made before, so no later query goes untested.
func runCorpus(dsn string, qs []evasionQuery, runner func(string, []evasionQuery) (*corpusOut, error)) (map[string]string, error) {
	all := map[string]string{}
	todo := qs
	for sessions := 1; len(todo) > 0; sessions++ {
		if sessions > 30 {
			return nil, fmt.Errorf("the gateway closed %d sessions; giving up", sessions-1)
		}
		o, err := runner(dsn, todo)
		if err != nil {
			return nil, err
		}
		for id, text := range o.Out {
			all[id] = text
		}
		if !o.Lost {
			break
		}
		if len(o.Order) == 0 {
			return nil, errors.New("the session was lost before its first query")
		}
		last := o.Order[len(o.Order)-1]
		all[last] += "\nSESSION LOST"
		i := slices.IndexFunc(qs, func(q evasionQuery) bool { return q.ID == last })
		var next []evasionQuery
		for _, q := range qs[:i+1] {
			if q.Class == classSetup {
				next = append(next, q)
			}
		}
		todo = append(next, qs[i+1:]...)
	}
	return all, nil
}

// evasionPython is the interpreter with Debian's python3-asyncpg and python3-psycopg:
// /usr/bin/python3 when there is one (a python3 earlier on PATH, from pyenv say, does not
// see Debian's packages), else python3 on PATH.
func evasionPython() string {
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		return "/usr/bin/python3"
	}
	return "python3"
}

// runPsqlCorpus runs the queries in one psql session (text format) and splits its output
// by the markers it echoes to stdout and stderr before each query.
func runPsqlCorpus(ctx context.Context, dir, dsn string, qs []evasionQuery) (*corpusOut, error) {
	var script strings.Builder
	script.WriteString("\\pset pager off\n")
	for _, q := range qs {
		if len(q.Params) > 0 {
			continue
		}
		fmt.Fprintf(&script, "\\echo ===Q %[1]s===\n\\warn ===Q %[1]s===\n%[2]s;\n", q.ID, q.SQL)
	}
	f, err := os.CreateTemp(dir, "psql-*.sql")
	if err != nil {
		return nil, err
	}
	f.WriteString(script.String())
	f.Close()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "psql", "-X", "-A", "-t", "-q", "-f", f.Name(), dsn)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	o := &corpusOut{}
	if err := cmd.Run(); err != nil {
		// psql exits with 2 when the connection is lost; 1 is its own failure (it could
		// not connect, say).
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			return nil, fmt.Errorf("psql: %w: %s", err, stderr.String())
		}
		o.Lost = true
	}
	for _, s := range []string{stdout.String(), stderr.String()} {
		id := ""
		for _, line := range strings.SplitAfter(s, "\n") {
			if rest, ok := strings.CutPrefix(line, "===Q "); ok {
				id = strings.TrimSuffix(strings.TrimSpace(rest), "===")
				if _, seen := o.Out[id]; !seen {
					o.add(id, "")
				}
				continue
			}
			if id != "" {
				o.Out[id] += line
			}
		}
	}
	return o, nil
}

// runPgxCorpus runs the queries on one pgx connection with every result column in binary
// format, and prints each value as raw bytes, hex, and decoded by pgx's type map.
func runPgxCorpus(ctx context.Context, dsn string, qs []evasionQuery) (*corpusOut, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("pgx connect: %w", err)
	}
	defer conn.Close(context.Background())
	return runPgxOn(ctx, conn, qs), nil
}

// runPgxOn is runPgxCorpus on an open connection.
func runPgxOn(ctx context.Context, conn *pgx.Conn, qs []evasionQuery) *corpusOut {
	tm := conn.TypeMap()
	o := &corpusOut{}
	for _, q := range qs {
		var b strings.Builder
		if q.Exec {
			if _, err := conn.Exec(ctx, q.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
				fmt.Fprintf(&b, "ERROR: %v\n", err)
			}
			o.add(q.ID, b.String())
			if o.Lost = conn.IsClosed(); o.Lost {
				return o
			}
			continue
		}
		var params [][]byte
		for _, p := range q.Params {
			params = append(params, []byte(p))
		}
		rr := conn.PgConn().ExecParams(ctx, q.SQL, params, nil, nil, []int16{pgtype.BinaryFormatCode})
		for rr.NextRow() {
			fields := rr.FieldDescriptions()
			for i, raw := range rr.Values() {
				if i > 0 {
					b.WriteString(" | ")
				}
				b.WriteString(showBinary(tm, fields[i].DataTypeOID, raw))
			}
			b.WriteByte('\n')
		}
		if _, err := rr.Close(); err != nil {
			fmt.Fprintf(&b, "ERROR: %v\n", err)
		}
		o.add(q.ID, b.String())
		if o.Lost = conn.IsClosed(); o.Lost {
			return o
		}
	}
	return o
}

// moneyOID is PostgreSQL's money, which pgx has no codec for: binary is int8 cents.
const moneyOID = 790

func showBinary(tm *pgtype.Map, oid uint32, raw []byte) string {
	if raw == nil {
		return "NULL"
	}
	s := fmt.Sprintf("raw=%q hex=%x", raw, raw)
	if oid == moneyOID && len(raw) == 8 {
		return s + fmt.Sprintf(" money=%d", int64(binary.BigEndian.Uint64(raw)))
	}
	if dt, ok := tm.TypeForOID(oid); ok {
		v, err := dt.Codec.DecodeValue(tm, oid, pgtype.BinaryFormatCode, raw)
		if err != nil {
			return s + " decode error: " + err.Error()
		}
		return s + " value=" + showValue(v)
	}
	return s
}

// showValue prints a decoded value the way a program would use it.
func showValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case []byte:
		return fmt.Sprintf("%q(hex %x)", v, v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case netip.Prefix:
		return v.String()
	case [16]byte: // uuid
		return fmt.Sprintf("%x-%x-%x-%x-%x", v[0:4], v[4:6], v[6:8], v[8:10], v[10:16])
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = showValue(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ":" + showValue(v[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case driver.Valuer:
		dv, err := v.Value()
		if err != nil {
			return fmt.Sprintf("%v (value: %v)", v, err)
		}
		if s, ok := dv.(string); ok {
			return s
		}
		return showValue(dv)
	}
	return fmt.Sprintf("%v", v)
}

// runPythonCorpus runs one of the Python scripts: it reads the queries from a JSON file
// and writes a corpusOut as JSON to another.
func runPythonCorpus(ctx context.Context, python, script, dsn string, qs []evasionQuery, dir string) (*corpusOut, error) {
	qf, err := os.CreateTemp(dir, "queries-*.json")
	if err != nil {
		return nil, err
	}
	json.NewEncoder(qf).Encode(qs)
	qf.Close()
	outFile := qf.Name() + ".out"
	cmd := exec.CommandContext(ctx, python, script, dsn, qf.Name(), outFile)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w: %s", filepath.Base(script), err, stderr.String())
	}
	b, err := os.ReadFile(outFile)
	if err != nil {
		return nil, err
	}
	o := &corpusOut{}
	if err := json.Unmarshal(b, o); err != nil {
		return nil, fmt.Errorf("%s: output: %w", filepath.Base(script), err)
	}
	return o, nil
}

// pyShow is shared by both scripts: repr of every value, and for bytes both the raw bytes
// and their hex; money read in binary (no loader) as its int8 cents.
const pyShow = `
import json, sys

def show(v):
    if v is None:
        return "NULL"
    if isinstance(v, (bytes, bytearray, memoryview)):
        b = bytes(v)
        return "%r hex:%s" % (b, b.hex())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join("%s: %s" % (k, show(x)) for k, x in sorted(v.items())) + "}"
    if hasattr(v, "items") and hasattr(v, "values"):  # asyncpg.Record
        return "<" + ", ".join(show(x) for x in v.values()) + ">"
    r = repr(v)
    s = str(v)
    return r if r == s else r + " " + s

def main_args():
    dsn, qfile, outfile = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(qfile) as f:
        return dsn, json.load(f), outfile

def write(outfile, order, out, lost):
    with open(outfile, "w") as f:
        json.dump({"order": order, "out": out, "lost": lost}, f)
`

// asyncpgScript: one connection, binary results (asyncpg's default for every type it
// knows), prepared statements; SETs through execute.
const asyncpgScript = pyShow + `
import asyncio, asyncpg

async def main():
    dsn, queries, outfile = main_args()
    conn = await asyncpg.connect(dsn)
    order, out, lost = [], {}, False
    for q in queries:
        if q.get("params"):
            continue
        lines = []
        try:
            if q.get("exec"):
                await conn.execute(q["sql"])
            else:
                for row in await conn.fetch(q["sql"]):
                    lines.append(" | ".join(show(v) for v in row.values()))
        except Exception as e:
            lines.append("ERROR: %s: %s" % (type(e).__name__, e))
        order.append(q["id"])
        out[q["id"]] = "\n".join(lines)
        if conn.is_closed():
            lost = True
            break
    if not lost:
        await conn.close()
    write(outfile, order, out, lost)

asyncio.run(main())
`

// psycopgScript: one autocommit connection, a binary cursor for every query.
const psycopgScript = pyShow + `
import psycopg

def main():
    dsn, queries, outfile = main_args()
    order, out, lost = [], {}, False
    with psycopg.connect(dsn, autocommit=True) as conn:
        for q in queries:
            if q.get("params"):
                continue
            lines = []
            try:
                with conn.cursor(binary=True) as cur:
                    cur.execute(q["sql"])
                    if cur.description is not None and not q.get("exec"):
                        types = [d.type_code for d in cur.description]
                        for row in cur.fetchall():
                            vals = []
                            for t, v in zip(types, row):
                                if t == 790 and isinstance(v, (bytes, memoryview)) and len(bytes(v)) == 8:
                                    vals.append("money=%d" % int.from_bytes(bytes(v), "big", signed=True))
                                else:
                                    vals.append(show(v))
                            lines.append(" | ".join(vals))
            except Exception as e:
                lines.append("ERROR: %s: %s" % (type(e).__name__, e))
            order.append(q["id"])
            out[q["id"]] = "\n".join(lines)
            if conn.closed or conn.broken:
                lost = True
                break
    write(outfile, order, out, lost)

main()
`

// checkEvasionClass checks one class: per client, no query's output through the gateway
// holds a secret in any form; and, as a check of the corpus itself, each query exposes a
// secret when run directly (with some client).
func checkEvasionClass(t *testing.T, class string) {
	run := runEvasion(t)
	var qs []evasionQuery
	for _, q := range run.queries {
		if q.Class == class {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		t.Fatalf("no %s queries in the corpus", class)
	}
	t.Run("corpus", func(t *testing.T) {
		for _, q := range qs {
			exposed := false
			for _, c := range evasionClients {
				if _, _, ok := leakIn(run.direct[c][q.ID], run.secrets); ok {
					exposed = true
					break
				}
			}
			if !exposed && len(run.missing) < len(evasionClients) {
				t.Errorf("%s %s exposes no secret even directly: it proves nothing\n%s", q.ID, q.SQL, run.direct["psql"][q.ID])
			}
		}
	})
	for _, c := range evasionClients {
		t.Run(c, func(t *testing.T) {
			requireClient(t, run, c)
			var leaked []string
			for _, q := range qs {
				out, ok := run.through[c][q.ID]
				if !ok {
					t.Errorf("%s: %s has no output (the client did not run it)", q.ID, q.SQL)
					continue
				}
				for _, k := range q.Keep {
					if !strings.Contains(out, k) {
						t.Errorf("%s lost the ordinary value %q (over-masking): %s\n\t%s", q.ID, k, q.SQL, firstLine(out))
					}
				}
				if s, f, ok := leakIn(out, run.secrets); ok {
					leaked = append(leaked, q.ID)
					form := ""
					if f != s {
						form = fmt.Sprintf(" as %q", f)
					}
					t.Errorf("%s leaks %q%s: %s\n\t%s", q.ID, s, form, q.SQL, firstLine(out))
				}
			}
			if len(leaked) > 0 {
				t.Logf("%s: %d of %d %s queries leak: %s", c, len(leaked), len(qs), class, strings.Join(leaked, " "))
			}
		})
	}
}

func requireClient(t *testing.T, run *evasionRun, client string) {
	t.Helper()
	if why, ok := run.missing[client]; ok {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (.ci/run installs it): %s", client, why)
		}
		t.Skipf("%s is missing: %s", client, why)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	if len(line) > 300 {
		line = line[:300] + "…"
	}
	return line
}

// TestEvasionGlue: a secret glued to letters, digits, other columns, zero-width spaces,
// inside JSON and arrays (`'x' || ssn`, `name || ssn`, `card_n::text || 'x'`, ...) must not
// reach any client, in any trivially reversed form.
func TestEvasionGlue(t *testing.T) { checkEvasionClass(t, classGlue) }

// TestEvasionExpressions: expressions over a masked column (concat_ws, replace, reverse,
// encode base64/hex, translate, substr, casts to float, money, numeric, JSON, arrays, rows,
// whole-row references, aggregates, windows, CASE, CTEs, UNION, LATERAL, subqueries, a
// view and functions over the table) must not give the secret back; and the ordinary
// values (names, order numbers, UUIDs, dates, amounts, MACs, look-alikes in notes) come
// back exactly as a direct connection returns them, so over-masking fails too.
func TestEvasionExpressions(t *testing.T) {
	checkEvasionClass(t, classExpr)
	t.Run("returning", func(t *testing.T) {
		run := runEvasion(t)
		if _, _, ok := leakIn(run.returningDirect, run.secrets); !ok {
			t.Fatalf("corpus: the UPDATE … RETURNING exposes no secret even directly: %q", run.returningDirect)
		}
		if strings.Contains(run.returning, "ERROR") || !strings.Contains(run.returning, canaryRows[0].name) {
			t.Fatalf("the approved UPDATE … RETURNING gave no rows: %q", run.returning)
		}
		if s, f, ok := leakIn(run.returning, run.secrets); ok {
			t.Errorf("an approved UPDATE … RETURNING leaks %q (as %q):\n%s", s, f, run.returning)
		}
	})
	t.Run("ordinary", func(t *testing.T) {
		run := runEvasion(t)
		for _, c := range evasionClients {
			t.Run(c, func(t *testing.T) {
				requireClient(t, run, c)
				for _, q := range run.queries {
					if q.Class != classOrdinary {
						continue
					}
					got, want := run.through[c][q.ID], run.direct[c][q.ID]
					if want == "" || strings.Contains(want, "ERROR") {
						t.Errorf("%s: %s: the direct run gave nothing to compare: %q", q.ID, q.SQL, want)
						continue
					}
					if got != want {
						t.Errorf("%s: %s: the gateway changed ordinary values\nthrough: %s\ndirect:  %s", q.ID, q.SQL, got, want)
					}
				}
			})
		}
	})
}

// TestEvasionByteaOutput: with bytea_output = 'escape' a text cast to bytea prints as the
// text itself (`card::bytea`, `ssn::bytea`); with 'hex' as its bytes in hex. Neither may
// give the secret back.
func TestEvasionByteaOutput(t *testing.T) { checkEvasionClass(t, classBytea) }

// TestEvasionBinaryFormats: inet, cidr, numeric, int8, float8, money, jsonb, arrays and
// records of these, read in binary by pgx, asyncpg and psycopg 3 (and in text by psql),
// must not give the raw IP or card number.
func TestEvasionBinaryFormats(t *testing.T) { checkEvasionClass(t, classBinary) }

// TestEvasionStatementText: literals compared with or written into masked columns
// (`WHERE ssn = '…'`, a bare SSN compared with ssn without its dashes, `UPDATE … SET phone = '…'`, an INSERT
// into ssn, a bind parameter), sent by every client, must not be kept in the recording,
// the audit trail's file or the gateway's log, whatever the detectors make of the literal
// on its own. The writes are denied to the analyst; their text is kept all the same.
func TestEvasionStatementText(t *testing.T) {
	run := runEvasion(t)
	if !strings.Contains(run.kept["recording"], "customers") {
		t.Fatal("the recording holds none of the statement-text statements")
	}
	for _, what := range []string{"recording", "audit trail", "gateway log", "reviews", "notifications"} {
		t.Run(strings.ReplaceAll(what, " ", "_"), func(t *testing.T) {
			text := run.kept[what]
			for _, s := range run.sts.list() {
				if _, f, ok := leakIn(text, []string{s}); ok {
					i := strings.Index(strings.ToLower(text), strings.ToLower(f))
					ctx := ""
					if i >= 0 {
						ctx = text[max(0, i-80):min(len(text), i+len(f)+40)]
					}
					t.Errorf("%s keeps the literal %q (as %q): …%s…", what, s, f, ctx)
				}
			}
		})
	}
	for c := range run.missing {
		requireClient(t, run, c)
	}
}
