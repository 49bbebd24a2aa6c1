package server

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/internal/pgtest"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/postgres"
)

// canarySQL makes, in the app database, a canary row and functions that write or only
// read, in the shapes the catalog snapshot must tell apart.
const canarySQL = `
CREATE EXTENSION citext;
CREATE EXTENSION cube;
CREATE EXTENSION earthdistance;
CREATE TABLE canary (id int PRIMARY KEY, touched int NOT NULL DEFAULT 0);
INSERT INTO canary VALUES (1, 0);
GRANT SELECT, UPDATE ON canary TO app_rw;
GRANT SELECT ON canary TO app_ro;
CREATE FUNCTION touch_canary() RETURNS int LANGUAGE plpgsql AS
  $$BEGIN UPDATE canary SET touched = touched + 1 WHERE id = 1; RETURN 1; END$$;
CREATE FUNCTION canary_count() RETURNS bigint LANGUAGE sql STABLE AS $$SELECT count(*) FROM canary$$;
CREATE FUNCTION canary_plus(a int, b int DEFAULT touch_canary()) RETURNS int LANGUAGE sql STABLE AS $$SELECT a + b$$;
CREATE FUNCTION report_touch() RETURNS int LANGUAGE sql AS $$SELECT 1$$;
CREATE FUNCTION eq_touch(int, int) RETURNS boolean LANGUAGE plpgsql AS
  $$BEGIN PERFORM touch_canary(); RETURN $1 = $2; END$$;
CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = eq_touch);
CREATE FUNCTION touch_sfunc(int, int) RETURNS int LANGUAGE plpgsql AS
  $$BEGIN PERFORM touch_canary(); RETURN coalesce($1, 0) + $2; END$$;
CREATE AGGREGATE sum_touch(int) (SFUNC = touch_sfunc, STYPE = int);
CREATE VIEW canary_v AS SELECT touch_canary() AS t;
CREATE VIEW canary_outer AS SELECT * FROM canary_v;
CREATE VIEW canary_ok AS SELECT id, canary_count() FROM canary;
CREATE FUNCTION stable_wrap() RETURNS int LANGUAGE sql STABLE AS 'SELECT touch_canary()';
CREATE DOMAIN touchy AS int CHECK (touch_canary() > 0);
CREATE SCHEMA audit;
CREATE FUNCTION audit.canary_count() RETURNS bigint LANGUAGE plpgsql AS $$BEGIN RETURN 0; END$$;
GRANT USAGE ON SCHEMA audit TO app_ro, app_rw;
GRANT SELECT ON canary_v, canary_outer, canary_ok TO app_ro, app_rw;
`

// catalogPolicy lets engineering read and holds its writes; dba may do anything but admin,
// which is held. public.report_* is listed as read.
const catalogPolicy = `version: 1
rules:
  - name: engineers
    groups: [engineering]
    connections: [db-prod]
    allow: [read]
    review: [write]
    deny: [ddl, admin]
  - name: dba
    groups: [dba]
    connections: [db-prod]
    allow: [read, write, ddl]
    review: [admin]
reviews:
  approvers: [dba]
functions:
  - connections: [db-prod]
    read: [public.report_*]
`

