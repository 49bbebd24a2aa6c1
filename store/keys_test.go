package store

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestClusterKeyOneValueForEveryGateway: gateways sharing a store each propose a key at
// start; whoever commits first wins, and every gateway (two stores open on the same
// database, proposing at once) gets that same value, then and at every later start.
func TestClusterKeyOneValueForEveryGateway(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		a, b := open(t, url), open(t, url)
		var wg sync.WaitGroup
		got := make([]string, 8)
		errs := make([]error, 8)
		for i := range got {
			s := a
			if i%2 == 1 {
				s = b
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], errs[i] = s.ClusterKey(t.Context(), "mask-hash", fmt.Sprintf("proposal-%d", i))
			}()
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if got[i] != got[0] {
				t.Fatalf("gateway %d got key %q, gateway 0 got %q", i, got[i], got[0])
			}
		}
		again, err := open(t, url).ClusterKey(t.Context(), "mask-hash", "late")
		if err != nil || again != got[0] {
			t.Fatalf("a later start got %q, %v; want %q", again, err, got[0])
		}
		other, err := a.ClusterKey(t.Context(), "other", "x")
		if err != nil || other != "x" {
			t.Fatalf("another key: got %q, %v", other, err)
		}
	})
}

// TestWritesFromBothConnectionsNeverFail: with SQLite, the recorder commits on a writer
// connection of its own while tunnels and reviews are written on the others. A commit
// reads the audit chain's head before it writes; had it begun deferred, a write from
// another connection in between made it fail at once (SQLITE_BUSY_SNAPSHOT, "database is
// locked"), and the gateway refused statements until the next try. Both sides, at once,
// many times: none may fail.
func TestWritesFromBothConnectionsNeverFail(t *testing.T) {
	s := open(t, "sqlite://"+t.TempDir()+"/hoop.db")
	ctx := t.Context()
	const n = 300
	errs := make(chan error, 2)
	go func() {
		for i := range n {
			if err := s.OpenTunnel(ctx, &Tunnel{ID: fmt.Sprintf("t-%d", i), GatewayID: "gw", StartedAt: time.Now()}); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for i := range n {
			e := &Event{Time: time.Now(), Kind: "statement", Actor: "a", Data: fmt.Sprintf(`{"i":%d}`, i)}
			if err := s.Commit(ctx, &Batch{Events: []*Event{e}}, sealSHA); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
