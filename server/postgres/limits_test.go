package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// memRecorder keeps what the engine records, for the tests to look at.
type memRecorder struct {
	mu  sync.Mutex
	sts []StatementInfo
}

func (r *memRecorder) Statement(st StatementInfo) (Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sts = append(r.sts, st)
	return nopOutcome{}, nil
}

func (r *memRecorder) End(string) {}

func (r *memRecorder) all() []StatementInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]StatementInfo(nil), r.sts...)
}

type nopOutcome struct{}

func (nopOutcome) Columns([]pgproto3.FieldDescription) {}
func (nopOutcome) Row([]byte)                          {}
func (nopOutcome) Complete(string)                     {}
func (nopOutcome) Error(string, string)                {}
func (nopOutcome) Done()                               {}

// seenGate remembers the size of every text it decided, and allows it.
type seenGate struct {
	mu    sync.Mutex
	sizes []int
}

func (g *seenGate) Query(sql string, _ Names) (Decision, error) { return Decision{}, g.see(sql) }
func (g *seenGate) Parse(sql string, _ Names) (Decision, error) { return Decision{}, g.see(sql) }
func (g *seenGate) see(sql string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.sizes = append(g.sizes, len(sql))
	return nil
}

func (g *seenGate) largest() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, s := range g.sizes {
		n = max(n, s)
	}
	return n
}

