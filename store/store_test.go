package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/hoopgw/hoop/internal/pgtest"
)

// The suite runs against both backends: SQLite in a temp dir, and a database of its own on
// one PostgreSQL server the package shares.
var (
	pgOnce   sync.Once
	pgServer *pgtest.Server
	pgErr    error
	pgDBs    int
	pgMu     sync.Mutex
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pgServer != nil {
		pgServer.Stop()
	}
	os.Exit(code)
}

type backend struct {
	name string
	url  func(t *testing.T) string // a fresh, empty store
}

func backends(t *testing.T) []backend {
	return []backend{
		{name: "sqlite", url: func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "hoop.db") }},
		{name: "postgres", url: postgresURL},
	}
}

func postgresURL(t *testing.T) string {
	t.Helper()
	pgOnce.Do(func() {
		pgServer, pgErr = pgtest.StartServer(context.Background(), "", pgtest.Options{})
	})
	if errors.Is(pgErr, pgtest.ErrNotFound) && os.Getenv("CI") != "true" {
		t.Skip(pgErr)
	}
	if pgErr != nil {
		t.Fatalf("pgtest: %v", pgErr)
	}
	pgMu.Lock()
	pgDBs++
	name := fmt.Sprintf("store%d", pgDBs)
	pgMu.Unlock()
	if err := pgServer.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return pgServer.SuperDSN(name)
}

// each runs fn against every backend.
func each(t *testing.T, fn func(t *testing.T, url string)) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) { fn(t, b.url(t)) })
	}
}

func open(t *testing.T, url string) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()) }

func TestTunnelLifecycle(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		start := micro(time.Now())
		want := &Tunnel{ID: "t-1", GatewayID: "gw-a", Subject: "alice", Issuer: "http://idp", Email: "alice@example.com",
			Groups: []string{"engineering"}, Connection: "db-prod", RemoteAddr: "127.0.0.1:1", StartedAt: start}
		if err := s.OpenTunnel(ctx, want); err != nil {
			t.Fatal(err)
		}
		if err := s.OpenTunnel(ctx, &Tunnel{ID: "t-2", GatewayID: "gw-a", Groups: nil, StartedAt: start}); err != nil {
			t.Fatal(err)
		}
		if err := s.OpenTunnel(ctx, &Tunnel{ID: "t-3", GatewayID: "gw-b", StartedAt: start}); err != nil {
			t.Fatal(err)
		}
		end := start.Add(time.Minute)
		if err := s.CloseTunnel(ctx, "t-1", end, "client closed"); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseTunnel(ctx, "t-1", end, "again"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("closing a closed tunnel: got %v, want ErrNotFound", err)
		}
		s.Close()

		// Reopen: the schema is not migrated twice and the data is still there.
		s = open(t, url)
		n, err := s.CloseOpenTunnels(ctx, "gw-a", end, "gateway-restart")
		if err != nil || n != 1 {
			t.Fatalf("CloseOpenTunnels: got %d, %v; want 1, nil", n, err)
		}
		got, err := s.GetTunnel(ctx, "t-1")
		if err != nil {
			t.Fatal(err)
		}
		want.EndedAt, want.EndReason = end, "client closed"
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tunnel (-want +got):\n%s", diff)
		}
		if t2, _ := s.GetTunnel(ctx, "t-2"); t2.EndReason != "gateway-restart" {
			t.Errorf("t-2 end reason: got %q, want %q", t2.EndReason, "gateway-restart")
		}
		if t3, _ := s.GetTunnel(ctx, "t-3"); !t3.EndedAt.IsZero() {
			t.Errorf("another gateway's tunnel was closed: %+v", t3)
		}
		if _, err := s.GetTunnel(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing tunnel: got %v, want ErrNotFound", err)
		}
	})
}

func str(s string) *string { return &s }

// sealSHA is a stand-in chain function for the store's tests: the audit package owns the
// real one.
func sealSHA(prev []byte, e *Event) []byte {
	h := sha256.New()
	h.Write(prev)
	fmt.Fprintf(h, "%d|%s|%s|%s|%s|%s", e.Time.UnixMicro(), e.Kind, e.Actor, e.Connection, e.Session, e.Data)
	return h.Sum(nil)
}

