package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/internal/pgvalue"
)

// catalog looks up, for one session's masking, what the database says of the relations,
// functions and types its results come from, on a connection of its own to the database
// with the session's credential; each answer once per session. Only the engine's upstream
// side uses it (one goroutine).
type catalog struct {
	cfg    *pgconn.Config
	conn   *pgconn.PgConn
	tables map[uint32]*tableInfo

	relations map[string]relationAnswer // "schema\x00name" → what Relation said
	funcs     map[string]bool           // function name → all of that name are built-ins
	types     map[uint32]typeAnswer
}

type relationAnswer struct {
	rel *classify.RelationDef
	err error
}

type tableInfo struct {
	schema, name string
	kind         byte // pg_class.relkind: 'r' table, 'p' partitioned, 'v' view, 'm' materialized view, 'f' foreign…
	columns      map[uint16]columnInfo
}

// passThrough reports whether a RowDescription field naming this relation holds that
// column's stored values as they are: a table's (PostgreSQL names a view's column for a
// view, whatever the view computes there).
func (t *tableInfo) passThrough() bool {
	return t.kind == 'r' || t.kind == 'p' || t.kind == 'f' || t.kind == 'S' // S: a sequence's last_value, is_called
}

type columnInfo struct {
	name      string
	typ       uint32 // the type's OID
	dropped   bool
	generated bool
	system    bool // ctid, xmin, tableoid…: the row's own bookkeeping, no user data
	attnum    uint16
}

// systemColumns are the names of the system columns by their (negative) attribute
// numbers, as RowDescription carries them (as unsigned 16 bits).
var systemColumns = map[int16]string{-1: "ctid", -2: "oid", -3: "xmin", -4: "cmin", -5: "xmax", -6: "cmax", -7: "tableoid"}

func (c *catalog) column(oid uint32, attnum uint16) (*tableInfo, columnInfo, error) {
	t, err := c.table(oid)
	if err != nil {
		return nil, columnInfo{}, err
	}
	if n := int16(attnum); n < 0 {
		name, ok := systemColumns[n]
		if !ok {
			name = "system column " + strconv.Itoa(int(n))
		}
		return t, columnInfo{name: name, system: true, attnum: attnum}, nil
	}
	col, ok := t.columns[attnum]
	if !ok {
		return nil, columnInfo{}, fmt.Errorf("catalog: table %s.%s has no column %d", t.schema, t.name, attnum)
	}
	return t, col, nil
}

func (c *catalog) table(oid uint32) (*tableInfo, error) {
	if t, ok := c.tables[oid]; ok {
		return t, nil
	}
	t, err := c.load(oid)
	if err != nil {
		return nil, err
	}
	c.tables[oid] = t
	return t, nil
}

func (c *catalog) exec(sql string, params ...string) (*pgconn.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	if err := c.connect(ctx); err != nil {
		return nil, err
	}
	args := make([][]byte, len(params))
	for i, p := range params {
		args[i] = []byte(p)
	}
	res := c.conn.ExecParams(ctx, sql, args, nil, nil, nil).Read()
	if res.Err != nil {
		if c.conn.IsClosed() {
			c.conn = nil
		}
		return nil, res.Err
	}
	return res, nil
}

func (c *catalog) load(oid uint32) (*tableInfo, error) {
	res, err := c.exec(
		`SELECT n.nspname, c.relname, c.relkind, a.attnum, a.attname, a.atttypid, a.attisdropped, a.attgenerated <> '' FROM pg_catalog.pg_class c
		 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
		 WHERE c.oid = $1::pg_catalog.oid`, strconv.FormatUint(uint64(oid), 10))
	if err != nil {
		return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, err)
	}
	if len(res.Rows) == 0 {
		return nil, fmt.Errorf("catalog lookup of table %d: not found", oid)
	}
	r0 := res.Rows[0]
	t := &tableInfo{schema: string(r0[0]), name: string(r0[1]), columns: make(map[uint16]columnInfo)}
	if len(r0[2]) == 1 {
		t.kind = r0[2][0]
	}
	for _, r := range res.Rows {
		if r[3] == nil {
			continue // a relation without columns
		}
		n, err := strconv.Atoi(string(r[3]))
		if err != nil {
			return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, err)
		}
		typ, err := strconv.ParseUint(string(r[5]), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("catalog lookup of table %d: %w", oid, err)
		}
		t.columns[uint16(n)] = columnInfo{name: string(r[4]), typ: uint32(typ), dropped: string(r[6]) == "t",
			generated: string(r[7]) == "t", attnum: uint16(n)}
	}
	return t, nil
}

