package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
)

// fakeGateway serves the gateway's review API over real HTTP, event stream included, with
// the rules the gateway enforces: approvers only, nobody approves their own request, a
// decided review is a conflict, a denial needs a reason. Tokens name the caller.
type fakeGateway struct {
	t   *testing.T
	srv *httptest.Server
	now time.Time // the reviews' clock: created and expires are relative to it

	mu        sync.Mutex
	reviews   []*api.Review
	posts     []fakePost
	lists     int                               // GET /api/v1/reviews answered
	opened    int                               // event streams opened
	streams   map[chan api.Review]chan struct{} // open event streams: events, and a close to drop it
	connected chan int                          // the number of each event stream that opened (1, 2, …)
	posted    chan fakePost
}

// fakePost is a decision the fake received.
type fakePost struct {
	Path   string // "/api/v1/reviews/r-1/approve"
	Caller string // "dana@example.com"
	Reason string // the body's reason
}

// fakeTokens are the callers the fake knows: dana and alice approve, eve does not.
var fakeTokens = map[string]string{
	"tok-dana":  "dana@example.com",
	"tok-alice": "alice@example.com",
	"tok-eve":   "eve@example.com",
}

var fakeApprovers = []string{"dana@example.com", "alice@example.com"}

func str(s string) *string { return &s }

// fakeReviews are three pending reviews, waiting 26h30m, 5h10m30s and 2h05m30s: long
// enough that "1d02h", "5h10m" and "2h05m" hold while a test runs; and one approved.
func fakeReviews(now time.Time) []*api.Review {
	return []*api.Review{
		{
			ID: "r-1", Kind: api.ReviewStatement, State: api.ReviewPending,
			Requester: "alice@example.com", Groups: []string{"engineering"}, Connection: "db-prod", Session: "s-11",
			SQL:    "UPDATE accounts\n   SET balance = balance - $1, updated_at = now()\n WHERE id = $2 AND owner = $3",
			Params: []*string{str("100"), str("42"), nil}, Class: "write", Rule: "prod-writes-need-review", Reason: "INC-123",
			Created: now.Add(-(2*time.Hour + 5*time.Minute + 30*time.Second)), Expires: now.Add(time.Hour),
			MinApprovals: 1, URL: "https://hoop.example.com/reviews/r-1",
		},
		{
			ID: "r-2", Kind: api.ReviewAccess, State: api.ReviewPending,
			Requester: "bob@example.com", Groups: []string{"sre"}, Connection: "db-prod",
			Rule: "sre-jit", Reason: "INC-456 disk full", Duration: "1h0m0s",
			Created: now.Add(-(26*time.Hour + 30*time.Minute)), Expires: now.Add(30 * time.Minute),
			MinApprovals: 1, URL: "https://hoop.example.com/reviews/r-2",
		},
		{
			ID: "r-3", Kind: api.ReviewStatement, State: api.ReviewPending,
			Requester: "dana@example.com", Groups: []string{"dba"}, Connection: "db-staging", Session: "s-12",
			SQL: "DELETE FROM sessions WHERE expires < now()", Class: "write", Rule: "staging-deletes",
			Created: now.Add(-(5*time.Hour + 10*time.Minute + 30*time.Second)), Expires: now.Add(2 * time.Hour),
			MinApprovals: 2, URL: "https://hoop.example.com/reviews/r-3",
		},
		{
			ID: "r-0", Kind: api.ReviewStatement, State: api.ReviewApproved,
			Requester: "alice@example.com", Groups: []string{"engineering"}, Connection: "db-prod",
			SQL: "TRUNCATE audit_tmp", Class: "write", Rule: "prod-writes-need-review",
			Created: now.Add(-48 * time.Hour), Expires: now.Add(-47 * time.Hour), MinApprovals: 1,
			Approvals: []api.ReviewDecision{{By: "dana@example.com", At: now.Add(-47*time.Hour - 30*time.Minute)}},
		},
	}
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{
		t:         t,
		now:       time.Now().Truncate(time.Second),
		streams:   map[chan api.Review]chan struct{}{},
		connected: make(chan int, 16),
		posted:    make(chan fakePost, 16),
	}
	g.reviews = fakeReviews(g.now)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/reviews", g.auth(g.list))
	mux.HandleFunc("GET /api/v1/reviews/events", g.auth(g.events))
	mux.HandleFunc("GET /api/v1/reviews/{id}", g.auth(g.get))
	mux.HandleFunc("POST /api/v1/reviews/{id}/{decision}", g.auth(g.decide))
	g.srv = httptest.NewServer(mux)
	t.Cleanup(func() {
		g.dropStreams()
		g.srv.Close()
	})
	return g
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Error{Error: msg, Code: code})
}

