package server

import (
	"encoding/binary"
	"errors"
	"fmt"
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

// dataRow builds a DataRow body of text values.
func dataRow(values ...string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(values)))
	for _, v := range values {
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// TestRecordedRowsBounded: a large result value multiplies no memory in the record: it is
// kept as its size, and rows stop being kept once their bytes reach the cap (the rows
// are still counted).
func TestRecordedRowsBounded(t *testing.T) {
	o := &outcome{sr: &sessionRecorder{rows: 1000}, formats: []int16{0, 0}}
	o.Row(dataRow("small", strings.Repeat("v", maxRecordedValue+1)))
	if got := o.ans.Rows[0]; *got[0] != "small" || *got[1] != fmt.Sprintf("[%d bytes: too large to record]", maxRecordedValue+1) {
		t.Fatalf("recorded row: %q, %q", *got[0], *got[1])
	}
	value := strings.Repeat("w", maxRecordedValue)
	for range 200 {
		o.Row(dataRow(value, value))
	}
	if o.ans.RowCount != 201 {
		t.Errorf("rows counted: %d, want 201", o.ans.RowCount)
	}
	if n := len(o.ans.Rows); n >= 201 || o.kept > maxRecordedRowBytes+2*maxRecordedValue {
		t.Errorf("rows kept: %d (%d bytes), want them to stop near %d bytes", n, o.kept, maxRecordedRowBytes)
	}
}
