package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/policy"
)

// defaultCatalogRefresh is how old a snapshot may get before it is read again, when the
// config does not say (catalog.refresh).
const defaultCatalogRefresh = time.Minute

// missRefresh is how often a call of a function the snapshot does not know may make the
// gateway read it again: often enough for a function created a moment ago, rarely enough
// that calls of made-up names cannot keep the database busy.
const missRefresh = time.Second

// catalogTimeout bounds one reading of the snapshot.
const catalogTimeout = 10 * time.Second

// funcCatalog keeps the snapshot of one connection's catalog by which the gateway classes
// calls of the database's own functions (classify.Resolver). It reads it on a connection of
// its own, with the connection's stored credential, when first needed, when older than
// refresh, after a session ran DDL (invalidate), and when a call names a function it does
// not know (at most once per missRefresh). A snapshot that cannot be read is
// classify.Unavailable: every such call is write (fail closed). Safe for concurrent use.
type funcCatalog struct {
	connection string         // "db-prod"
	cfg        *pgconn.Config // the login it reads with; nil: none configured
	refresh    time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu      sync.Mutex // held while reading, so that sessions wait for one reading
	cat     *classify.Catalog
	loaded  time.Time // when cat was read; zero: never or invalidated
	missed  time.Time // the last reading for an unknown function
	readErr error     // the last reading's error
}

func newFuncCatalog(connection string, cfg *pgconn.Config, refresh time.Duration, log *slog.Logger) *funcCatalog {
	if refresh <= 0 {
		refresh = defaultCatalogRefresh
	}
	return &funcCatalog{connection: connection, cfg: cfg, refresh: refresh, now: time.Now, log: log}
}

// get returns the snapshot, read again first when it is missing or too old.
func (fc *funcCatalog) get() *classify.Catalog {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if fc.cat == nil || fc.loaded.IsZero() || fc.now().Sub(fc.loaded) >= fc.refresh {
		fc.read()
	}
	return fc.cat
}

// missed reads the snapshot again for a call it did not know, unless it was read for that
// reason less than missRefresh ago; it returns the snapshot to use.
func (fc *funcCatalog) miss() *classify.Catalog {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if now := fc.now(); now.Sub(fc.missed) >= missRefresh {
		fc.missed = now
		fc.read()
	}
	return fc.cat
}

// invalidate makes the next get read the snapshot again: a session ran DDL.
func (fc *funcCatalog) invalidate() {
	fc.mu.Lock()
	fc.loaded = time.Time{}
	fc.mu.Unlock()
}

// read reads the snapshot; fc.mu is held.
func (fc *funcCatalog) read() {
	ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
	defer cancel()
	cat, err := loadCatalog(ctx, fc.cfg)
	now := fc.now()
	if err != nil {
		if fc.readErr == nil || fc.readErr.Error() != err.Error() {
			fc.log.Error("function catalog: calls of the database's own functions are classed write until it can be read", "connection", fc.connection, "err", err)
		}
		fc.readErr = err
		fc.cat = classify.Unavailable(fmt.Sprintf("because the gateway could not read the function catalog of %s (%v); try again later", fc.connection, err))
		// Tried: the next statement that needs it tries again after missRefresh.
		fc.loaded = now.Add(min(missRefresh, fc.refresh) - fc.refresh)
		return
	}
	if fc.readErr != nil {
		fc.log.Info("function catalog read again", "connection", fc.connection)
	}
	fc.readErr = nil
	cat.Version = fc.connection + " read at " + now.UTC().Format(time.TimeOnly)
	fc.cat, fc.loaded = cat, now
}

// The snapshot's queries, sent as one simple Query; each answers in text.
const catalogQueries = `SELECT p.oid, n.nspname, p.proname, p.pronargs, p.pronargdefaults, p.provariadic <> 0, p.prokind, p.provolatile, l.lanname,
       p.oid >= 16384 AND EXISTS (
         SELECT FROM pg_catalog.pg_depend d
         JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
         JOIN pg_catalog.pg_available_extension_versions v ON v.name = e.extname AND v.version = e.extversion
         WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
           AND d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.deptype = 'e' AND v.trusted)
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang;
SELECT a.aggfnoid::oid, f
FROM pg_catalog.pg_aggregate a,
     unnest(ARRAY[a.aggtransfn::oid, a.aggfinalfn::oid, a.aggcombinefn::oid, a.aggserialfn::oid,
                  a.aggdeserialfn::oid, a.aggmtransfn::oid, a.aggminvtransfn::oid, a.aggmfinalfn::oid]) f
WHERE a.aggfnoid::oid >= 16384 AND f <> 0
UNION
SELECT d.objid, CASE WHEN d.refclassid = 'pg_catalog.pg_operator'::regclass THEN o.oprcode::oid ELSE d.refobjid END
FROM pg_catalog.pg_depend d
LEFT JOIN pg_catalog.pg_operator o ON d.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = d.refobjid
WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid >= 16384 AND d.objid <> d.refobjid
  AND d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass);
SELECT o.oid, n.nspname, o.oprname, CASE o.oprkind WHEN 'b' THEN 2 ELSE 1 END, o.oprcode::oid
FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n ON n.oid = o.oprnamespace;
SELECT n.nspname, t.typname, c.castfunc
FROM pg_catalog.pg_cast c
JOIN pg_catalog.pg_type t ON t.oid = c.casttarget
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE c.castfunc >= 16384;
SELECT typname FROM pg_catalog.pg_type WHERE oid < 16384;
WITH dep AS (
  SELECT r.ev_class AS rel, d.refclassid AS cls, d.refobjid AS ref
  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON d.classid = 'pg_catalog.pg_rewrite'::regclass AND d.objid = r.oid
  UNION
  SELECT p.polrelid, d.refclassid, d.refobjid
  FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_policy p ON d.classid = 'pg_catalog.pg_policy'::regclass AND d.objid = p.oid
)
SELECT DISTINCT c.oid, n.nspname, c.relname,
       CASE WHEN dep.cls = 'pg_catalog.pg_class'::regclass THEN 'r' ELSE 'f' END,
       CASE WHEN dep.cls = 'pg_catalog.pg_operator'::regclass THEN o.oprcode::oid ELSE dep.ref END
FROM dep
JOIN pg_catalog.pg_class c ON c.oid = dep.rel
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_catalog.pg_operator o ON dep.cls = 'pg_catalog.pg_operator'::regclass AND o.oid = dep.ref
LEFT JOIN pg_catalog.pg_class rc ON dep.cls = 'pg_catalog.pg_class'::regclass AND rc.oid = dep.ref
WHERE c.oid >= 16384 AND dep.ref <> dep.rel
  AND (dep.cls IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass)
       OR rc.relkind = 'v' OR rc.relrowsecurity)`

