package postgres

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// slowLoginConn is a database connection whose login writes return late, as on a loaded
// machine: each reaches the database at once, and the writer gets control back only after
// the database has answered. The login (StartupMessage, then SCRAM's two messages) is the
// first three writes; the later ones are not slowed.
type slowLoginConn struct {
	net.Conn
	writes *atomic.Int32
}

func (c slowLoginConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if c.writes.Add(1) <= 3 {
		time.Sleep(50 * time.Millisecond)
	}
	return n, err
}

// TestSlowUpstreamLoginNeverStalls: the engine takes over the database connection pgconn
// logged in on. When one of pgconn's writes during login took longer than its 15 ms, it
// started a background read that can outlive the login, blocked on the connection: it
// then takes the database's first answer after the takeover, and the client waits for it
// forever (the gateway's relay, both sides blocked reading; the database idle). Login
// writes that return late, as under load, make that happen at every login; each
// session's first query must still be answered, on both protocols.
func TestSlowUpstreamLoginNeverStalls(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	up, err := pgconn.ParseConfig(pg.DSN(pg.App.RWUser, pg.App.RWPassword, "app"))
	if err != nil {
		t.Fatal(err)
	}
	dial := up.DialFunc
	up.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return slowLoginConn{Conn: c, writes: new(atomic.Int32)}, nil
	}
	e := New(nil)
	dialEngine := serve(t, e, func(context.Context) (*Grant, error) {
		return &Grant{Upstream: up, Level: "read", Gate: refuseForbidden}, nil
	})
	for i := range 3 {
		conn, err := connect(t, dialEngine, nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var n int
		mode := pgx.QueryExecModeSimpleProtocol
		if i%2 == 1 {
			mode = pgx.QueryExecModeExec
		}
		err = conn.QueryRow(ctx, "select $1::int + 1", mode, i).Scan(&n)
		cancel()
		conn.Close(context.Background())
		if err != nil || n != i+1 {
			t.Fatalf("session %d: the first query got %d, %v; want %d (a stalled session ends at the deadline)", i, n, err, i+1)
		}
	}
}