func TestSessionRecording(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		t0 := micro(time.Now().Add(-time.Hour))
		se := &Session{ID: "s-1", GatewayID: "gw-a", TunnelID: "t-1", Subject: "alice", Email: "alice@example.com",
			Groups: []string{"engineering", "oncall"}, Connection: "db-prod", Access: "read", DBUser: "app_ro",
			Application: "psql", SourceAddr: "127.0.0.1:5000", StartedAt: t0}
		other := &Session{ID: "s-2", GatewayID: "gw-a", TunnelID: "t-2", Subject: "dana", Email: "dana@example.com",
			Connection: "db-staging", Access: "write", StartedAt: t0.Add(time.Minute)}
		st1 := &Statement{SessionID: "s-1", Seq: 1, StartedAt: t0.Add(time.Second), SQL: "SELECT name, email FROM customers WHERE id = $1",
			Params: []*string{str("42"), nil}, Class: "read", Decision: "allow", Rule: "engineers-read", PolicyVersion: "sha256:ab", State: StateSent}
		st2 := &Statement{SessionID: "s-1", Seq: 2, StartedAt: t0.Add(2 * time.Second), SQL: "DROP TABLE customers",
			Class: "ddl", Decision: "deny", Rule: "no-ddl", PolicyVersion: "sha256:ab", State: StateRefused, Error: "denied by rule no-ddl"}
		if err := s.Commit(ctx, &Batch{Opened: []*Session{se, other}, Sent: []*Statement{st1, st2}}, nil); err != nil {
			t.Fatal(err)
		}
		done := *st1
		done.State, done.Duration, done.RowCount, done.CommandTag = StateDone, 1500*time.Microsecond, 1, "SELECT 1"
		done.Masking = map[string]int{"email": 1}
		done.Columns = []string{"name", "email"}
		done.Rows = [][]*string{{str("Ann"), str("a***@example.com")}}
		end := t0.Add(time.Hour)
		if err := s.Commit(ctx, &Batch{Finished: []*Statement{&done}, Ended: []SessionEnd{{ID: "s-1", At: end, Reason: "client closed"}}}, nil); err != nil {
			t.Fatal(err)
		}

		gotS, gotSt, err := s.GetSession(ctx, "s-1")
		if err != nil {
			t.Fatal(err)
		}
		wantS := *se
		wantS.EndedAt, wantS.EndReason, wantS.Statements = end, "client closed", 2
		if diff := cmp.Diff(&wantS, gotS); diff != "" {
			t.Errorf("session (-want +got):\n%s", diff)
		}
		want2 := *st2
		want2.Params = []*string{}
		if diff := cmp.Diff([]*Statement{&done, &want2}, gotSt, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("statements (-want +got):\n%s", diff)
		}

		for _, tc := range []struct {
			f    SessionFilter
			want []string
		}{
			{SessionFilter{}, []string{"s-2", "s-1"}},
			{SessionFilter{User: "alice"}, []string{"s-1"}},
			{SessionFilter{User: "dana@example.com"}, []string{"s-2"}},
			{SessionFilter{Connection: "db-prod"}, []string{"s-1"}},
			{SessionFilter{Since: t0.Add(30 * time.Second)}, []string{"s-2"}},
			{SessionFilter{Limit: 1}, []string{"s-2"}},
			{SessionFilter{User: "nobody"}, nil},
		} {
			list, err := s.ListSessions(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, l := range list {
				ids = append(ids, l.ID)
			}
			if !cmp.Equal(ids, tc.want) {
				t.Errorf("ListSessions(%+v): got %v, want %v", tc.f, ids, tc.want)
			}
		}
		if _, _, err := s.GetSession(ctx, "s-404"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing session: got %v, want ErrNotFound", err)
		}
	})
}

func TestCloseInterrupted(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		t0 := micro(time.Now())
		b := &Batch{
			Opened: []*Session{{ID: "s-a", GatewayID: "gw-a", StartedAt: t0}, {ID: "s-b", GatewayID: "gw-b", StartedAt: t0}},
			Sent: []*Statement{
				{SessionID: "s-a", Seq: 1, StartedAt: t0, SQL: "INSERT INTO t VALUES (1)", State: StateSent},
				{SessionID: "s-a", Seq: 2, StartedAt: t0, SQL: "SELECT 1", State: StateSent},
				{SessionID: "s-b", Seq: 1, StartedAt: t0, SQL: "SELECT 2", State: StateSent},
			},
		}
		if err := s.Commit(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		done := *b.Sent[1]
		done.State, done.CommandTag = StateDone, "SELECT 1"
		if err := s.Commit(ctx, &Batch{Finished: []*Statement{&done}}, nil); err != nil {
			t.Fatal(err)
		}
		ids, err := s.CloseInterrupted(ctx, "gw-a", t0.Add(time.Second), "gateway-restart")
		if err != nil || !cmp.Equal(ids, []string{"s-a"}) {
			t.Fatalf("CloseInterrupted: got %v, %v; want [s-a]", ids, err)
		}
		se, sts, _ := s.GetSession(ctx, "s-a")
		if se.EndReason != "gateway-restart" || !se.EndedAt.Equal(t0.Add(time.Second)) {
			t.Errorf("session: ended %v, %q", se.EndedAt, se.EndReason)
		}
		if sts[0].State != StateInterrupted || !strings.Contains(sts[0].Error, "gateway-restart") {
			t.Errorf("unanswered statement: %q, %q", sts[0].State, sts[0].Error)
		}
		if sts[1].State != StateDone {
			t.Errorf("answered statement: got state %q", sts[1].State)
		}
		if se, _, _ := s.GetSession(ctx, "s-b"); !se.EndedAt.IsZero() {
			t.Errorf("another gateway's session was closed")
		}
	})
}

