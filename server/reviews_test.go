package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
)

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestReviewRateLimit: one identity opens at most perMinute reviews in any minute (a
// sliding window) and has at most maxPending pending; a refusal names the limit, its config
// key and what to do; other identities are not affected; a refusal costs nothing; idle
// identities are forgotten.
func TestReviewRateLimit(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)}
	l := newReviewLimiter(3, 5, clock.now)
	for i := range 5 {
		if err := l.take("alice", "alice@example.com", 0); err != nil {
			t.Fatalf("review %d of 5 within a minute: %v", i+1, err)
		}
		clock.add(time.Second)
	}
	// At 0:05, the first of the five (0:00) leaves the window at 1:00.
	err := l.take("alice", "alice@example.com", 0)
	var le *reviewLimitError
	if !errors.As(err, &le) {
		t.Fatalf("a sixth review within a minute: got %v, want a *reviewLimitError", err)
	}
	for _, want := range []string{"alice@example.com opened 5 reviews in the last minute", "reviews.max_per_minute", "run it again in 55s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to say %q", err, want)
		}
	}
	if err := l.take("bob", "bob@example.com", 0); err != nil {
		t.Errorf("another identity: %v", err)
	}
	clock.add(54 * time.Second) // 0:59: still five in the window
	if err := l.take("alice", "alice@example.com", 0); err == nil {
		t.Error("a review at 0:59 was allowed: five opened since 0:00")
	}
	clock.add(time.Second) // 1:00: the first left the window, and the refusals counted nothing
	if err := l.take("alice", "alice@example.com", 0); err != nil {
		t.Errorf("a review at 1:00: %v", err)
	}
	if err := l.take("alice", "alice@example.com", 0); err == nil {
		t.Error("a second review at 1:00 was allowed: 0:01…0:04 and 1:00 are five")
	}

	// Pending reviews: at most three, whatever the minute.
	clock.add(time.Hour)
	err = l.take("carol", "carol@example.com", 3)
	if !errors.As(err, &le) {
		t.Fatalf("a fourth pending review: got %v, want a *reviewLimitError", err)
	}
	for _, want := range []string{"carol@example.com has 3 reviews pending", "reviews.max_pending", "wait until approvers decide them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to say %q", err, want)
		}
	}
	if err := l.take("carol", "carol@example.com", 2); err != nil {
		t.Errorf("a third pending review: %v", err)
	}
	// An hour on, only carol, who just opened one, is remembered.
	if _, ok := l.opened["alice"]; ok || len(l.opened) != 1 {
		t.Errorf("identities remembered after an hour idle: %v", l.opened)
	}
}

// reviewsGateway is a Gateway with what reviews need: the shared example policy (approvers:
// dba) and no store.
func reviewsGateway(t *testing.T) *Gateway {
	t.Helper()
	g := testGateway(t, io.Discard)
	g.cfg = &config.Config{PublicURL: "https://hoop.example.com"}
	g.reviews = newReviews(g, 0, 0)
	return g
}

// holdDetached opens a review of sql for who as hoop exec --wait 0 does, and returns its id.
func holdDetached(t *testing.T, g *Gateway, who identity.Identity, sql string) (string, error) {
	t.Helper()
	h := &sessionHolder{g: g, who: who, connection: "db-prod", params: func(sql string, ps []postgres.Param) []*string { return maskParams(nil, sql, ps) }}
	st := postgres.HeldStatement{SQL: sql, Reason: "held by rule engineers-read-prod: write statements on db-prod need an approval",
		HoldOptions: postgres.HoldOptions{Detach: true}}
	id, err := h.Hold(context.Background(), st, func(string) {})
	if pe := (*postgres.ReviewPendingError)(nil); errors.As(err, &pe) {
		return id, nil
	}
	return id, err
}

// TestReviewOpenLimits: the limits hold on the gateway's path: a held statement over the
// pending limit is refused with SQLSTATE 53400's error, saying so; once one is decided,
// the next opens.
func TestReviewOpenLimits(t *testing.T) {
	g := reviewsGateway(t)
	g.reviews.limit = newReviewLimiter(2, 100, time.Now)
	alice := identity.Identity{Issuer: "https://idp", Subject: "alice", Email: "alice@example.com", Groups: []string{"engineering"}}
	dana := identity.Identity{Issuer: "https://idp", Subject: "dana", Email: "dana@example.com", Groups: []string{"dba"}}
	first, err := holdDetached(t, g, alice, "delete from orders where id = 1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holdDetached(t, g, alice, "delete from orders where id = 2"); err != nil {
		t.Fatal(err)
	}
	_, err = holdDetached(t, g, alice, "delete from orders where id = 3")
	var le *postgres.LimitError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), "no review was opened: alice@example.com has 2 reviews pending") {
		t.Fatalf("a third pending review: got %v, want a *postgres.LimitError saying why", err)
	}
	if _, err := g.reviews.decide(first, dana, false, "no"); err != nil {
		t.Fatal(err)
	}
	if _, err := holdDetached(t, g, alice, "delete from orders where id = 3"); err != nil {
		t.Errorf("after one was decided: %v", err)
	}
}

