package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/store"
)

// BenchmarkRecorder measures what recording one statement costs: its write-ahead record
// with its audit event (waited on, group-committed with the other writers'), then its
// outcome (not waited on), from 8 writers at once, to SQLite in a temp dir.
//
//	go test ./server -run '^$' -bench Recorder -benchmem
func BenchmarkRecorder(b *testing.B) {
	st, err := store.Open(context.Background(), "sqlite://"+filepath.Join(b.TempDir(), "hoop.db"), "")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	rec := newRecorder(st, sealer(make([]byte, 32)), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
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
				ev := event("statement", "alice@example.com", "db-prod", s.SessionID, map[string]any{"seq": s.Seq, "class": "read",
					"decision": "allow", "rule": s.Rule, "policy_version": s.PolicyVersion, "sql": s.SQL})
				if err := rec.write(&store.Batch{Sent: []*store.Statement{s}, Events: []*store.Event{ev}}); err != nil {
					b.Error(err)
					return
				}
				done := *s
				v := "1234"
				done.State, done.RowCount, done.CommandTag, done.Columns, done.Rows = store.StateDone, 1, "SELECT 1", []string{"abalance"}, [][]*string{{&v}}
				rec.post(&store.Batch{Finished: []*store.Statement{&done}})
			}
		}()
	}
	wg.Wait()
	rec.close()
	b.ReportMetric(float64(per*writers)/float64(rec.commits.Load()), "stmts/commit")
}
