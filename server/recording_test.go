package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/internal/journal"
	"github.com/hoopgw/hoop/store"
)

// BenchmarkRecorder measures what recording one statement costs: its write-ahead record
// with its audit event (journaled, waited on), then its outcome (posted), from 8 writers
// at once, and applying them all to SQLite in a temp dir, which the timing includes.
//
//	go test ./server -run '^$' -bench Recorder -benchmem
func BenchmarkRecorder(b *testing.B) {
	st, jdir := tempStore(b)
	rec, err := newRecorder(context.Background(), st, jdir, "gw", sealer(make([]byte, 32)), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		b.Fatal(err)
	}
	const writers = 8
	for w := range writers {
		se := &store.Session{ID: fmt.Sprintf("s-%d", w), GatewayID: "gw", StartedAt: time.Now()}
		if err := rec.write(&store.Batch{Opened: []*store.Session{se}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	per := b.N/writers + 1
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				s := &store.Statement{SessionID: fmt.Sprintf("s-%d", w), Seq: int64(i + 1), StartedAt: time.Now(),
					SQL: "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;", Class: "read", Decision: "allow",
					Rule: "engineers-read-prod", PolicyVersion: "c1c9fc1f7c31b5de3877ce753cf0f1155f09b75328d4ef449e8579806d24554f", State: store.StateSent}
				ev := eventText("statement", "alice@example.com", "db-prod", s.SessionID, statementData(s))
				if err := rec.write(&store.Batch{Sent: []*store.Statement{s}, Events: []*store.Event{ev}}); err != nil {
					b.Error(err)
					return
				}
				v := "1234"
				done := &store.Statement{SessionID: s.SessionID, Seq: s.Seq, State: store.StateDone, RowCount: 1, CommandTag: "SELECT 1",
					Columns: []string{"abalance"}, Rows: [][]*string{{&v}}}
				rec.postAnswer(&store.Batch{Finished: []*store.Statement{done}}, s)
			}
		}()
	}
	wg.Wait()
	if err := rec.sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	rec.close()
	b.ReportMetric(float64(per*writers)/float64(rec.commits.Load()), "stmts/commit")
}

// TestStatementData: a statement event's data, written without reflection, is the text
// event() writes for the same map.
func TestStatementData(t *testing.T) {
	for _, st := range []*store.Statement{
		{Seq: 1, SQL: "SELECT 1", Class: "read", Decision: "allow", Rule: "r", PolicyVersion: "sha256:ab"},
		{Seq: 1 << 40, SQL: "select '<b>&amp;' || \"x\"\n\t\u2028 \xff", Class: "write", Decision: "deny", Rule: "", PolicyVersion: "",
			Error: `ERROR: no "writes" <here> (SQLSTATE 42501)`},
		{Seq: 3, SQL: strings.Repeat("é", 1200), Class: "unknown", Decision: "review"},
	} {
		data := map[string]any{"seq": st.Seq, "class": st.Class, "decision": st.Decision, "rule": st.Rule,
			"policy_version": st.PolicyVersion, "sql": truncate(st.SQL, 1000)}
		if st.Error != "" {
			data["error"] = st.Error
		}
		if got, want := statementData(st), event("statement", "", "", "", data).Data; got != want {
			t.Errorf("statementData:\n got %s\nwant %s", got, want)
		}
	}
}

// TestAffected: the rows a statement's command tags say it touched.
func TestAffected(t *testing.T) {
	for _, tc := range []struct {
		tags []string
		n    int64
		ok   bool
	}{
		{[]string{"SELECT 3"}, 3, true},
		{[]string{"INSERT 0 2", "UPDATE 5"}, 7, true},
		{[]string{"BEGIN"}, 0, false},
		{[]string{"CREATE TABLE", "DELETE 1"}, 1, true},
		{nil, 0, false},
	} {
		if n, ok := affected(tc.tags); n != tc.n || ok != tc.ok {
			t.Errorf("affected(%q) = %d, %v; want %d, %v", tc.tags, n, ok, tc.n, tc.ok)
		}
	}
}

// tempStore opens a SQLite store in a temp dir, closed when tb ends, and names a journal
// dir beside it.
func tempStore(tb testing.TB) (*store.Store, string) {
	dir := tb.TempDir()
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(dir, "hoop.db"), "")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	return st, filepath.Join(dir, "journal")
}

