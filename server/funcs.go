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

// ddlRecheck is how long after a session's DDL the snapshot is read once more: the DDL
// is decided before it runs, so the reading it causes may come before its commit.
const ddlRecheck = 2 * time.Second

// funcCatalog keeps the snapshot of one connection's catalog by which the gateway classes
// calls of the database's own functions (classify.Resolver). It reads it on a connection of
// its own, with the connection's stored credential: before first use; before the next use
// after a session ran DDL (invalidate), and once more ddlRecheck later; when a call names a
// function it does not know (at most once per missRefresh); and when older than refresh, in
// the background, the old snapshot serving meanwhile so that no session waits. A snapshot
// that cannot be read is classify.Unavailable: every call of the database's own functions
// is write (fail closed). Safe for concurrent use.
type funcCatalog struct {
	connection string         // "db-prod"
	cfg        *pgconn.Config // the login it reads with; nil: none configured
	refresh    time.Duration
	now        func() time.Time
	log        *slog.Logger

	mu      sync.Mutex
	cat     *classify.Catalog // nil until first read
	loaded  time.Time         // when cat was read
	stale   bool              // cat must be read again before use: DDL ran
	gen     int               // counts invalidations, so that a reading started before one does not clear stale
	due     time.Time         // a background reading is due then (after DDL); zero: none
	missed  time.Time         // the last reading for an unknown function
	readErr error             // the last reading's error
	reading chan struct{}     // closed when the reading in flight ends; nil when none
}

func newFuncCatalog(connection string, cfg *pgconn.Config, refresh time.Duration, log *slog.Logger) *funcCatalog {
	if refresh <= 0 {
		refresh = defaultCatalogRefresh
	}
	return &funcCatalog{connection: connection, cfg: cfg, refresh: refresh, now: time.Now, log: log}
}

// get returns the snapshot to judge a statement with.
func (fc *funcCatalog) get() *classify.Catalog {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	for fc.cat == nil || fc.stale {
		fc.await()
	}
	now := fc.now()
	if fc.reading == nil && (now.Sub(fc.loaded) >= fc.refresh || !fc.due.IsZero() && !now.Before(fc.due)) {
		fc.due = time.Time{}
		fc.start()
	}
	return fc.cat
}

// miss reads the snapshot again for a call it did not know, unless it was read for that
// reason less than missRefresh ago, and returns the snapshot to use.
func (fc *funcCatalog) miss() *classify.Catalog {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if now := fc.now(); now.Sub(fc.missed) >= missRefresh {
		fc.missed = now
		if fc.reading != nil {
			fc.await() // it may have started before the function was made: one more
		}
		fc.await()
	}
	return fc.cat
}

// invalidate makes the next get read the snapshot again, and the one after ddlRecheck
// too: a session ran DDL.
func (fc *funcCatalog) invalidate() {
	fc.mu.Lock()
	fc.stale = true
	fc.gen++
	fc.due = fc.now().Add(ddlRecheck)
	fc.mu.Unlock()
}

// await starts a reading if none is in flight and waits for the one in flight; fc.mu is
// held, and released while it waits.
func (fc *funcCatalog) await() {
	if fc.reading == nil {
		fc.start()
	}
	ch := fc.reading
	fc.mu.Unlock()
	<-ch
	fc.mu.Lock()
}

// start reads the snapshot in a goroutine of its own; fc.mu is held.
func (fc *funcCatalog) start() {
	done := make(chan struct{})
	fc.reading = done
	cfg, gen := fc.cfg, fc.gen
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), catalogTimeout)
		defer cancel()
		cat, err := loadCatalog(ctx, cfg)
		fc.mu.Lock()
		defer fc.mu.Unlock()
		fc.store(cat, err)
		if fc.gen == gen {
			fc.stale = false
		}
		fc.reading = nil
		close(done)
	}()
}

// store keeps what a reading found; fc.mu is held.
func (fc *funcCatalog) store(cat *classify.Catalog, err error) {
	now := fc.now()
	if err != nil {
		if fc.readErr == nil || fc.readErr.Error() != err.Error() {
			fc.log.Error("function catalog: calls of the database's own functions are classed write until it can be read", "connection", fc.connection, "err", err)
		}
		fc.readErr = err
		fc.cat = classify.Unavailable(fmt.Sprintf("because the gateway could not read the function catalog of %s (%v); try again later", fc.connection, err))
		// Tried: the next use after missRefresh tries again.
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
const catalogQueries = `WITH member AS MATERIALIZED (
  SELECT d.objid, e.extname, coalesce(v.trusted, false) AS trusted
  FROM pg_catalog.pg_extension e
  LEFT JOIN pg_catalog.pg_available_extension_versions v ON v.name = e.extname AND v.version = e.extversion
  JOIN pg_catalog.pg_depend d ON d.refclassid = 'pg_catalog.pg_extension'::regclass AND d.refobjid = e.oid
  WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
)
SELECT p.oid, n.nspname, p.proname, p.pronargs, p.pronargdefaults, p.provariadic <> 0, p.prokind, p.provolatile, l.lanname,
       coalesce(m.trusted, false),
       CASE WHEN p.oid >= 16384 AND p.provolatile <> 'v' AND l.lanname IN ('sql', 'plpgsql') THEN p.prosrc ELSE '' END,
       coalesce(m.extname, '')
FROM pg_catalog.pg_proc p
JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
JOIN pg_catalog.pg_language l ON l.oid = p.prolang
LEFT JOIN member m ON m.objid = p.oid;
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
WHERE c.castfunc >= 16384
UNION
SELECT n.nspname, t.typname, d.refobjid
FROM pg_catalog.pg_constraint c
JOIN pg_catalog.pg_type t ON t.oid = c.contypid
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_constraint'::regclass AND d.objid = c.oid
WHERE c.contypid <> 0 AND d.refclassid = 'pg_catalog.pg_proc'::regclass;
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
			Trusted: string(r[9]) == "t", Body: string(r[10]), Extension: string(r[11]),
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
