package postgres

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/internal/pgtest"
	"github.com/hoopgw/hoop/server/identity"
)

var alice = identity.Identity{Subject: "alice", Issuer: "http://idp", Email: "alice@example.com"}

// serve runs the engine on one end of a pipe and returns the other end's dial function,
// for pgx's DialFunc.
func serve(t testing.TB, e *Engine, authorize func(context.Context) (*Grant, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, _, _ string) (net.Conn, error) {
		client, server := net.Pipe()
		go e.Serve(context.Background(), server, Request{Identity: alice, Connection: "db", ClientAddr: "pipe", Authorize: authorize})
		return client, nil
	}
}

func grantFor(t testing.TB, pg *pgtest.Server, user, password string, readOnly bool) func(context.Context) (*Grant, error) {
	up, err := pgconn.ParseConfig(pg.DSN(user, password, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return func(context.Context) (*Grant, error) {
		return &Grant{Upstream: up, Level: "read", ReadOnly: readOnly}, nil
	}
}

func connect(t testing.TB, dial func(context.Context, string, string) (net.Conn, error), params map[string]string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig("postgres://whoever@127.0.0.1/ignored?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	cfg.DialFunc = dial
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return pgx.ConnectConfig(ctx, cfg)
}

func TestStartupParameters(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	e := New(nil)
	dial := serve(t, e, grantFor(t, pg, pg.App.RWUser, pg.App.RWPassword, true))
	var notices []string
	cfg, _ := pgx.ParseConfig("postgres://whoever@127.0.0.1/ignored?sslmode=disable&application_name=psql")
	cfg.DialFunc = dial
	cfg.RuntimeParams["options"] = "-c default_transaction_read_only=off"
	cfg.RuntimeParams["search_path"] = "public"
	cfg.OnNotice = func(_ *pgconn.PgConn, n *pgconn.Notice) { notices = append(notices, n.Message) }
	ctx := context.Background()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var app, ro, user string
	if err := conn.QueryRow(ctx, "select current_setting('application_name'), current_setting('default_transaction_read_only'), current_user").Scan(&app, &ro, &user); err != nil {
		t.Fatal(err)
	}
	if app != "psql (hoop:alice@example.com)" || ro != "on" || user != pg.App.RWUser {
		t.Errorf("got application_name %q, read only %q, user %q; want the tagged name, on, %s", app, ro, user, pg.App.RWUser)
	}
	if len(notices) != 1 || notices[0] != "hoop: ignored startup parameters: options" {
		t.Errorf("notices: got %q, want one naming the ignored options", notices)
	}
	_, err = conn.Exec(ctx, "create temp table t(x int)")
	if err == nil || !strings.Contains(err.Error(), "read-only transaction") {
		t.Errorf("a write in a read-only session: got %v, want it refused by the database", err)
	}
}

func TestRefusals(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	e := New(nil)
	ok := serve(t, e, grantFor(t, pg, pg.App.ROUser, pg.App.ROPassword, true))

	_, err := connect(t, ok, map[string]string{"client_encoding": "SJIS"})
	wantPgError(t, "client_encoding SJIS", err, "42501", "client_encoding SJIS is not allowed")

	_, err = connect(t, ok, map[string]string{"replication": "database"})
	wantPgError(t, "replication", err, "42501", "replication connections are not allowed")

	denied := serve(t, e, func(context.Context) (*Grant, error) {
		return nil, &DeniedError{Reason: "no rule grants alice@example.com access to connection db"}
	})
	_, err = connect(t, denied, nil)
	wantPgError(t, "denied", err, "42501", "hoop: no rule grants alice@example.com access to connection db")

	// FunctionCall ('F'), the fast-path protocol message, is refused; the session goes on.
	conn, err := connect(t, ok, nil)
	if err != nil {
		t.Fatal(err)
	}
	pc := conn.PgConn()
	pc.Frontend().Send(&pgproto3.FunctionCall{Function: 1598, ResultFormatCode: 0}) // 1598: md5(text)
	if err := pc.Frontend().Flush(); err != nil {
		t.Fatal(err)
	}
	m, err := pc.Frontend().Receive()
	if err != nil {
		t.Fatal(err)
	}
	er, isErr := m.(*pgproto3.ErrorResponse)
	if !isErr || er.Code != "42501" || er.Severity != "ERROR" || !strings.Contains(er.Message, "FunctionCall") {
		t.Fatalf("FunctionCall: got %#v, want a 42501 ErrorResponse", m)
	}
	if m, err := pc.Frontend().Receive(); err != nil {
		t.Fatal(err)
	} else if _, ok := m.(*pgproto3.ReadyForQuery); !ok {
		t.Fatalf("after the refusal: got %#v, want ReadyForQuery", m)
	}
	var n int
	if err := conn.QueryRow(context.Background(), "select 41 + 1").Scan(&n); err != nil || n != 42 {
		t.Fatalf("the session after a refused FunctionCall: got %d, %v", n, err)
	}
}

func wantPgError(t *testing.T, what string, err error, code, msg string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code || !strings.Contains(pgErr.Message, msg) {
		t.Errorf("%s: got %v, want SQLSTATE %s with %q", what, err, code, msg)
	}
}

// BenchmarkRelay measures a small statement's round trip through the engine (client over
// an in-memory pipe, upstream a real PostgreSQL) against the same statement direct.
func BenchmarkRelay(b *testing.B) {
	pg := pgtest.Start(b, pgtest.WithApp())
	ctx := context.Background()
	run := func(b *testing.B, conn *pgx.Conn) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("direct", func(b *testing.B) {
		conn, err := pgx.Connect(ctx, pg.DSN(pg.App.ROUser, pg.App.ROPassword, "app"))
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		run(b, conn)
	})
	b.Run("engine", func(b *testing.B) {
		conn, err := connect(b, serve(b, New(nil), grantFor(b, pg, pg.App.ROUser, pg.App.ROPassword, true)), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		run(b, conn)
	})
	// With a gate and a recorder, as the gateway runs it: the engine then tracks every
	// statement and portal (pgx's prepared mode: Bind/Describe/Execute/Sync per query).
	b.Run("engine-gated", func(b *testing.B) {
		up := grantFor(b, pg, pg.App.ROUser, pg.App.ROPassword, true)
		conn, err := connect(b, serve(b, New(nil), func(ctx context.Context) (*Grant, error) {
			g, err := up(ctx)
			if g != nil {
				g.Gate = refuseForbidden
				g.Record = func(SessionInfo) (Recorder, error) { return nopRecorder{}, nil }
			}
			return g, err
		}), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close(ctx)
		run(b, conn)
	})
}

// nopRecorder records nothing.
type nopRecorder struct{}

func (nopRecorder) Statement(StatementInfo) (Outcome, error) { return nopOutcome{}, nil }
func (nopRecorder) End(string)                               {}