// catalogServer starts PostgreSQL with the app and the canary, and returns it with the
// login the gateway would read the catalog with.
func catalogServer(t *testing.T) (*pgtest.Server, *pgconn.Config) {
	t.Helper()
	srv := pgtest.Start(t, pgtest.WithApp(), pgtest.WithSeed("app", canarySQL))
	cfg, err := pgconn.ParseConfig(srv.DSN(srv.App.ROUser, srv.App.ROPassword, srv.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	return srv, cfg
}

// catalogGateway is a Gateway with the test policy and a real catalog of db-prod.
func catalogGateway(t *testing.T, fc *funcCatalog) *Gateway {
	t.Helper()
	return catalogGatewayLog(t, fc, &strings.Builder{})
}

func catalogGatewayLog(t *testing.T, fc *funcCatalog, log *strings.Builder) *Gateway {
	t.Helper()
	g := testGateway(t, log)
	p, err := policy.Parse("policy.yaml", []byte(catalogPolicy))
	if err != nil {
		t.Fatal(err)
	}
	g.policy.Store(p)
	g.functions = map[string]*funcCatalog{"db-prod": fc}
	return g
}

// gateRun is what a test's gate session has run: the engine's view of its names, which
// every decided statement's effects reach as if it ran (an approval included), and the
// last decision.
type gateRun struct {
	names *testNames
	last  postgres.Decision
}

var gateRuns sync.Map // *sessionGate → *gateRun

func runOf(sg *sessionGate) *gateRun {
	r, _ := gateRuns.LoadOrStore(sg, &gateRun{names: newTestNames()})
	return r.(*gateRun)
}

func runQuery(sg *sessionGate, sql string) error {
	r := runOf(sg)
	d, err := sg.Query(sql, r.names)
	return r.ran(d, err)
}

func runParse(sg *sessionGate, sql string) error {
	r := runOf(sg)
	d, err := sg.Parse(sql, r.names)
	return r.ran(d, err)
}

func (r *gateRun) ran(d postgres.Decision, err error) error {
	r.last = d
	if held := (*postgres.ReviewRequired)(nil); err == nil || errors.As(err, &held) {
		r.names.ran(d)
	}
	return err
}

func lastClass(sg *sessionGate) string { return runOf(sg).last.Class }

// wantClass checks the gate's answer to sql: "read" is allowed; "write" is held for review
// (engineering) with a reason containing why.
func wantClass(t *testing.T, sg *sessionGate, sql, class, why string) {
	t.Helper()
	err := runQuery(sg, sql)
	switch class {
	case "read":
		if err != nil {
			t.Errorf("%s: got %v, want it allowed as read", sql, err)
		}
	default:
		var held *postgres.ReviewRequired
		var denied *postgres.DeniedError
		if !errors.As(err, &held) && !errors.As(err, &denied) {
			t.Errorf("%s: got %v, want it held or denied as %s", sql, err, class)
			return
		}
		if lastClass(sg) != class || !strings.Contains(err.Error(), why) {
			t.Errorf("%s: got class %s, %q; want %s, a reason containing %q", sql, lastClass(sg), err, class, why)
		}
	}
}

// eventuallyClass asks the gate about sql until it answers class: a refresh by age reads
// the snapshot in the background, the old one serving meanwhile.
func eventuallyClass(t *testing.T, sg *sessionGate, sql, class string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := "read"
		if err := runQuery(sg, sql); err != nil {
			got = lastClass(sg)
		}
		if got == class {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %s after 20s, want %s", sql, got, class)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFunctionCatalogSnapshot: the gateway classes calls by a snapshot of the real
// database's catalog: what may write is write, wherever it is called; what only reads
// stays read.
func TestFunctionCatalogSnapshot(t *testing.T) {
	srv, cfg := catalogServer(t)
	// The premise: a STABLE SQL function writes when it calls a VOLATILE one.
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, srv.SuperDSN(srv.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	results, err := conn.Exec(ctx, "SELECT stable_wrap(); SELECT touched FROM canary").ReadAll()
	conn.Close(ctx)
	if err != nil || len(results) != 2 || string(results[1].Rows[0][0]) != "1" {
		t.Fatalf("a STABLE SQL function that calls a VOLATILE one: %v; want it to have touched the canary", err)
	}
	fc := newFuncCatalog("db-prod", cfg, time.Hour, slog.New(slog.DiscardHandler))
	g := catalogGateway(t, fc)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
	volatile := "function public.touch_canary() is VOLATILE; list it under functions.read in the policy if it only reads"
	for _, tt := range []struct{ sql, class, why string }{
		{"select touch_canary()", "write", volatile},
		{"select * from canary where touch_canary() > 0", "write", volatile},
		{"select * from touch_canary()", "write", volatile},
		{"select * from canary, lateral touch_canary()", "write", volatile},
		{"explain analyze select touch_canary()", "write", volatile},
		{"copy (select touch_canary()) to stdout", "write", volatile},
		{"with c as (select touch_canary()) select * from c", "write", volatile},
		{"select id from canary order by touch_canary()", "write", volatile},
		{"declare c cursor for select touch_canary()", "write", volatile},
		{"select canary_plus(1)", "write", "function public.canary_plus() runs when it does: function public.touch_canary() is VOLATILE"},
		{"select 1 === 1", "write", "operator ===: function public.eq_touch() is VOLATILE"},
		{"select sum_touch(id) from canary", "write", "function public.sum_touch() runs when it does: function public.touch_sfunc() is VOLATILE"},
		{"select * from canary_v", "write", "relation public.canary_v: function public.touch_canary() is VOLATILE"},
		{"select * from canary_outer", "write", "relation public.canary_outer: relation public.canary_v"},
		{"select canary_count()", "write", "function audit.canary_count() is VOLATILE"}, // a candidate in another schema
		{"select stable_wrap()", "write", "function public.stable_wrap() may call it: function public.touch_canary() is VOLATILE"},
		{"select 1::touchy", "write", "cast to touchy: function public.touch_canary() is VOLATILE"}, // a domain's CHECK
		{"select no_such_function()", "write", "function no_such_function() is not in the gateway's catalog snapshot"},
		{"select public.canary_count()", "read", ""},
		// Strict: the default is not evaluated when given, but the catalog does not tell a
		// default's calls from the body's.
		{"select canary_plus(1, 2)", "write", "function public.touch_canary() is VOLATILE"},
		{"select report_touch()", "read", ""}, // VOLATILE but listed
		{"select * from canary_ok", "read", ""},
		{"select lower('A'), now(), count(*), 1 + 1 from canary where id = 1", "read", ""},
		// citext's = and its functions are C, IMMUTABLE, in a trusted extension: taken at
		// their word (else every = would be a write once citext is installed).
		{"select 'a'::citext = 'A', citext_larger('a', 'b') where 'x'::citext < 'y'", "read", ""},
	} {
		wantClass(t, eng, tt.sql, tt.class, tt.why)
	}
	// earthdistance is not a trusted extension: its C operator is write until the policy
	// vouches for the extension.
	earth := "select point(0, 0) <@> point(1, 1)"
	wantClass(t, eng, earth, "write", "function public.geo_distance() is in language c, which may write whatever its volatility says; list it under functions.read in the policy if it only reads, or its extension earthdistance under functions.extensions")
	vouched, err := policy.Parse("policy.yaml", []byte(catalogPolicy+"    extensions: [earthdistance]\n"))
	if err != nil {
		t.Fatal(err)
	}
	g.policy.Store(vouched)
	wantClass(t, eng, earth, "read", "")
	// The extended protocol and SQL-level PREPARE: the same decision, and an EXECUTE gets
	// the class its PREPARE was given.
	var held *postgres.ReviewRequired
	if err := runParse(eng, "select touch_canary()"); !errors.As(err, &held) || !strings.Contains(err.Error(), volatile) {
		t.Errorf("Parse of a call: got %v, want it held as write", err)
	}
	if err := runQuery(eng, "prepare p as select touch_canary()"); !errors.As(err, &held) {
		t.Errorf("PREPARE of a call: got %v, want it held as write", err)
	}
	wantClass(t, eng, "execute p", "write", "write statements on db-prod need an approval")
}

// TestFunctionCatalogRefresh: the snapshot is read again after a session forwards DDL,
// for a function it does not know, and when it is older than the refresh interval; the
// session that ran the DDL classes every function of the database's own as write.
func TestFunctionCatalogRefresh(t *testing.T) {
	srv, cfg := catalogServer(t)
	ctx := context.Background()
	clock := &testClock{t: time.Now()}
	fc := newFuncCatalog("db-prod", cfg, time.Minute, slog.New(slog.DiscardHandler))
	fc.now = clock.now
	var log strings.Builder
	g := catalogGatewayLog(t, fc, &log)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
	dba := g.newGate(policy.Identity{Subject: "dan", Groups: []string{"dba"}}, "db-prod", g.log)
	exec := func(sql string) {
		t.Helper()
		if err := srv.ExecIn(ctx, srv.App.DB, sql); err != nil {
			t.Fatal(err)
		}
	}

	wantClass(t, eng, "select public.canary_count()", "read", "")

	// DDL through the gateway: the DBA's ALTER FUNCTION is decided, then runs.
	alter := "alter function public.canary_count() volatile"
	if err := runQuery(dba, alter); err != nil {
		t.Fatalf("%s: %v", alter, err)
	}
	exec(alter)
	wantClass(t, eng, "select public.canary_count()", "write", "function public.canary_count() is VOLATILE")
	// The DBA's own session may have changed it in a transaction no snapshot sees.
	wantClass(t, eng, "select report_touch()", "read", "") // listed
	// In one query, the statements after the DDL are judged as changed too.
	fresh := g.newGate(policy.Identity{Subject: "dan", Groups: []string{"dba"}}, "db-prod", g.log)
	if err := runQuery(fresh, "select report_touch(); alter function public.canary_count() volatile; select report_touch()"); err != nil {
		t.Errorf("dba: %v", err)
	}
	if !strings.Contains(log.String(), "classes=read,ddl,write ") {
		t.Errorf("a query of DDL and a call of a listed function: want classes ddl,write in the log:\n%s", log.String())
	}
	if err := runQuery(dba, "select report_touch()"); err != nil {
		t.Errorf("dba may write: %v", err)
	}
	if lastClass(dba) != "write" {
		t.Errorf("after its DDL, the DBA's session classed a function of the database's own %s, want write", lastClass(dba))
	}

	// A function created a moment ago: the unknown name makes the gateway read again.
	exec("CREATE FUNCTION fresh_stable() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1'")
	wantClass(t, eng, "select fresh_stable()", "read", "")

	// A session that already ran DDL still makes the snapshot stale with its next DDL.
	for _, alter := range []string{"alter function public.canary_count() stable", "alter function public.canary_count() volatile"} {
		if err := runQuery(dba, alter); err != nil {
			t.Fatalf("%s: %v", alter, err)
		}
		exec(alter)
		want := map[bool]string{true: "read", false: "write"}[strings.HasSuffix(alter, "stable")]
		wantClass(t, eng, "select public.canary_count()", want, "is VOLATILE")
	}

	// The DDL is decided before it runs: a reading in between sees the old definition, so
	// the snapshot is read once more ddlRecheck later.
	if err := runQuery(dba, "alter function public.canary_count() stable"); err != nil {
		t.Fatal(err)
	}
	wantClass(t, eng, "select public.canary_count()", "write", "is VOLATILE") // read before the DDL ran
	exec("alter function public.canary_count() stable")
	wantClass(t, eng, "select public.canary_count()", "write", "is VOLATILE")
	clock.add(ddlRecheck)
	eventuallyClass(t, eng, "select public.canary_count()", "read")
	if err := runQuery(dba, "alter function public.canary_count() volatile"); err != nil {
		t.Fatal(err)
	}
	exec("alter function public.canary_count() volatile")
	wantClass(t, eng, "select public.canary_count()", "write", "is VOLATILE")

	// A change the gateway did not forward is seen once the snapshot is older than refresh.
	exec("ALTER FUNCTION public.canary_count() STABLE")
	clock.add(time.Second) // past missRefresh, so that only age can explain a new reading
	wantClass(t, eng, "select public.canary_count()", "write", "is VOLATILE")
	clock.add(time.Minute)
	eventuallyClass(t, eng, "select public.canary_count()", "read")
}

// TestFunctionCatalogFailsClosed: a snapshot that cannot be read makes every call of a
// function that is not a built-in, and every relation (it may be a view), write, and says
// why; built-ins stay read; the gateway reads it again once it can.
func TestFunctionCatalogFailsClosed(t *testing.T) {
	_, cfg := catalogServer(t)
	bad := cfg.Copy()
	bad.Password = "wrong"
	clock := &testClock{t: time.Now()}
	fc := newFuncCatalog("db-prod", bad, time.Minute, slog.New(slog.DiscardHandler))
	fc.now = clock.now
	g := catalogGateway(t, fc)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
	why := "because the gateway could not read the function catalog of db-prod"
	wantClass(t, eng, "select public.canary_count()", "write", why)
	wantClass(t, eng, "select * from canary", "write", why)
	wantClass(t, eng, "select lower('A'), 1 + 1", "read", "")

	fc.mu.Lock()
	fc.cfg = cfg // the login works again
	fc.mu.Unlock()
	clock.add(2 * time.Second)
	eventuallyClass(t, eng, "select public.canary_count(), * from canary", "read")
}

// BenchmarkLoadCatalog measures one reading of the snapshot (login, queries, indexing) on
// a real PostgreSQL with the canary and citext: what a refresh costs.
//
//	go test ./server -run '^$' -bench LoadCatalog
func BenchmarkLoadCatalog(b *testing.B) {
	srv := pgtest.Start(b, pgtest.WithApp(), pgtest.WithSeed("app", canarySQL))
	cfg, err := pgconn.ParseConfig(srv.DSN(srv.App.ROUser, srv.App.ROPassword, srv.App.DB))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := loadCatalog(context.Background(), cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// TestClientTrafficStaysRead: the catalog queries psql's meta-commands send, DBeaver's
// and analysts' queries (classify/testdata), judged by the snapshot of a real database,
// stay read: built-ins resolve with their real argument counts, operators and casts.
func TestClientTrafficStaysRead(t *testing.T) {
	_, cfg := catalogServer(t)
	cat, err := loadCatalog(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rv := classify.Resolver{Catalog: cat}
	c := classify.New(native.Parse, 0)
	var texts []string
	for _, name := range []string{"analytics.sql", "dbeaver.sql", "psql_meta.sql"} {
		b, err := os.ReadFile(filepath.Join("..", "classify", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(b))
	}
	n := 0
	for _, text := range texts {
		sts, err := c.Classify(text)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range sts {
			if st.Class != policy.Read || st.Always {
				continue
			}
			n++
			if res := rv.Resolve(st.Refs); res.Class != policy.Read {
				t.Errorf("%s: got %s (%s), want read", st.Text, res.Class, res.Reason)
			}
		}
	}
	if n < 50 {
		t.Errorf("only %d read statements in the corpora", n)
	}
}