// limitedConn connects through engine e with a read-write grant, a gate and a recorder.
func limitedConn(t *testing.T, pg *pgtest.Server, e *Engine) (*pgx.Conn, *seenGate, *memRecorder) {
	t.Helper()
	gate, rec := &seenGate{}, &memRecorder{}
	up := grantFor(t, pg, pg.App.RWUser, pg.App.RWPassword, false)
	conn, err := connect(t, serve(t, e, func(ctx context.Context) (*Grant, error) {
		g, err := up(ctx)
		if g != nil {
			g.Gate = gate
			g.Record = func(SessionInfo) (Recorder, error) { return rec, nil }
		}
		return g, err
	}), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn, gate, rec
}

// TestStatementSizeIsBounded: a statement over StatementBytes is refused with 54000,
// unread (neither the gate nor the budget sees it, the record says only its size), in its
// place in the stream, on both protocols; the session goes on.
func TestStatementSizeIsBounded(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	e := New(&Config{StatementBytes: 4 << 10, BufferSize: 1 << 10})
	big := "select '" + strings.Repeat("x", 100<<10) + "'"
	const wantMsg = "hoop: this statement is 100.0 KiB; the gateway analyses statements up to 4.0 KiB (limits.statement_bytes). Send large data as bind parameters or with COPY"

	check := func(t *testing.T, gate *seenGate, rec *memRecorder) {
		t.Helper()
		if n := gate.largest(); n > 4<<10 {
			t.Errorf("the gate saw a text of %d bytes, over the limit", n)
		}
		var unread int
		for _, st := range rec.all() {
			if st.Unread {
				unread++
				if st.Refusal == nil || len(st.SQL) > 200 || !strings.Contains(st.SQL, "not read") {
					t.Errorf("record of the refused statement: %+v", st)
				}
			}
		}
		if unread != 1 {
			t.Errorf("records of unread statements: got %d, want 1", unread)
		}
		if n := e.Inflight(); n != 0 {
			t.Errorf("in-flight bytes after the refusal: %d, want 0", n)
		}
	}

	t.Run("simple query", func(t *testing.T) {
		conn, gate, rec := limitedConn(t, pg, e)
		_, err := conn.Exec(ctx, big, pgx.QueryExecModeSimpleProtocol)
		wantPgError(t, "oversized query", err, "54000", wantMsg)
		var n int
		if err := conn.QueryRow(ctx, "select 2", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil || n != 2 {
			t.Fatalf("after the refusal: %d, %v", n, err)
		}
		check(t, gate, rec)
	})

	t.Run("extended protocol", func(t *testing.T) {
		conn, gate, rec := limitedConn(t, pg, e)
		_, err := conn.Exec(ctx, big+" || $1::text", "y")
		wantPgError(t, "oversized parse", err, "54000", "the gateway analyses statements up to 4.0 KiB")
		var s string
		if err := conn.QueryRow(ctx, "select $1::text", "ok").Scan(&s); err != nil || s != "ok" {
			t.Fatalf("after the refusal: %q, %v", s, err)
		}
		check(t, gate, rec)
	})

	t.Run("pipelined: the rest is skipped to Sync, then served", func(t *testing.T) {
		conn, gate, rec := limitedConn(t, pg, e)
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Parse{Name: "big", Query: big})
		fe.Send(&pgproto3.Bind{PreparedStatement: "big"})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		fe.Send(&pgproto3.Query{String: "select 3"})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		expectMessages(t, fe, "ErrorResponse:54000", "ReadyForQuery",
			"RowDescription", "DataRow", "CommandComplete", "ReadyForQuery")
		check(t, gate, rec)
	})
}

// TestStatementLimitBelowReadBuffer: the statement limit holds for statements that fit
// the read buffer too.
func TestStatementLimitBelowReadBuffer(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	e := New(&Config{StatementBytes: 1 << 10, BufferSize: 64 << 10})
	conn, gate, _ := limitedConn(t, pg, e)
	_, err := conn.Exec(ctx, "select '"+strings.Repeat("x", 2000)+"'", pgx.QueryExecModeSimpleProtocol)
	wantPgError(t, "a 2 KB query with a 1 KiB limit", err, "54000", "this statement is 2.0 KiB; the gateway analyses statements up to 1.0 KiB")
	_, err = conn.Exec(ctx, "select '"+strings.Repeat("x", 2000)+"' || $1::text", "y")
	wantPgError(t, "a 2 KB parse with a 1 KiB limit", err, "54000", "the gateway analyses statements up to 1.0 KiB")
	if n := gate.largest(); n > 1<<10 {
		t.Errorf("the gate saw a text of %d bytes, over the limit", n)
	}
	var n int
	if err := conn.QueryRow(ctx, "select 5").Scan(&n); err != nil || n != 5 {
		t.Fatalf("after the refusals: %d, %v", n, err)
	}
}

// TestLargeBindParameterIsForwarded: a bind parameter far over StatementBytes is data,
// not a statement: it reaches the database whole, and its record keeps its size only.
func TestLargeBindParameterIsForwarded(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	e := New(&Config{StatementBytes: 4 << 10, BufferSize: 1 << 10})
	conn, _, rec := limitedConn(t, pg, e)
	var n int
	if err := conn.QueryRow(ctx, "select length($1::text) + length($2::text)", strings.Repeat("p", 300<<10), "small").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 300<<10+5 {
		t.Fatalf("length of the parameters in the database: %d, want %d", n, 300<<10+5)
	}
	var found bool
	for _, st := range rec.all() {
		if st.Execute && len(st.Params) == 2 {
			found = true
			if p := st.Params[0]; p.Omitted != 300<<10 || p.Value != nil {
				t.Errorf("recorded large parameter: %d bytes kept, omitted %d; want none kept, omitted %d", len(p.Value), p.Omitted, 300<<10)
			}
			if p := st.Params[1]; string(p.Value) != "small" || p.Omitted != 0 {
				t.Errorf("recorded small parameter: %+v", p)
			}
		}
	}
	if !found {
		t.Fatalf("no record of the Execute with its parameters: %+v", rec.all())
	}
	if got := e.Inflight(); got != 0 {
		t.Errorf("in-flight bytes after the statement: %d, want 0", got)
	}
}

// TestInflightBudgetFull: while other messages hold the whole in-flight budget, a large
// message is refused in place with 53200 once its wait is over, unread; the session goes
// on, and once the budget has room the same message runs.
func TestInflightBudgetFull(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	e := New(&Config{BufferSize: 1 << 10, InflightBytes: 1 << 20, InflightWait: 50 * time.Millisecond})
	conn, _, _ := limitedConn(t, pg, e)
	if err := e.budget.Acquire(ctx, 1<<20); err != nil { // what other sessions hold
		t.Fatal(err)
	}
	param := strings.Repeat("p", 100<<10)
	var n int
	err := conn.QueryRow(ctx, "select length($1::text)", param).Scan(&n)
	wantPgError(t, "a Bind with no room", err, "53200", "(limits.inflight_bytes)")
	if err := conn.QueryRow(ctx, "select 4").Scan(&n); err != nil || n != 4 {
		t.Fatalf("after the refusal: %d, %v", n, err)
	}
	e.budget.Release(1 << 20)
	if err := conn.QueryRow(ctx, "select length($1::text)", param).Scan(&n); err != nil || n != 100<<10 {
		t.Fatalf("with room in the budget: %d, %v", n, err)
	}
	if got := e.Inflight(); got != 0 {
		t.Errorf("in-flight bytes after the statements: %d, want 0", got)
	}
}

// TestCopyDataStreams: COPY data is forwarded in pieces, never buffered whole: a row over
// MaxMessageSize and over the whole in-flight budget still reaches the database.
func TestCopyDataStreams(t *testing.T) {
	pg := pgtest.Start(t, pgtest.WithApp())
	ctx := context.Background()
	e := New(&Config{BufferSize: 1 << 10, MaxMessageSize: 64 << 10, InflightBytes: 1 << 20})
	conn, _, _ := limitedConn(t, pg, e)
	if _, err := conn.Exec(ctx, "create temp table big (v text)"); err != nil {
		t.Fatal(err)
	}
	fe := conn.PgConn().Frontend()
	fe.Send(&pgproto3.Query{String: "copy big from stdin"})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expectMessages(t, fe, "CopyInResponse")
	fe.Send(&pgproto3.CopyData{Data: []byte(strings.Repeat("c", 3<<20) + "\n")})
	fe.Send(&pgproto3.CopyDone{})
	if err := fe.Flush(); err != nil {
		t.Fatal(err)
	}
	expectMessages(t, fe, "CommandComplete", "ReadyForQuery")
	var n int
	if err := conn.QueryRow(ctx, "select length(v) from big").Scan(&n); err != nil || n != 3<<20 {
		t.Fatalf("the copied row: length %d, %v; want %d", n, err, 3<<20)
	}
}

func TestBudget(t *testing.T) {
	ctx := context.Background()
	b := NewBudget(100)
	if err := b.Acquire(ctx, 101); err == nil {
		t.Fatal("Acquire over the whole budget: got nil, want an error")
	}
	if err := b.Acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if err := b.Acquire(ctx, 40); err != nil {
		t.Fatal(err)
	}
	if got := b.Used(); got != 100 {
		t.Fatalf("Used: got %d, want 100", got)
	}
	// Full: a request waits, and fails when its context ends.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Acquire(cctx, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire on a full budget with a done context: got %v, want context.Canceled", err)
	}
	// A waiter gets its bytes once enough are given back, not before.
	got := make(chan error, 1)
	go func() { got <- b.Acquire(ctx, 50) }()
	b.Release(40) // 60 used: 50 more do not fit yet
	select {
	case err := <-got:
		t.Fatalf("Acquire(50) with 40 free: returned %v, want it to wait", err)
	default:
	}
	b.Release(60)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	if got := b.Used(); got != 50 {
		t.Fatalf("Used: got %d, want 50", got)
	}
	b.Release(50)
	if got := b.Used(); got != 0 {
		t.Fatalf("Used after every release: got %d, want 0", got)
	}
}