// Relation implements classify.Schema. An unqualified name is looked up in every schema
// the catalog connection can see: the session's search_path is not known here, so a name
// that more than one schema holds is refused (its columns then mask whole: fail closed).
func (c *catalog) Relation(schema, name string) (*classify.RelationDef, error) {
	key := schema + "\x00" + name
	if a, ok := c.relations[key]; ok {
		return a.rel, a.err
	}
	rel, err := c.relation(schema, name)
	if c.relations == nil {
		c.relations = make(map[string]relationAnswer)
	}
	c.relations[key] = relationAnswer{rel, err}
	return rel, err
}

func (c *catalog) relation(schema, name string) (*classify.RelationDef, error) {
	res, err := c.exec(
		`SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
		 WHERE c.relname = $1 AND ($2 = '' OR n.nspname = $2) AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
		 AND ($2 <> '' OR n.nspname = 'pg_catalog' OR n.nspname NOT LIKE 'pg\_%' OR n.nspname LIKE 'pg\_temp\_%')
		 ORDER BY n.nspname = 'pg_catalog' DESC`, name, schema)
	if err != nil {
		return nil, fmt.Errorf("catalog lookup of %s: %w", name, err)
	}
	switch {
	case len(res.Rows) == 0:
		return nil, fmt.Errorf("relation %s: %w", qualified(schema, name), classify.ErrNoRelation)
	case len(res.Rows) > 1 && !strings.HasPrefix(name, "pg_"):
		return nil, fmt.Errorf("more than one schema has a relation %s", name)
	}
	oid, err := strconv.ParseUint(string(res.Rows[0][0]), 10, 32)
	if err != nil {
		return nil, err
	}
	t, err := c.table(uint32(oid))
	if err != nil {
		return nil, err
	}
	rel := &classify.RelationDef{Schema: t.schema, Name: t.name}
	for n := uint16(1); int(n) <= len(t.columns); n++ {
		col, ok := t.columns[n]
		if !ok {
			return nil, fmt.Errorf("relation %s: column %d missing from the catalog", name, n)
		}
		if !col.dropped {
			rel.Columns = append(rel.Columns, col.name)
		}
	}
	if t.kind == 'v' || t.kind == 'm' {
		res, err := c.exec(`SELECT pg_catalog.pg_get_viewdef($1::pg_catalog.oid)`, strconv.FormatUint(oid, 10))
		if err != nil {
			return nil, fmt.Errorf("view %s: %w", name, err)
		}
		if len(res.Rows) != 1 || res.Rows[0][0] == nil {
			return nil, fmt.Errorf("view %s: no definition", name)
		}
		rel.Query = string(res.Rows[0][0])
	}
	return rel, nil
}

func qualified(schema, name string) string {
	if schema == "" {
		return name
	}
	return schema + "." + name
}

// Transparent implements classify.Schema: a function is transparent when every function
// of that name the session could be calling is one of PostgreSQL's own (pg_catalog, an
// OID below FirstNormalObjectId). A user's function, one of an extension, or a name not
// found is not: what it returns may come from anywhere. The names are read once per
// session, in one query; when that fails, no function is transparent.
func (c *catalog) Transparent(schema, name string) bool {
	if schema != "" && schema != "pg_catalog" {
		return false
	}
	if c.funcs == nil {
		c.funcs = make(map[string]bool)
		res, err := c.exec(
			`SELECT p.proname, pg_catalog.bool_and(p.oid < 16384 AND n.nspname = 'pg_catalog') FROM pg_catalog.pg_proc p
			 JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace GROUP BY p.proname`)
		if err != nil {
			c.funcs = nil
			return false
		}
		for _, r := range res.Rows {
			c.funcs[string(r[0])] = string(r[1]) == "t"
		}
	}
	return c.funcs[name]
}