// sseReader reads one subscriber's review events.
type sseReader struct {
	mu     sync.Mutex
	events []api.Review
}

func (r *sseReader) add(rv api.Review) {
	r.mu.Lock()
	r.events = append(r.events, rv)
	r.mu.Unlock()
}

func (r *sseReader) all() []api.Review {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]api.Review(nil), r.events...)
}

// states counts the distinct review states seen: a review opened while the stream starts
// may come twice, in the first list of pending reviews and as an event.
func (r *sseReader) states() int {
	seen := make(map[string]bool)
	for _, rv := range r.all() {
		seen[rv.ID+" "+rv.State] = true
	}
	return len(seen)
}

// TestReviewEventsLeakAcrossUsers: the attack is a user who subscribes to GET
// /api/v1/reviews/events and waits: once the gateway forgets decided reviews from memory
// (past its bound), their events used to go to every subscriber, with another user's SQL,
// requester and denial reason. Here two engineers, an analyst and an approver subscribe;
// both engineers open reviews that the approver denies, well past the (lowered) bound so
// that trimming happens mid-stream; each engineer must see only the events of their own
// reviews, the analyst none, and the approver all. An event whose review cannot be
// resolved is sent to nobody.
func TestReviewEventsLeakAcrossUsers(t *testing.T) {
	g := reviewsGateway(t)
	g.reviews.keep = 3
	g.reviews.limit = newReviewLimiter(1000, 1000, time.Now)
	who := map[string]identity.Identity{
		"alice": {Issuer: "https://idp", Subject: "alice", Email: "alice@example.com", Groups: []string{"engineering"}},
		"bob":   {Issuer: "https://idp", Subject: "bob", Email: "bob@example.com", Groups: []string{"engineering"}},
		"ann":   {Issuer: "https://idp", Subject: "ann", Email: "ann@example.com", Groups: []string{"analytics"}},
		"dana":  {Issuer: "https://idp", Subject: "dana", Email: "dana@example.com", Groups: []string{"dba"}},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.handleReviewEvents(w, r, who[r.URL.Query().Get("who")])
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	streams := map[string]*sseReader{}
	var wg sync.WaitGroup
	for name := range who {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"?who="+name, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rd := &sseReader{}
		streams[name] = rd
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
					var rv api.Review
					if err := json.Unmarshal([]byte(data), &rv); err != nil {
						t.Errorf("event data %q: %v", data, err)
						return
					}
					rd.add(rv)
				}
			}
		}()
	}
	// Each subscriber is registered once the handler answered; events from here reach it.
	const each = 12
	for i := range each {
		for _, name := range []string{"alice", "bob"} {
			id, err := holdDetached(t, g, who[name], fmt.Sprintf("delete from orders where note = '%s secret %d'", name, i))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := g.reviews.decide(id, who["dana"], false, "not yours to see: "+name); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := len(g.reviews.list(who["dana"], true)); n != 3 {
		t.Fatalf("decided reviews kept in memory: got %d, want 3 (trimmed)", n)
	}
	// Fail closed: an event whose review is unknown, or another review's, goes to nobody.
	g.reviews.publish(nil, api.Review{ID: "r-unknown", Requester: "mallory@example.com", SQL: "leak"})
	g.reviews.mu.Lock()
	var some *review
	for _, r := range g.reviews.all {
		some = r
	}
	g.reviews.mu.Unlock()
	g.reviews.publish(some, api.Review{ID: "r-other", Requester: "mallory@example.com", SQL: "leak"})
	// Last, a review of ann's own: once her stream has it, it has had every event before.
	sentinel, err := holdDetached(t, g, who["ann"], "delete from orders where note = 'ann'")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"alice": 2 * each, "bob": 2 * each, "ann": 1, "dana": 4*each + 1}
	deadline := time.Now().Add(20 * time.Second)
	for name, n := range want {
		for streams[name].states() < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
	cancel()
	wg.Wait()
	for name, rd := range streams {
		got := rd.all()
		if n := rd.states(); n != want[name] {
			t.Errorf("%s: got %d review states, want %d", name, n, want[name])
		}
		for _, ev := range got {
			switch {
			case ev.Requester == "mallory@example.com" || ev.SQL == "leak":
				t.Errorf("%s got an event of an unresolved review: %+v", name, ev)
			case name != "dana" && ev.Requester != who[name].Email:
				t.Errorf("%s saw %s's review %s (%q, denial %+v)", name, ev.Requester, ev.ID, ev.SQL, ev.Denial)
			}
		}
	}
	if got := streams["ann"].all(); len(got) == 0 || got[0].ID != sentinel {
		t.Errorf("ann's stream: got %+v, want only her own review %s", got, sentinel)
	}
}