// loadCatalog reads a snapshot on a connection of its own.
func loadCatalog(ctx context.Context, cfg *pgconn.Config) (*classify.Catalog, error) {
	if cfg == nil {
		return nil, errors.New("read catalog: the connection has no login configured")
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	results, err := conn.Exec(ctx, catalogQueries).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	if len(results) != 6 {
		return nil, fmt.Errorf("read catalog: %d results, want 6", len(results))
	}
	p := rowParser{}
	var funcs []classify.Function
	for _, r := range results[0].Rows {
		f := classify.Function{
			OID: p.oid(r, 0), Schema: string(r[1]), Name: string(r[2]), Args: p.int(r, 3), Defaults: p.int(r, 4),
			Variadic: string(r[5]) == "t", Kind: p.char(r, 6), Volatile: p.char(r, 7), Language: string(r[8]),
			Trusted: string(r[9]) == "t",
		}
		funcs = append(funcs, f)
	}
	byOID := make(map[uint32]int, len(funcs))
	for i := range funcs {
		byOID[funcs[i].OID] = i
	}
	for _, r := range results[1].Rows {
		if i, ok := byOID[p.oid(r, 0)]; ok {
			funcs[i].Calls = append(funcs[i].Calls, p.oid(r, 1))
		}
	}
	var ops []classify.Operator
	for _, r := range results[2].Rows {
		ops = append(ops, classify.Operator{OID: p.oid(r, 0), Schema: string(r[1]), Name: string(r[2]), Args: p.int(r, 3), Func: p.oid(r, 4)})
	}
	var casts []classify.Cast
	for _, r := range results[3].Rows {
		casts = append(casts, classify.Cast{Schema: string(r[0]), Type: string(r[1]), Func: p.oid(r, 2)})
	}
	var types []string
	for _, r := range results[4].Rows {
		types = append(types, string(r[0]))
	}
	var rels []classify.Relation
	relIdx := map[uint32]int{}
	for _, r := range results[5].Rows {
		oid := p.oid(r, 0)
		i, ok := relIdx[oid]
		if !ok {
			i = len(rels)
			relIdx[oid] = i
			rels = append(rels, classify.Relation{OID: oid, Schema: string(r[1]), Name: string(r[2])})
		}
		if string(r[3]) == "r" {
			rels[i].Relations = append(rels[i].Relations, p.oid(r, 4))
		} else {
			rels[i].Functions = append(rels[i].Functions, p.oid(r, 4))
		}
	}
	if p.err != nil {
		return nil, fmt.Errorf("read catalog: %w", p.err)
	}
	return classify.NewCatalog(funcs, ops, casts, rels, types), nil
}

// rowParser reads text columns, keeping the first error.
type rowParser struct{ err error }

func (p *rowParser) int(r [][]byte, i int) int {
	n, err := strconv.Atoi(string(r[i]))
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("column %d: %w", i, err)
	}
	return n
}

func (p *rowParser) oid(r [][]byte, i int) uint32 {
	n, err := strconv.ParseUint(string(r[i]), 10, 32)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("column %d: %w", i, err)
	}
	return uint32(n)
}

func (p *rowParser) char(r [][]byte, i int) byte {
	if len(r[i]) != 1 {
		if p.err == nil {
			p.err = fmt.Errorf("column %d: %q is not one character", i, r[i])
		}
		return 0
	}
	return r[i][0]
}

// catalogLogin picks the login the catalog of a connection is read with: the least
// privileged one configured (pg_proc and the rest are readable by every role).
func catalogLogin(levels map[policy.Class]*pgconn.Config) *pgconn.Config {
	for _, level := range policy.Classes() {
		if cfg, ok := levels[level]; ok {
			return cfg
		}
	}
	return nil
}

// keepsCatalog lists the kinds of statement of class ddl or admin that cannot change what
// a function, operator, cast, view or policy is: every other one makes the snapshot stale.
var keepsCatalog = map[string]bool{
	"VACUUM": true, "ANALYZE": true, "CLUSTER": true, "REINDEX": true, "CHECKPOINT": true,
	"TRUNCATE": true, "REFRESH MATERIALIZED VIEW": true, "SET": true, "RESET": true,
	"COMMENT": true, "SECURITY LABEL": true,
}

// changesCatalog reports whether a statement may change what the snapshot holds.
func changesCatalog(st classify.Statement, class policy.Class) bool {
	if st.Always || class != policy.DDL && class != policy.Admin {
		return false
	}
	return !keepsCatalog[st.Kind]
}