// sample returns up to n non-NULL values of a table's column, as text: what the detectors
// look at to tell whether the column holds what they find.
func (c *catalog) sample(schema, table, column string, n int) ([][]byte, error) {
	rel := quoteIdent(table)
	if schema != "" {
		rel = quoteIdent(schema) + "." + rel
	}
	// The first rows of the table, at most 50 times n of them: a column that is mostly
	// NULL must not make the sample scan a whole table.
	q := fmt.Sprintf(`SELECT v::pg_catalog.text FROM (SELECT %s AS v FROM %s LIMIT %d) s WHERE v IS NOT NULL LIMIT %d`,
		quoteIdent(column), rel, 50*n, n)
	res, err := c.exec(q)
	if err != nil {
		return nil, fmt.Errorf("sample of %s.%s.%s: %w", schema, table, column, err)
	}
	out := make([][]byte, len(res.Rows))
	for i, r := range res.Rows {
		out[i] = r[0]
	}
	return out, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (c *catalog) connect(ctx context.Context) error {
	if c.conn != nil {
		return nil
	}
	conn, err := pgconn.ConnectConfig(ctx, c.cfg)
	if err != nil {
		return fmt.Errorf("catalog connection: %w", err)
	}
	c.conn = conn
	return nil
}

func (c *catalog) close() {
	if c.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.conn.Close(ctx)
	}
}

type typeAnswer struct {
	t   pgvalue.Type
	err error
}

// Type implements pgvalue.Types, for the types PostgreSQL does not build in: domains,
// enums, composites, ranges and arrays of them. Another base type (an extension's) is
// read by its text I/O in text format and not decoded in binary.
func (c *catalog) Type(oid uint32) (pgvalue.Type, error) {
	if a, ok := c.types[oid]; ok {
		return a.t, a.err
	}
	t, err := c.loadType(oid)
	if c.types == nil {
		c.types = make(map[uint32]typeAnswer)
	}
	c.types[oid] = typeAnswer{t, err}
	return t, err
}

func (c *catalog) loadType(oid uint32) (pgvalue.Type, error) {
	t := pgvalue.Type{OID: oid}
	res, err := c.exec(
		`SELECT t.typtype, t.typbasetype, t.typelem, t.typdelim, t.typcategory, t.typlen,
		 (SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid),
		 (SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid),
		 (SELECT pg_catalog.array_agg(a.atttypid ORDER BY a.attnum) FROM pg_catalog.pg_attribute a
		  WHERE a.attrelid = t.typrelid AND t.typrelid <> 0 AND a.attnum > 0 AND NOT a.attisdropped)
		 FROM pg_catalog.pg_type t WHERE t.oid = $1::pg_catalog.oid`, strconv.FormatUint(uint64(oid), 10))
	if err != nil {
		return t, fmt.Errorf("catalog lookup of type %d: %w", oid, err)
	}
	if len(res.Rows) != 1 {
		return t, fmt.Errorf("catalog lookup of type %d: not found", oid)
	}
	r := res.Rows[0]
	num := func(b []byte) uint32 {
		v, _ := strconv.ParseUint(string(b), 10, 32)
		return uint32(v)
	}
	switch string(r[0]) {
	case "d":
		t.Kind, t.Elem = pgvalue.Domain, num(r[1])
	case "e":
		t.Kind = pgvalue.Enum
	case "c":
		t.Kind = pgvalue.Record
		for _, f := range strings.Split(strings.Trim(string(r[8]), "{}"), ",") {
			if f != "" {
				t.Fields = append(t.Fields, num([]byte(f)))
			}
		}
		if t.Fields == nil {
			t.Fields = []uint32{}
		}
	case "r":
		t.Kind, t.Elem = pgvalue.Range, num(r[6])
	case "m":
		t.Kind, t.Elem = pgvalue.Multirange, num(r[7])
	case "b":
		if string(r[4]) == "A" && num(r[2]) != 0 && string(r[5]) == "-1" {
			t.Kind, t.Elem = pgvalue.Array, num(r[2])
			if len(r[3]) == 1 {
				t.Delim = r[3][0]
			}
		}
	}
	return t, nil
}
