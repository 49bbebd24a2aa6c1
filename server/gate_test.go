package server

import (
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

// fixedCatalog is a funcCatalog that never reads: it has cat.
func fixedCatalog(cat *classify.Catalog) *funcCatalog {
	never := time.Now().Add(100 * 365 * 24 * time.Hour)
	return &funcCatalog{connection: "db-prod", cat: cat, loaded: never, missed: never, refresh: time.Hour, now: time.Now, log: slog.New(slog.DiscardHandler)}
}

// TestGateDecisions: the gate refuses with the rule and class, holds what needs a review,
// tracks SQL-level PREPARE for EXECUTE, and logs every decision with the policy version that made it.
func TestGateDecisions(t *testing.T) {
	var log strings.Builder
	g := testGateway(t, &log)
	eng := g.newGate(policy.Identity{Subject: "alice", Groups: []string{"engineering"}}, "db-prod", g.log)
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
		{"selec 1", "denied by rule engineers-read-prod: admin statements are not allowed"}, // does not parse
	}
	for _, tt := range tests {
		err := eng.Query(tt.sql)
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
	}
	// A protocol-level named statement can be run by SQL EXECUTE too.
	if err := eng.Parse("byproto", "select * from customers"); err != nil {
		t.Fatal(err)
	}
	if err := eng.Query("execute byproto"); err != nil {
		t.Errorf("EXECUTE of a protocol-level statement: %v", err)
	}
	eng.Close("byproto")
	if err := eng.Query("execute byproto"); err == nil {
		t.Error("EXECUTE of a closed statement was allowed")
	}
	version := short(g.Policy().Version())
	if n := strings.Count(log.String(), "policy_version="+version); n != len(tests)+3 {
		t.Errorf("decisions logged with policy version %s: got %d, want %d\n%s", version, n, len(tests)+3, log.String())
	}
}

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
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = gate.Query(corpus[i%len(corpus)])
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
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			_ = gate.Query("SELECT abalance FROM pgbench_accounts WHERE aid = " + itoa(i%100000) + ";")
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

// TestGateKeepsTheHigherClassOfATakenName: PostgreSQL refuses a PREPARE (or Parse) of a
// name in use and keeps the old statement, so EXECUTE must be decided by the higher class.
func TestGateKeepsTheHigherClassOfATakenName(t *testing.T) {
	g := testGateway(t, io.Discard)
	dba := g.newGate(policy.Identity{Subject: "dana", Groups: []string{"dba"}}, "db-prod", g.log)
	for _, sql := range []string{"prepare p as delete from orders", "prepare p as select 1"} {
		if err := dba.Query(sql); err != nil {
			t.Fatalf("%q: %v", sql, err)
		}
	}
	if got := dba.prepared["p"]; got != policy.Write {
		t.Fatalf("class recorded for p: got %s, want write (the statement PostgreSQL kept)", got)
	}
}