func (g *fakeGateway) auth(h func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		caller, ok := fakeTokens[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		if !ok {
			fail(w, http.StatusUnauthorized, api.CodeUnauthenticated, "token rejected: run hoop login")
			return
		}
		h(w, r, caller)
	}
}

// visible says whether caller sees r: approvers see all, others their own.
func visible(r *api.Review, caller string) bool {
	return slices.Contains(fakeApprovers, caller) || r.Requester == caller
}

func (g *fakeGateway) list(w http.ResponseWriter, r *http.Request, caller string) {
	state := r.URL.Query().Get("state")
	if state != "pending" && state != "all" {
		fail(w, http.StatusBadRequest, api.CodeBadRequest, "state: want pending or all")
		return
	}
	g.mu.Lock()
	g.lists++
	out := []api.Review{}
	for _, rv := range g.reviews {
		if visible(rv, caller) && (state == "all" || rv.State == api.ReviewPending) {
			out = append(out, *rv)
		}
	}
	g.mu.Unlock()
	writeJSONBody(w, out)
}

func writeJSONBody(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (g *fakeGateway) find(id string) *api.Review {
	for _, rv := range g.reviews {
		if rv.ID == id {
			return rv
		}
	}
	return nil
}

func (g *fakeGateway) get(w http.ResponseWriter, r *http.Request, caller string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rv := g.find(r.PathValue("id"))
	if rv == nil || !visible(rv, caller) {
		fail(w, http.StatusNotFound, api.CodeNotFound, "no review "+r.PathValue("id"))
		return
	}
	writeJSONBody(w, rv)
}

func (g *fakeGateway) decide(w http.ResponseWriter, r *http.Request, caller string) {
	var answer api.ReviewAnswer
	if err := json.NewDecoder(r.Body).Decode(&answer); err != nil {
		fail(w, http.StatusBadRequest, api.CodeBadRequest, "body: "+err.Error())
		return
	}
	d := r.PathValue("decision")
	if d != "approve" && d != "deny" {
		fail(w, http.StatusNotFound, api.CodeNotFound, "no such decision")
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	p := fakePost{Path: r.URL.Path, Caller: caller, Reason: answer.Reason}
	g.posts = append(g.posts, p)
	select {
	case g.posted <- p:
	default:
	}
	rv := g.find(r.PathValue("id"))
	switch {
	case rv == nil:
		fail(w, http.StatusNotFound, api.CodeNotFound, "no review "+r.PathValue("id"))
	case !slices.Contains(fakeApprovers, caller):
		fail(w, http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("%s may not decide %s: no rule makes you an approver of %s", caller, rv.ID, rv.Connection))
	case rv.Requester == caller:
		fail(w, http.StatusForbidden, api.CodeForbidden, "you may not approve or deny your own request "+rv.ID)
	case rv.State != api.ReviewPending:
		fail(w, http.StatusConflict, "conflict", fmt.Sprintf("%s is %s, no longer pending", rv.ID, rv.State))
	case d == "deny" && strings.TrimSpace(answer.Reason) == "":
		fail(w, http.StatusBadRequest, api.CodeBadRequest, "a denial needs a reason")
	case d == "deny":
		rv.State = api.ReviewDenied
		rv.Denial = &api.ReviewDecision{By: caller, At: g.now, Reason: answer.Reason}
		g.broadcast(*rv)
		writeJSONBody(w, rv)
	default:
		rv.Approvals = append(rv.Approvals, api.ReviewDecision{By: caller, At: g.now, Reason: answer.Reason})
		if len(rv.Approvals) >= rv.MinApprovals {
			rv.State = api.ReviewApproved
		}
		g.broadcast(*rv)
		writeJSONBody(w, rv)
	}
}

// events is the event stream: the pending reviews, a ping, then each change.
func (g *fakeGateway) events(w http.ResponseWriter, r *http.Request, caller string) {
	ch, done := make(chan api.Review, 64), make(chan struct{})
	g.mu.Lock()
	g.streams[ch] = done
	g.opened++
	n := g.opened
	var initial []api.Review
	for _, rv := range g.reviews {
		if rv.State == api.ReviewPending && visible(rv, caller) {
			initial = append(initial, *rv)
		}
	}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.streams, ch)
		g.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	fl := w.(http.Flusher)
	for _, rv := range initial {
		writeEvent(w, rv)
	}
	fmt.Fprint(w, ": ping\n\n")
	fl.Flush()
	select {
	case g.connected <- n:
	default:
	}
	for {
		select {
		case rv := <-ch:
			if visible(&rv, caller) {
				writeEvent(w, rv)
				fl.Flush()
			}
		case <-done:
			return
		case <-r.Context().Done():
			return
		}
	}
}

func writeEvent(w http.ResponseWriter, rv api.Review) {
	data, _ := json.Marshal(rv)
	fmt.Fprintf(w, "event: review\ndata: %s\n\n", data)
}

// broadcast sends a changed review to every open stream; g.mu is held.
func (g *fakeGateway) broadcast(rv api.Review) {
	for ch := range g.streams {
		select {
		case ch <- rv:
		default:
			g.t.Errorf("event stream full: %s dropped", rv.ID)
		}
	}
}

// add creates a pending review and announces it.
func (g *fakeGateway) add(rv api.Review) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.reviews = append(g.reviews, &rv)
	g.broadcast(rv)
}