func events(n int, kind string) []*Event {
	var out []*Event
	for i := range n {
		out = append(out, &Event{Time: micro(time.Now()), Kind: kind, Actor: "alice@example.com", Data: fmt.Sprintf(`{"i":%d}`, i)})
	}
	return out
}

// chain reads the whole chain and checks that every event links to the one before.
func chain(t *testing.T, s *Store) []*Event {
	t.Helper()
	var all []*Event
	if err := s.Events(t.Context(), 0, func(e *Event) bool { all = append(all, e); return true }); err != nil {
		t.Fatal(err)
	}
	prev := make([]byte, 32)
	for i, e := range all {
		if e.Seq != int64(i+1) {
			t.Fatalf("event %d has seq %d", i+1, e.Seq)
		}
		if !cmp.Equal(e.Prev, prev) || !cmp.Equal(e.Hash, sealSHA(prev, e)) {
			t.Fatalf("event %d does not link to the one before", e.Seq)
		}
		prev = e.Hash
	}
	return all
}

func TestAuditAppend(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		if err := s.Commit(ctx, &Batch{Events: events(3, "login")}, sealSHA); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s = open(t, url) // the head is read from the store, not remembered
		if err := s.Commit(ctx, &Batch{Events: events(2, "tunnel.open")}, sealSHA); err != nil {
			t.Fatal(err)
		}
		all := chain(t, s)
		if len(all) != 5 || all[4].Kind != "tunnel.open" || all[4].Data != `{"i":1}` {
			t.Fatalf("got %d events, last %+v", len(all), all[len(all)-1])
		}
		var after []int64
		s.Events(ctx, 3, func(e *Event) bool { after = append(after, e.Seq); return true })
		if !cmp.Equal(after, []int64{4, 5}) {
			t.Errorf("Events after 3: got %v", after)
		}
		if err := s.Commit(ctx, &Batch{Events: events(1, "x")}, nil); err == nil {
			t.Error("events without a sealer were accepted")
		}
	})
}

// TestAuditAppendShared has two gateways append to one PostgreSQL store at once: the chain
// stays one line.
func TestAuditAppendShared(t *testing.T) {
	url := postgresURL(t)
	a, b := open(t, url), open(t, url)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			errs <- s.Commit(context.Background(), &Batch{Events: events(3, "statement")}, sealSHA)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := len(chain(t, a)); n != 120 {
		t.Fatalf("got %d events, want 120", n)
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(t.Context(), "mysql://x", t.TempDir())
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("mysql: got %v, want ErrUnsupported", err)
	}
	url := postgresURL(t)
	bad := strings.Replace(url, pgServer.SuperPassword, "hunter2-wrong", 1)
	_, err = Open(t.Context(), bad, t.TempDir())
	if err == nil || strings.Contains(err.Error(), "hunter2-wrong") || !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: got %v; want the failure, without the password", err)
	}
}

// TestNewerSchema refuses a store a newer gateway migrated.
func TestNewerSchema(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		s := open(t, url)
		if _, err := s.DB().Exec(`UPDATE schema_version SET version = 99`); err != nil {
			t.Fatal(err)
		}
		s.Close()
		_, err := Open(t.Context(), url, t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "schema version 99, newer than this gateway's") {
			t.Errorf("got %v", err)
		}
	})
}

func TestReviews(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		t0 := micro(time.Now())
		for i, st := range []string{"pending", "pending", "denied"} {
			r := &Review{ID: fmt.Sprintf("r-%d", i), State: st, Requester: "alice@example.com", Connection: "db-prod",
				CreatedAt: t0.Add(time.Duration(i) * time.Second), Data: fmt.Sprintf(`{"id":"r-%d"}`, i)}
			if err := s.PutReview(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.PutReview(ctx, &Review{ID: "r-0", State: "approved", Data: `{"id":"r-0","state":"approved"}`}); err != nil {
			t.Fatal(err)
		}
		pending, err := s.Reviews(ctx, "pending", 10)
		if err != nil || len(pending) != 1 || pending[0].ID != "r-1" || pending[0].Requester != "alice@example.com" {
			t.Fatalf("pending: %+v, %v", pending, err)
		}
		all, _ := s.Reviews(ctx, "", 10)
		if len(all) != 3 || all[0].State != "approved" || all[0].Data != `{"id":"r-0","state":"approved"}` {
			t.Fatalf("all: %+v", all)
		}
	})
}
