package server

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/internal/testenv"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/postgres"
)

// testGateway is a Gateway with just what a gate needs: the shared example policy and a
// classifier, logging into log.
func testGateway(t testing.TB, log io.Writer) *Gateway {
	t.Helper()
	p, err := policy.Load(filepath.Join(testenv.SharedExamples(t), "policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{log: slog.New(slog.NewTextHandler(log, nil)),
		classifier: classify.New(native.Parse, 10000, classify.WithNormalizer(native.Normalize))}
	g.policy.Store(p)
	g.functions = map[string]*funcCatalog{"db-prod": fixedCatalog(classify.Builtins())}
	return g
}

// testNames is the engine's view of names for a gate under test: every statement runs.
type testNames struct{ stmts, portals map[string]string }

func newTestNames() *testNames {
	return &testNames{stmts: map[string]string{}, portals: map[string]string{}}
}

func (n *testNames) Statement(name string) []string { return classesOf(n.stmts, name) }
func (n *testNames) Portal(name string) []string    { return classesOf(n.portals, name) }

func classesOf(m map[string]string, name string) []string {
	if c, ok := m[name]; ok {
		return []string{c}
	}
	return nil
}

// ran applies a decided text's effects, as the engine does once the database ran it.
func (n *testNames) ran(d postgres.Decision) {
	for _, ef := range d.Effects {
		m := n.stmts
		if ef.Kind == postgres.EffectDeclare || ef.Kind == postgres.EffectClose {
			m = n.portals
		}
		switch {
		case ef.All:
			clear(m)
		case ef.Kind == postgres.EffectPrepare || ef.Kind == postgres.EffectDeclare:
			m[ef.Name] = ef.Class
		default:
			delete(m, ef.Name)
		}
	}
}

// fixedCatalog is a funcCatalog that never reads: it has cat.
func fixedCatalog(cat *classify.Catalog) *funcCatalog {
	never := time.Now().Add(100 * 365 * 24 * time.Hour)
	return &funcCatalog{connection: "db-prod", cat: cat, loaded: never, missed: never, refresh: time.Hour, now: time.Now, log: slog.New(slog.DiscardHandler)}
}

// TestGateDecisions: the gate refuses with the rule and class, holds what needs a review,
// gives EXECUTE and FETCH the class of what they run, and logs every decision with the
// policy version that made it.
func TestGateDecisions(t *testing.T) {
	var log strings.Builder
	g := testGateway(t, &log)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
	names := newTestNames()
	tests := []struct{ sql, want string }{
		{"select * from orders", ""},
		{"begin; select 1; commit", ""},
		{"drop table orders", "denied by rule engineers-read-prod: ddl statements are not allowed on db-prod"},
		{"delete from orders", "held by rule engineers-read-prod: write statements on db-prod need an approval"},
		{"select 1; delete from orders", "held by rule engineers-read-prod"},
		{"prepare mine as select * from orders", ""},
		{"execute mine", ""}, // the class PREPARE recorded: read
		{"execute other", "denied by rule engineers-read-prod: admin statements"},  // never prepared here: admin
		{"prepare wipe as delete from orders", "held by rule engineers-read-prod"}, // held: it runs if approved
		{"execute wipe", "held by rule engineers-read-prod: write statements"},     // so its EXECUTE is a write
		{"deallocate mine", ""},
		{"execute mine", "denied by rule engineers-read-prod: admin statements"},
		{"prepare p2 as select 1; execute p2", ""},                                            // the text's own PREPARE
		{"deallocate p2; execute p2", "denied by rule engineers-read-prod: admin statements"}, // and DEALLOCATE
		{"declare c cursor for select * from orders", ""},
		{"fetch 10 from c", ""}, // the class DECLARE recorded: read
		{"move 1 in c; close c", ""},
		{"fetch 10 from c", "denied by rule engineers-read-prod: admin statements"}, // closed: unknown
		{"fetch all from nowhere", "denied by rule engineers-read-prod: admin statements"},
		{"declare w cursor for select nextval('s'); fetch w", "held by rule engineers-read-prod: write statements"},
		{"selec 1", "denied by rule engineers-read-prod: admin statements are not allowed"}, // does not parse
	}
	for _, tt := range tests {
		d, err := eng.Query(tt.sql, names)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: refused: %v", tt.sql, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: got %v, want a refusal containing %q", tt.sql, err, tt.want)
		}
		_, denied := err.(*postgres.DeniedError)
		_, held := err.(*postgres.ReviewRequired)
		if err != nil && denied == strings.HasPrefix(tt.want, "held") || err != nil && !denied && !held {
			t.Errorf("%q: got %T, want a *postgres.ReviewRequired for a hold, else a *postgres.DeniedError", tt.sql, err)
		}
		if !denied {
			names.ran(d)
		}
	}
	// A protocol-level named statement can be run by SQL EXECUTE too: the engine puts it
	// in its view with the Parse's decision.
	d, err := eng.Parse("select * from customers", names)
	if err != nil {
		t.Fatal(err)
	}
	names.stmts["byproto"] = d.Class
	if _, err := eng.Query("execute byproto", names); err != nil {
		t.Errorf("EXECUTE of a protocol-level statement: %v", err)
	}
	version := short(g.Policy().Version())
	if n := strings.Count(log.String(), "policy_version="+version); n != len(tests)+2 {
		t.Errorf("decisions logged with policy version %s: got %d, want %d\n%s", version, n, len(tests)+2, log.String())
	}
}