// withdraw marks a review withdrawn; announce says whether the open streams hear of it.
func (g *fakeGateway) withdraw(id string, announce bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rv := g.find(id)
	if rv == nil {
		g.t.Fatalf("no review %s", id)
	}
	rv.State = api.ReviewWithdrawn
	if announce {
		g.broadcast(*rv)
	}
}

// dropStreams ends every open event stream, as a gateway restart would.
func (g *fakeGateway) dropStreams() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for ch, done := range g.streams {
		close(done)
		delete(g.streams, ch)
	}
}

// dropAndWithdraw drops the streams and withdraws a review in one step, so the clients
// can only learn of it by listing again.
func (g *fakeGateway) dropAndWithdraw(id string) {
	g.mu.Lock()
	for ch, done := range g.streams {
		close(done)
		delete(g.streams, ch)
	}
	g.mu.Unlock()
	g.withdraw(id, false)
}

func (g *fakeGateway) decisions() []fakePost {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.posts)
}

// pending is the pending reviews caller sees, oldest first, as the API has them.
func (g *fakeGateway) pending(caller string) []api.Review {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []api.Review
	for _, rv := range g.reviews {
		if rv.State == api.ReviewPending && visible(rv, caller) {
			out = append(out, *rv)
		}
	}
	sortReviews(out)
	return out
}

// env is the environment of a CLI that talks to the fake as the holder of token.
func (g *fakeGateway) env(token string, extra ...string) Env {
	vars := map[string]string{"HOOP_GATEWAY": g.srv.URL, "HOOP_TOKEN": token}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

// factory is a CLI factory that talks to the fake as the holder of token.
func (g *fakeGateway) factory(token string) *factory {
	return &factory{env: g.env(token), http: g.srv.Client()}
}
