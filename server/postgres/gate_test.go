package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// gateFunc refuses any SQL that mentions "forbidden".
type gateFunc func(string) error

func (f gateFunc) Query(sql string, _ Names) (Decision, error) { return Decision{}, f(sql) }
func (f gateFunc) Parse(sql string, _ Names) (Decision, error) { return Decision{}, f(sql) }

var refuseForbidden = gateFunc(func(sql string) error {
	if strings.Contains(sql, "forbidden") {
		return &DeniedError{Reason: "denied by rule test: forbidden"}
	}
	return nil
})

// connWith connects through an engine whose read-write grant set changes.
func connWith(t *testing.T, pg *pgtest.Server, set func(*Grant)) *pgx.Conn {
	t.Helper()
	up := grantFor(t, pg, pg.App.RWUser, pg.App.RWPassword, false)
	conn, err := connect(t, serve(t, New(nil), func(ctx context.Context) (*Grant, error) {
		g, err := up(ctx)
		if g != nil {
			set(g)
		}
		return g, err
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func gatedConn(t *testing.T, pg *pgtest.Server) *pgx.Conn {
	return connWith(t, pg, func(g *Grant) { g.Gate = refuseForbidden })
}

// expectMessages reads from a raw frontend and checks the kinds of messages in order.
func expectMessages(t *testing.T, fe *pgproto3.Frontend, want ...string) {
	t.Helper()
	for i, w := range want {
		m, err := fe.Receive()
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		got := strings.TrimPrefix(strings.TrimPrefix(typeName(m), "*pgproto3."), "pgproto3.")
		if e, ok := m.(*pgproto3.ErrorResponse); ok {
			got += ":" + e.Code
		}
		if got != w {
			t.Fatalf("message %d: got %s (%+v), want %s", i, got, m, w)
		}
	}
}

func typeName(m any) string { return fmt.Sprintf("%T", m) }

func TestRefusalKeepsTheSessionUsable(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()

	t.Run("simple query", func(t *testing.T) {
		conn := gatedConn(t, pg)
		_, err := conn.Exec(ctx, "select 'forbidden'", pgx.QueryExecModeSimpleProtocol)
		wantPgError(t, "refused query", err, "42501", "hoop: denied by rule test: forbidden")
		var n int
		if err := conn.QueryRow(ctx, "select 2", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 2 {
			t.Fatalf("after the refusal: %d, %v", n, err)
		}
	})

	t.Run("extended protocol, named prepared statement", func(t *testing.T) {
		conn := gatedConn(t, pg)
		_, err := conn.Prepare(ctx, "s1", "select $1::text || 'forbidden'")
		wantPgError(t, "refused prepare", err, "42501", "forbidden")
		var s string
		if err := conn.QueryRow(ctx, "select $1::text", "ok").Scan(&s); err != nil || s != "ok" {
			t.Fatalf("after the refusal: %q, %v", s, err)
		}
	})

	t.Run("inside a transaction", func(t *testing.T) {
		conn := gatedConn(t, pg)
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.Exec(ctx, "select 'forbidden'")
		wantPgError(t, "refused in tx", err, "42501", "forbidden")
		var n int
		if err := tx.QueryRow(ctx, "select 3").Scan(&n); err != nil || n != 3 {
			t.Fatalf("in the transaction after the refusal: %d, %v", n, err)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("pipelined simple queries", func(t *testing.T) {
		conn := gatedConn(t, pg)
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Query{String: "select 1"})
		fe.Send(&pgproto3.Query{String: "select 'forbidden'; select 2"})
		fe.Send(&pgproto3.Query{String: "select 3"})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe,
			"RowDescription", "DataRow", "CommandComplete", "ReadyForQuery",
			"ErrorResponse:42501", "ReadyForQuery", // the whole multi-statement query, refused
			"RowDescription", "DataRow", "CommandComplete", "ReadyForQuery")
	})

	t.Run("extended pipeline: refusal in place, rest skipped to Sync", func(t *testing.T) {
		conn := gatedConn(t, pg)
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Parse{Query: "select 1"})
		fe.Send(&pgproto3.Bind{})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Parse{Name: "bad", Query: "select 'forbidden'"})
		fe.Send(&pgproto3.Bind{PreparedStatement: "bad"})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		fe.Send(&pgproto3.Parse{Query: "select 4"})
		fe.Send(&pgproto3.Bind{})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe,
			"ParseComplete", "BindComplete", "DataRow", "CommandComplete",
			"ErrorResponse:42501", "ReadyForQuery",
			"ParseComplete", "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery")
	})

	t.Run("a client that waits on Flush gets the refusal at once", func(t *testing.T) {
		conn := gatedConn(t, pg)
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Parse{Name: "x", Query: "select 'forbidden'"})
		fe.Send(&pgproto3.Flush{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe, "ErrorResponse:42501")
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe, "ReadyForQuery")
	})

	t.Run("only the first error of a cycle is reported", func(t *testing.T) {
		conn := gatedConn(t, pg)
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Parse{Query: "selec 1"}) // a syntax error upstream
		fe.Send(&pgproto3.Parse{Name: "y", Query: "select 'forbidden'"})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe, "ErrorResponse:42601", "ReadyForQuery")
		var n int
		if err := conn.QueryRow(ctx, "select 5").Scan(&n); err != nil || n != 5 {
			t.Fatalf("after: %d, %v", n, err)
		}
	})

	t.Run("pgx batch", func(t *testing.T) {
		conn := gatedConn(t, pg)
		b := &pgx.Batch{}
		b.Queue("select 1")
		b.Queue("select 'forbidden'")
		err := conn.SendBatch(ctx, b).Close()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Fatalf("batch with a refused statement: got %v, want 42501", err)
		}
		var n int
		if err := conn.QueryRow(ctx, "select 6").Scan(&n); err != nil || n != 6 {
			t.Fatalf("after: %d, %v", n, err)
		}
	})
}

