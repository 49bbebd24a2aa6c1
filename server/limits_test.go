package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
)

// TestSessionLimits: one identity cannot hold more than its share of sessions, however it
// spells itself, and a connection no more than its limit; every release frees its slot
// once.
func TestSessionLimits(t *testing.T) {
	cfg := config.DefaultConfig()
	cfg.Limits.SessionsPerIdentity, cfg.Limits.SessionsPerConnection = 2, 3
	cfg.Connections = []config.Connection{{Name: "small", MaxSessions: 1}, {Name: "db"}, {Name: "other"}}
	l := newSessionLimits(cfg)
	alice := identity.Identity{Issuer: "https://idp", Subject: "alice", Email: "alice@example.com"}
	aliceAgain := identity.Identity{Issuer: "https://idp", Subject: "alice", Email: "ALICE@example.com"} // same subject
	bob := identity.Identity{Issuer: "https://idp", Subject: "bob", Email: "bob@example.com"}
	carol := identity.Identity{Issuer: "https://idp", Subject: "carol", Email: "carol@example.com"}
	notAlice := identity.Identity{Issuer: "https://other-idp", Subject: "alice", Email: "alice@example.com"}

	must := func(id identity.Identity, conn string) func() {
		t.Helper()
		rel, err := l.acquire(id, conn)
		if err != nil {
			t.Fatalf("acquire %s on %s: %v", id, conn, err)
		}
		return rel
	}
	refused := func(id identity.Identity, conn, want string) {
		t.Helper()
		_, err := l.acquire(id, conn)
		var le *postgres.LimitError
		if !errors.As(err, &le) || le.Code != "53300" || !strings.Contains(le.Reason, want) {
			t.Fatalf("acquire %s on %s: got %v, want 53300 with %q", id, conn, err, want)
		}
	}

	r1 := must(alice, "db")
	r2 := must(aliceAgain, "other") // counted across connections
	refused(alice, "db", "alice@example.com already has 2 database sessions open through the gateway (limits.sessions_per_identity); close some, or ask an admin to raise the limit")
	refused(aliceAgain, "other", "(limits.sessions_per_identity)")
	r3 := must(notAlice, "db") // another issuer's alice is someone else
	r4 := must(bob, "db")
	refused(carol, "db", "connection db already has 3 database sessions open through the gateway, its limit (limits.sessions_per_connection)")
	r5 := must(carol, "small")
	refused(bob, "small", "(max_sessions of connection small)")

	r1()
	r1() // a second release frees nothing more
	if a, c := l.open(alice, "db"); a != 1 || c != 2 {
		t.Fatalf("after one release: alice %d, db %d; want 1 and 2", a, c)
	}
	r6 := must(alice, "db")
	refused(carol, "db", "(limits.sessions_per_connection)")
	for _, rel := range []func(){r2, r3, r4, r5, r6} {
		rel()
	}
	if len(l.byIdentity) != 0 || len(l.byConn) != 0 {
		t.Fatalf("after every release: %v, %v; want nothing counted", l.byIdentity, l.byConn)
	}
}
