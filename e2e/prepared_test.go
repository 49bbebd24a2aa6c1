package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/pgtest"
)

// counterTable makes a table name with rows (id, n = 0) for ids 1..rows, which the write
// role may update, for the length of the test.
func counterTable(t *testing.T, pg *pgtest.Server, name string, rows int) {
	t.Helper()
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, fmt.Sprintf(`CREATE TABLE %[1]s (id int PRIMARY KEY, n int NOT NULL DEFAULT 0);
		INSERT INTO %[1]s (id) SELECT generate_series(1, %[2]d);
		GRANT SELECT, UPDATE ON %[1]s TO %[3]s; GRANT SELECT ON %[1]s TO %[4]s`, name, rows, pg.App.RWUser, pg.App.ROUser)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, "DROP TABLE "+name) })
}

// TestApprovedStatementRunsOnce is the regression test of the class "an approved statement
// runs more than once" (issue 12, finding 3).
//
// The attack: alice, whose writes need a review, has `PREPARE upd AS UPDATE …` approved,
// then sends `SELECT 1/0; DEALLOCATE upd` (the DEALLOCATE never runs: the first statement
// fails), then `PREPARE upd AS SELECT 1` (refused by the database: upd exists), then
// `EXECUTE upd`, hoping the gateway believes upd was dropped and re-prepared as a read. The
// same on the extended protocol: an approved Parse runs once; a Parse of its name that the
// database refuses, or a Close that it skips after an earlier error, must not give it
// another run.
//
// What it proves: the gateway's view of prepared statements follows what the database did,
// so the EXECUTE is held as the write it is (and runs only if approved again), a
// protocol-level Bind of the approved statement is refused, and the counter row shows
// exactly the runs that were approved.
func TestApprovedStatementRunsOnce(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	counterTable(t, pg, "runs_once", 2)
	gw := startGateway(t, gatewayOptions{})
	alice := gw.login(t, "alice")
	dana := gw.login(t, "dana")
	addr, _ := gw.connect(t, alice, "db-prod")
	count := func(t *testing.T, id int) int {
		t.Helper()
		direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close(ctx)
		var n int
		if err := direct.QueryRow(ctx, "select n from runs_once where id = $1", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// decide waits for the review of what is running in the background and answers it.
	decide := func(t *testing.T, approve bool) api.Review {
		t.Helper()
		rv := pendingReview(t, gw, dana)
		verb, body := "approve", api.ReviewAnswer{}
		if !approve {
			verb, body = "deny", api.ReviewAnswer{Reason: "a second run"}
		}
		if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/"+verb, body, nil); code != 200 {
			t.Fatalf("%s %s: HTTP %d", verb, rv.ID, code)
		}
		return rv
	}
	background := func(f func() error) chan error {
		done := make(chan error, 1)
		go func() { done <- f() }()
		return done
	}
	wantCode := func(t *testing.T, what string, err error, code, msg string) {
		t.Helper()
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != code || !strings.Contains(pe.Message, msg) {
			t.Fatalf("%s: got %v, want %s %q", what, err, code, msg)
		}
	}

	t.Run("simple protocol", func(t *testing.T) {
		conn := connectPgx(t, addr)
		exec := func(sql string) error {
			_, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
			return err
		}
		const prepare = "PREPARE upd AS UPDATE runs_once SET n = n + 1 WHERE id = 1"
		done := background(func() error { return exec(prepare) })
		if rv := decide(t, true); rv.SQL != prepare || rv.Class != "write" {
			t.Errorf("review of the PREPARE: %+v", rv)
		}
		if err := <-done; err != nil {
			t.Fatalf("approved PREPARE: %v", err)
		}
		// Each EXECUTE of it is a write: approved once, it runs once.
		done = background(func() error { return exec("EXECUTE upd") })
		decide(t, true)
		if err := <-done; err != nil {
			t.Fatalf("approved EXECUTE: %v", err)
		}
		if n := count(t, 1); n != 1 {
			t.Fatalf("runs after one approved EXECUTE: %d, want 1", n)
		}

		// The attack.
		wantCode(t, "SELECT 1/0; DEALLOCATE upd", exec("SELECT 1/0; DEALLOCATE upd"), "22012", "division by zero")
		wantCode(t, "PREPARE upd AS SELECT 1", exec("PREPARE upd AS SELECT 1"), "42P05", "already exists")
		done = background(func() error { return exec("EXECUTE upd") })
		if rv := decide(t, false); rv.Class != "write" {
			t.Errorf("EXECUTE upd after the attack: reviewed as %q, want write", rv.Class)
		}
		wantCode(t, "EXECUTE upd, denied", <-done, "42501", "denied by dana@example.com")
		// Nor may the extended protocol run it: the approval was to prepare it.
		_, err := conn.PgConn().ExecPrepared(ctx, "upd", nil, nil, nil).Close()
		wantCode(t, "Bind of upd", err, "42501", "approved preparing this statement, not running it")
		if n := count(t, 1); n != 1 {
			t.Fatalf("runs after the attack: %d, want 1 (only the approved one)", n)
		}

		// A DEALLOCATE that does run drops the name; a new statement may take it, decided
		// as what it is.
		if err := exec("DEALLOCATE upd"); err != nil {
			t.Fatal(err)
		}
		if err := exec("PREPARE upd AS SELECT n FROM runs_once WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		if err := exec("EXECUTE upd"); err != nil {
			t.Fatalf("EXECUTE of the read that took the name: %v", err)
		}
		// DEALLOCATE ALL inside a Query whose first statement fails: nothing is dropped.
		wantCode(t, "SELECT 1/0; DEALLOCATE ALL", exec("SELECT 1/0; DEALLOCATE ALL"), "22012", "division by zero")
		if err := exec("EXECUTE upd"); err != nil {
			t.Fatalf("EXECUTE after a DEALLOCATE ALL that never ran: %v", err)
		}
	})

	t.Run("extended protocol", func(t *testing.T) {
		conn := connectPgx(t, addr)
		pc := conn.PgConn()
		const update = "UPDATE runs_once SET n = n + 1 WHERE id = 2"
		done := background(func() error { _, err := pc.Prepare(ctx, "upd2", update, nil); return err })
		decide(t, true)
		if err := <-done; err != nil {
			t.Fatalf("approved Parse: %v", err)
		}
		if _, err := pc.ExecPrepared(ctx, "upd2", nil, nil, nil).Close(); err != nil {
			t.Fatalf("the approved run: %v", err)
		}
		runOnce := func(what string) {
			t.Helper()
			_, err := pc.ExecPrepared(ctx, "upd2", nil, nil, nil).Close()
			wantCode(t, what, err, "42501", "approved this statement to run once, and it has run")
			if n := count(t, 2); n != 1 {
				t.Fatalf("%s: runs %d, want 1", what, n)
			}
		}
		runOnce("a second run")

		// A Parse of the name that the database refuses (it is taken).
		_, err := pc.Prepare(ctx, "upd2", "SELECT 1", nil)
		wantCode(t, "Parse of a taken name", err, "42P05", "already exists")
		runOnce("a run after a refused Parse of its name")

		// A Close that the database skips: an earlier message of its cycle fails.
		fe := pc.Frontend()
		fe.Send(&pgproto3.Parse{Query: "SELECT * FROM no_such_table"})
		fe.Send(&pgproto3.Close{ObjectType: 'S', Name: "upd2"})
		fe.Send(&pgproto3.Sync{})
		fe.Send(&pgproto3.Parse{Name: "upd2", Query: "SELECT 1"})
		fe.Send(&pgproto3.Sync{})
		// Pipelined behind both: a Bind of it, before the gateway has their answers.
		fe.Send(&pgproto3.Bind{PreparedStatement: "upd2"})
		fe.Send(&pgproto3.Execute{})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{"ErrorResponse:42P01", "ReadyForQuery", "ErrorResponse:42P05", "ReadyForQuery", "ErrorResponse:42501", "ReadyForQuery"} {
			m, err := receive(fe)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got := describeMsg(m); got != want {
				t.Fatalf("message %d: got %s (%+v), want %s", i, got, m, want)
			}
		}
		runOnce("a run after a skipped Close")

		// A Close that runs drops the name and its approval: a new statement under it is
		// decided as what it is.
		if err := pc.Deallocate(ctx, "upd2"); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.Prepare(ctx, "upd2", "SELECT n FROM runs_once WHERE id = 2", nil); err != nil {
			t.Fatal(err)
		}
		if _, err := pc.ExecPrepared(ctx, "upd2", nil, nil, nil).Close(); err != nil {
			t.Fatalf("the read that took the name: %v", err)
		}
		if n := count(t, 2); n != 1 {
			t.Fatalf("runs: %d, want 1", n)
		}
		// A DEALLOCATE run by a protocol-level Execute drops the name once it completes.
		if _, err := pc.ExecParams(ctx, "DEALLOCATE upd2", nil, nil, nil, nil).Close(); err != nil {
			t.Fatal(err)
		}
		_, err = conn.Exec(ctx, "EXECUTE upd2", pgx.QueryExecModeSimpleProtocol)
		wantCode(t, "EXECUTE after a protocol-level DEALLOCATE", err, "42501", "admin statements are not allowed")
	})

	// A cursor runs its query at each FETCH, so FETCH and MOVE are decided with the class
	// of the cursor's DECLARE, which the gateway learns when the database confirms it.
	t.Run("cursors", func(t *testing.T) {
		if err := pg.ExecIn(ctx, pg.App.DB, fmt.Sprintf("CREATE SEQUENCE runs_once_seq; GRANT USAGE ON SEQUENCE runs_once_seq TO %s", pg.App.RWUser)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, "DROP SEQUENCE runs_once_seq") })
		conn := connectPgx(t, addr)
		exec := func(sql string) error {
			_, err := conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
			return err
		}
		must := func(sqls ...string) {
			t.Helper()
			for _, sql := range sqls {
				if err := exec(sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
		}
		const adminDenied = "admin statements are not allowed"
		// psql's FETCH_COUNT: a read cursor in a transaction.
		must("BEGIN", "DECLARE c NO SCROLL CURSOR FOR SELECT id FROM runs_once ORDER BY id", "FETCH FORWARD 1 FROM c", "MOVE 1 IN c", "CLOSE c")
		wantCode(t, "FETCH of a closed cursor", exec("FETCH 1 FROM c"), "42501", adminDenied)
		must("DECLARE c2 CURSOR FOR SELECT 1", "COMMIT")
		wantCode(t, "FETCH of a cursor its transaction ended", exec("FETCH 1 FROM c2"), "42501", adminDenied)
		wantCode(t, "FETCH of a cursor never declared", exec("FETCH ALL FROM nowhere"), "42501", adminDenied)

		// A cursor over a write: its FETCH is the write.
		must("BEGIN")
		done := background(func() error { return exec("DECLARE w CURSOR FOR SELECT nextval('runs_once_seq')") })
		decide(t, true)
		if err := <-done; err != nil {
			t.Fatalf("approved DECLARE: %v", err)
		}
		done = background(func() error { return exec("FETCH 1 FROM w") })
		if rv := decide(t, false); rv.Class != "write" {
			t.Errorf("FETCH of a write cursor: reviewed as %q, want write", rv.Class)
		}
		wantCode(t, "FETCH of a write cursor, denied", <-done, "42501", "denied by dana@example.com")
		must("ROLLBACK")
		direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close(ctx)
		var called bool
		if err := direct.QueryRow(ctx, "SELECT is_called FROM runs_once_seq").Scan(&called); err != nil || called {
			t.Fatalf("the sequence after a denied FETCH: called %v, %v; want never called", called, err)
		}

		// WITH HOLD outlives its transaction; a CLOSE that never ran does not close it.
		must("DECLARE h CURSOR WITH HOLD FOR SELECT id FROM runs_once ORDER BY id", "FETCH 1 FROM h")
		wantCode(t, "SELECT 1/0; CLOSE h", exec("SELECT 1/0; CLOSE h"), "22012", "division by zero")
		must("FETCH 1 FROM h")
		// A protocol-level Execute of a cursor is not a FETCH, and is refused.
		fe := conn.PgConn().Frontend()
		fe.Send(&pgproto3.Execute{Portal: "h"})
		fe.Send(&pgproto3.Sync{})
		if err := fe.Flush(); err != nil {
			t.Fatal(err)
		}
		for i, want := range []string{"ErrorResponse:42501", "ReadyForQuery"} {
			m, err := receive(fe)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if got := describeMsg(m); got != want {
				t.Fatalf("message %d: got %s (%+v), want %s", i, got, m, want)
			}
		}
		// DISCARD ALL closes every cursor and drops every prepared statement.
		must("PREPARE r AS SELECT 1", "DISCARD ALL")
		wantCode(t, "FETCH after DISCARD ALL", exec("FETCH 1 FROM h"), "42501", adminDenied)
		wantCode(t, "EXECUTE after DISCARD ALL", exec("EXECUTE r"), "42501", adminDenied)
	})
}

// receive reads one backend message with a deadline.
func receive(fe *pgproto3.Frontend) (pgproto3.BackendMessage, error) {
	type result struct {
		m   pgproto3.BackendMessage
		err error
	}
	ch := make(chan result, 1)
	go func() { m, err := fe.Receive(); ch <- result{m, err} }()
	select {
	case r := <-ch:
		return r.m, r.err
	case <-time.After(30 * time.Second):
		return nil, errors.New("no answer in 30s")
	}
}

func describeMsg(m pgproto3.BackendMessage) string {
	got := strings.TrimPrefix(fmt.Sprintf("%T", m), "*pgproto3.")
	if e, ok := m.(*pgproto3.ErrorResponse); ok {
		got += ":" + e.Code
	}
	return got
}