// holdsHeld is a gate that holds for review every statement whose text says "held".
var holdsHeld = gateFunc(func(sql string) error {
	if strings.Contains(sql, "held") {
		return &ReviewRequired{Reason: "held by rule test"}
	}
	return nil
})

// approveAll approves every held statement at once.
type approveAll struct{}

func (approveAll) Hold(context.Context, HeldStatement, func(string)) (string, error) {
	return "r-test", nil
}

// TestHeldRunsOnce: an approved extended-protocol statement runs once, even in a session
// that neither masks nor records (nothing else tracks its portals).
func TestHeldRunsOnce(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	conn := connWith(t, pg, func(g *Grant) {
		g.Gate = holdsHeld
		g.Holder = approveAll{}
	})
	ctx := context.Background()
	var n int
	if err := conn.QueryRow(ctx, "select $1::int as held", 7).Scan(&n); err != nil || n != 7 {
		t.Fatalf("the approved run: %d, %v", n, err)
	}
	err := conn.QueryRow(ctx, "select $1::int as held", 8).Scan(&n)
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "review r-test approved this statement to run once") {
		t.Fatalf("a second run: %v", err)
	}
	if err := conn.QueryRow(ctx, "select 1").Scan(&n); err != nil {
		t.Fatalf("the session after the refusal: %v", err)
	}
}

// TestHeldRunsOnceWhateverTheAnswers: the one run an approval gives a statement follows
// what the database did with its name, not what the client asked: a Parse of the name that
// the database refuses, a Close it skips after an earlier error, or either pipelined ahead
// of a Bind, leave the spent approval in force; a Parse of the unnamed statement that the
// database accepts replaces it.
func TestHeldRunsOnceWhateverTheAnswers(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	conn := connWith(t, pg, func(g *Grant) {
		g.Gate = holdsHeld
		g.Holder = approveAll{}
	})
	fe := conn.PgConn().Frontend()
	round := func(t *testing.T, want []string, msgs ...pgproto3.FrontendMessage) {
		t.Helper()
		for _, m := range msgs {
			fe.Send(m)
		}
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe, want...)
	}
	run := []string{"BindComplete", "DataRow", "CommandComplete", "ReadyForQuery"}
	refused := []string{"ErrorResponse:42501", "ReadyForQuery"}
	bind := func(name string) []pgproto3.FrontendMessage {
		return []pgproto3.FrontendMessage{&pgproto3.Bind{PreparedStatement: name}, &pgproto3.Execute{}, &pgproto3.Sync{}}
	}

	round(t, []string{"ParseComplete", "ReadyForQuery"}, &pgproto3.Parse{Name: "h", Query: "select 1 as held"}, &pgproto3.Sync{})
	round(t, run, bind("h")...)
	round(t, refused, bind("h")...)
	// A Parse of the taken name: refused by the database.
	round(t, []string{"ErrorResponse:42P05", "ReadyForQuery"}, &pgproto3.Parse{Name: "h", Query: "select 2"}, &pgproto3.Sync{})
	round(t, refused, bind("h")...)
	// A Close skipped after an error, then a Parse and a Bind pipelined behind it.
	round(t, []string{"ErrorResponse:42P01", "ReadyForQuery", "ErrorResponse:42P05", "ReadyForQuery", "ErrorResponse:42501", "ReadyForQuery"},
		&pgproto3.Parse{Query: "select * from no_such_table"}, &pgproto3.Close{ObjectType: 'S', Name: "h"}, &pgproto3.Sync{},
		&pgproto3.Parse{Name: "h", Query: "select 3"}, &pgproto3.Sync{},
		&pgproto3.Bind{PreparedStatement: "h"}, &pgproto3.Execute{}, &pgproto3.Sync{})
	// A Close that runs frees the name.
	round(t, []string{"CloseComplete", "ParseComplete", "ReadyForQuery"},
		&pgproto3.Close{ObjectType: 'S', Name: "h"}, &pgproto3.Parse{Name: "h", Query: "select 4"}, &pgproto3.Sync{})
	round(t, run, bind("h")...)
	round(t, run, bind("h")...)

	// The unnamed statement: approved once; a Parse that replaces it in the same cycle
	// as its Bind runs the new statement.
	round(t, append([]string{"ParseComplete"}, run...), append([]pgproto3.FrontendMessage{&pgproto3.Parse{Query: "select 5 as held"}}, bind("")...)...)
	round(t, refused, bind("")...)
	round(t, append([]string{"ParseComplete"}, run...), append([]pgproto3.FrontendMessage{&pgproto3.Parse{Query: "select 6"}}, bind("")...)...)
	round(t, run, bind("")...)
}