// TestRecorderReplaysJournal: records the journal holds and the store lacks (the gateway
// died between the two) reach the store at the next start, once; their audit events are
// sealed into the chain then.
func TestRecorderReplaysJournal(t *testing.T) {
	ctx := context.Background()
	st, jdir := tempStore(t)

	// What a gateway journaled before it was killed: nothing of it reached the store.
	j, err := journal.Open(jdir, journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	se := &store.Session{ID: "s-1", GatewayID: "gw", Subject: "dana", StartedAt: time.Now()}
	sent := &store.Statement{SessionID: "s-1", Seq: 1, StartedAt: time.Now(), SQL: "insert into t values (1)", Class: "write",
		Decision: "allow", State: store.StateSent}
	for _, b := range []*store.Batch{
		{Opened: []*store.Session{se}, Events: []*store.Event{eventText("session.start", "dana", "db", "s-1", `{}`)}},
		{Sent: []*store.Statement{sent}, Events: []*store.Event{eventText("statement", "dana", "db", "s-1", statementData(sent))}},
	} {
		if _, err := j.Append(store.AppendBatch(nil, b), true); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for run := range 2 {
		rec, err := newRecorder(ctx, st, jdir, "gw", sealer(make([]byte, 32)), log, nil)
		if err != nil {
			t.Fatal(err)
		}
		rec.close()
		_, sts, err := st.GetSession(ctx, "s-1")
		if err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		if len(sts) != 1 || sts[0].SQL != sent.SQL || sts[0].State != store.StateSent {
			t.Fatalf("run %d: statements %+v", run, sts)
		}
		var kinds []string
		st.Events(ctx, 0, func(e *store.Event) bool { kinds = append(kinds, e.Kind); return true })
		if fmt.Sprint(kinds) != "[session.start statement]" {
			t.Fatalf("run %d: events %v, want each once", run, kinds)
		}
		if lsn, err := st.AppliedLSN(ctx, "gw"); err != nil || lsn != 2 {
			t.Fatalf("run %d: applied LSN %d, %v; want 2", run, lsn, err)
		}
	}
	report, err := audit.Verify(make([]byte, 32), eventsOf(ctx, st))
	if err != nil || !report.OK {
		t.Fatalf("chain: %+v, %v", report, err)
	}
}

// eventsOf iterates a store's events as audit.Verify reads them.
func eventsOf(ctx context.Context, st *store.Store) func() (audit.Event, bool, error) {
	var all []audit.Event
	var err error
	if ierr := st.Events(ctx, 0, func(e *store.Event) bool {
		var ae audit.Event
		if ae, err = toAudit(e); err != nil {
			return false
		}
		all = append(all, ae)
		return true
	}); ierr != nil {
		err = ierr
	}
	return func() (audit.Event, bool, error) {
		if err != nil || len(all) == 0 {
			return audit.Event{}, false, err
		}
		e := all[0]
		all = all[1:]
		return e, true, nil
	}
}

// TestRecorderRefusesWhileStoreFails: once the store refuses the journal's records,
// writes are refused with its reason; the records wait, and reach the store when it takes
// them again.
func TestRecorderRefusesWhileStoreFails(t *testing.T) {
	ctx := context.Background()
	st, jdir := tempStore(t)
	rec, err := newRecorder(ctx, st, jdir, "gw", sealer(make([]byte, 32)), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.close()
	if err := rec.write(&store.Batch{Opened: []*store.Session{{ID: "s-1", GatewayID: "gw", StartedAt: time.Now()}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DB().Exec(`ALTER TABLE statement_log RENAME TO broken`); err != nil {
		t.Fatal(err)
	}
	stmt := func(seq int64) *store.Batch {
		return &store.Batch{Sent: []*store.Statement{{SessionID: "s-1", Seq: seq, StartedAt: time.Now(), SQL: "select 1", State: store.StateSent}}}
	}
	if err := rec.write(stmt(1)); err != nil {
		t.Fatalf("the first write after the break: %v (the journal takes it)", err)
	}
	if err := rec.sync(ctx); err == nil || !strings.Contains(err.Error(), "the store refuses records") {
		t.Fatalf("sync with a broken store: %v", err)
	}
	if err := rec.write(stmt(2)); err == nil || !strings.Contains(err.Error(), "the store refuses records") || !strings.Contains(err.Error(), "statement_log") {
		t.Fatalf("a write while the store refuses records: %v", err)
	}
	if _, err := st.DB().Exec(`ALTER TABLE broken RENAME TO statement_log`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rec.sync(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("the recorder did not recover with the store")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, sts, err := st.GetSession(ctx, "s-1")
	if err != nil || len(sts) != 1 || sts[0].Seq != 1 {
		t.Fatalf("statements after the store mended: %+v, %v; want the journaled one", sts, err)
	}
	if err := rec.write(stmt(3)); err != nil {
		t.Fatalf("a write after the store mended: %v", err)
	}
}

// TestMerge: a statement sent and answered within one commit is written once, whole; an
// answer to a statement of an earlier commit stays an outcome.
func TestMerge(t *testing.T) {
	sent := &store.Statement{SessionID: "s", Seq: 1, SQL: "select 1", Class: "read", State: store.StateSent}
	done := &store.Statement{SessionID: "s", Seq: 1, State: store.StateDone, RowCount: 1, CommandTag: "SELECT 1", Columns: []string{"x"}}
	late := &store.Statement{SessionID: "s", Seq: 0, State: store.StateDone, CommandTag: "SELECT 0"}
	for _, answers := range []*store.Statement{sent, nil} { // live, and replayed from the journal
		testMerge(t, sent, done, late, answers)
	}
}

func testMerge(t *testing.T, sent, done, late, answers *store.Statement) {
	all := merge([]pending{{lsn: 7, b: &store.Batch{Sent: []*store.Statement{sent}}},
		{lsn: 8, b: &store.Batch{Finished: []*store.Statement{done}}, answers: answers},
		{lsn: 8, b: &store.Batch{Finished: []*store.Statement{late}}}}, "gw")
	if len(all.Sent) != 1 || all.Sent[0].SQL != "select 1" || all.Sent[0].State != store.StateDone || all.Sent[0].CommandTag != "SELECT 1" || all.Sent[0].Class != "read" {
		t.Errorf("sent: %+v", all.Sent)
	}
	if sent.State != store.StateSent {
		t.Error("merge changed the journaled statement")
	}
	if len(all.Finished) != 1 || all.Finished[0] != late {
		t.Errorf("finished: %+v", all.Finished)
	}
	if all.Applied == nil || all.Applied.LSN != 8 || all.Applied.GatewayID != "gw" {
		t.Errorf("applied: %+v", all.Applied)
	}
}