// TestGateDecidesANameByItsHighestClass: while a change to a name waits for the
// database's answer, the engine's view gives every class it may have; EXECUTE is decided
// by the highest.
func TestGateDecidesANameByItsHighestClass(t *testing.T) {
	g := testGateway(t, io.Discard)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
	_, err := eng.Query("execute p", namesFunc(func(string) []string { return []string{"read", "write"} }))
	if _, held := err.(*postgres.ReviewRequired); !held {
		t.Fatalf("EXECUTE of a name that may be read or write: got %v, want it held as a write", err)
	}
}

type namesFunc func(string) []string

func (f namesFunc) Statement(name string) []string { return f(name) }
func (f namesFunc) Portal(name string) []string    { return f(name) }

// BenchmarkGate measures parse + classify + decide per query on real statements: psql's
// catalog queries, the analytics corpus and pgbench's, first with every text new to the
// caches, then with each text seen before.
func BenchmarkGate(b *testing.B) {
	var corpus []string
	for _, f := range []string{"psql_meta.sql", "analytics.sql", "dbeaver.sql"} {
		data, err := os.ReadFile(filepath.Join("..", "classify", "testdata", f))
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range strings.Split(string(data), ";\n") {
			if q = strings.TrimSpace(q); q != "" {
				corpus = append(corpus, q)
			}
		}
	}
	run := func(b *testing.B, g *Gateway) {
		gate := g.newGate(policy.Identity{Subject: "ann", Groups: []string{"analytics"}}, "db-prod", slog.New(slog.NewTextHandler(io.Discard, nil)))
		names := newTestNames()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = gate.Query(corpus[i%len(corpus)], names)
			i++
		}
	}
	b.Run("uncached", func(b *testing.B) {
		g := testGateway(b, io.Discard)
		g.classifier = classify.New(native.Parse, 0)
		run(b, g)
	})
	b.Run("cached", func(b *testing.B) { run(b, testGateway(b, io.Discard)) })
	b.Run("pgbench-simple", func(b *testing.B) {
		g := testGateway(b, io.Discard)
		gate := g.newGate(policy.Identity{Subject: "ann", Groups: []string{"analytics"}}, "db-prod", g.log)
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
		gate.log = g.log
		names := newTestNames()
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_, _ = gate.Query("SELECT abalance FROM pgbench_accounts WHERE aid = "+itoa(i%100000)+";", names)
			i++
		}
	})
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestGateRefusesTooComplexStatements: the attack is a statement the gateway's parser
// cannot analyse (SELECT 1+1+...+1 with 30,000 terms crashed the gateway). The gate
// refuses it as a LimitError (SQLSTATE 54001) that says what to do, whatever the
// identity's grant (a DBA's too: the gateway cannot decide what it cannot read), records
// the refusal as a denied admin statement, and decides the next statement as usual.
func TestGateRefusesTooComplexStatements(t *testing.T) {
	var log strings.Builder
	g := testGateway(t, &log)
	for _, id := range []policy.Identity{
		{Subject: "ann", Groups: []string{"analytics"}},
		{Subject: "dana", Groups: []string{"dba"}},
	} {
		gate := g.newGate(id, "db-prod", g.log)
		for _, sql := range []string{
			"SELECT 1" + strings.Repeat("+1", 30000),
			"SELECT " + strings.Repeat("(", 20000) + "1" + strings.Repeat(")", 20000),
			"SELECT ARRAY" + strings.Repeat("[", 6000) + "1" + strings.Repeat("]", 6000),
		} {
			for _, decide := range []func(string, postgres.Names) (postgres.Decision, error){gate.Query, gate.Parse} {
				d, err := decide(sql, newTestNames())
				var tc *postgres.LimitError
				if !errors.As(err, &tc) || tc.Code != "54001" || !strings.Contains(err.Error(), "too complex for the gateway to analyse") || !strings.Contains(err.Error(), "it is refused: split it") {
					t.Errorf("%s: %.30q...: got %v, want a LimitError", id.Subject, sql, err)
				}
				if d.Verdict != policy.Deny.String() || d.Class != string(policy.Admin) {
					t.Errorf("%s: decided as %+v, want a denied admin statement", id.Subject, d)
				}
			}
		}
		if _, err := gate.Query("select 1", newTestNames()); err != nil {
			t.Errorf("%s: select 1 after the refusals: %v", id.Subject, err)
		}
	}
	if !strings.Contains(log.String(), "statement too complex to analyse: refused") {
		t.Errorf("the refusal is not logged:\n%s", log.String())
	}
}
