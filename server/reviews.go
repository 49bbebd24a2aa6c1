package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
	"github.com/hoopgw/hoop/store"
)

// reviews holds the statements waiting for approvers and the decisions on them. A review
// lives in memory while it is pending (the session waits on it) and is written to the
// store at every change.
//
// What a review shows and keeps of its statement (its text, parameters, the reasons given)
// is masked by the rules that mask the requester's session record: the store, the audit
// trail, notifications, the API, the TUI and the web page get the masked text, as
// approvers need not be allowed to see the data the statement holds. The exact text the
// session holds is bound to the review by a keyed digest, kept in memory only.
type reviews struct {
	g     *Gateway
	mu    sync.Mutex
	all   map[string]*review
	subs  map[*subscriber]struct{}
	keep  int              // decided reviews kept in memory for GET: maxDoneReviews
	key   []byte           // the key of statement digests, made at start
	limit *reviewLimiter   // reviews opened per identity
	count map[string]int   // pending reviews by requester (grantKey)
	now   func() time.Time // time.Now, or a test's clock
}

type review struct {
	r         api.Review
	requester identity.Identity
	approvers []string      // the groups that may decide
	done      chan struct{} // closed when decided, expired or withdrawn
	timer     *time.Timer
	access    *accessRequest // an access review's grant, made when approved
	// digest binds a statement review to the exact text held (which r.r.SQL shows
	// masked): HMAC-SHA256 under reviews.key.
	digest []byte
	// mask masks what people write about the review (a denial's reason) by the rules of
	// the requester's session; nil masks nothing.
	mask func(string) string
}

type subscriber struct {
	who identity.Identity
	ch  chan api.Review
}

// maxDoneReviews bounds the decided reviews kept in memory for GET; the store has all.
const maxDoneReviews = 1000

func newReviews(g *Gateway, maxPending, perMinute int) *reviews {
	if maxPending <= 0 {
		maxPending = config.DefaultMaxPendingReviews
	}
	if perMinute <= 0 {
		perMinute = config.DefaultMaxReviewsPerMinute
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		panic(fmt.Sprintf("reviews: digest key: %v", err)) // crypto/rand does not fail
	}
	return &reviews{g: g, all: make(map[string]*review), subs: make(map[*subscriber]struct{}), keep: maxDoneReviews, key: key,
		limit: newReviewLimiter(maxPending, perMinute, time.Now), count: make(map[string]int), now: time.Now}
}

// digest is the keyed digest of a held statement's exact text.
func (rs *reviews) digest(sql string) []byte {
	m := hmac.New(sha256.New, rs.key)
	m.Write([]byte(sql))
	return m.Sum(nil)
}

// reviewError is an API refusal of a decision.
type reviewError struct {
	status int
	code   string
	msg    string
}

func (e *reviewError) Error() string { return e.msg }

// HTTPStatus is the status a web page shows the refusal with.
func (e *reviewError) HTTPStatus() int { return e.status }

// sqlText masks a held statement's text as the session's record does.
func (h *sessionHolder) sqlText(sql string) string {
	if h.sql == nil {
		if h.text != nil {
			return h.text(sql)
		}
		return sql
	}
	return h.sql(sql)
}

// sessionHolder holds one session's statements; it implements postgres.Holder.
type sessionHolder struct {
	g          *Gateway
	who        identity.Identity
	connection string
	session    func() string                                   // the session's record id, once it has one
	params     func(sql string, ps []postgres.Param) []*string // masks a statement's parameters for the review
	text       func(string) string                             // masks texts for the review, as the session's record does
	sql        func(string) string                             // masks a statement's text for the review, as the session's record does
	notify     func(level, text string)                        // hoop connect's stderr
}

// Hold implements postgres.Holder.
func (h *sessionHolder) Hold(ctx context.Context, st postgres.HeldStatement, notice func(string)) (string, error) {
	if st.Review != "" {
		if r, err := h.g.reviews.resume(st, h.who); r != nil || err != nil {
			if err != nil {
				return st.Review, err
			}
			return h.wait(ctx, r, st, notice)
		}
	}
	p := h.g.Policy()
	rv := p.Reviews
	if len(rv.Approvers) == 0 {
		return "", &postgres.DeniedError{Reason: st.Reason + "; the policy names no approvers (reviews.approvers), so it is refused"}
	}
	min := max(rv.MinApprovals, 1)
	expires := rv.ExpiresAfter
	if expires <= 0 {
		expires = 30 * time.Minute
	}
	rs := h.g.reviews
	now := rs.now().UTC().Truncate(time.Millisecond)
	id := newID("r")
	mask := h.text
	if mask == nil {
		mask = func(s string) string { return s }
	}
	r := &review{
		r: api.Review{ID: id, Kind: api.ReviewStatement, State: api.ReviewPending, Requester: h.who.String(),
			Groups: nonNil(h.who.Groups), Connection: h.connection, SQL: h.sqlText(st.SQL), Params: h.params(st.SQL, st.Params),
			Rule: ruleOf(st.Reason), Reason: mask(st.Reason), Created: now, Expires: now.Add(expires), MinApprovals: min,
			URL: strings.TrimRight(h.g.cfg.PublicURL, "/") + "/reviews/" + id},
		requester: h.who,
		approvers: slices.Clone(rv.Approvers),
		done:      make(chan struct{}),
		digest:    rs.digest(st.SQL),
		mask:      mask,
	}
	if h.session != nil {
		r.r.Session = h.session()
	}
	r.r.Class = st.Class
	if err := rs.open(r); err != nil {
		if le := (*reviewLimitError)(nil); errors.As(err, &le) {
			return "", postgres.TooManyReviews(mask(st.Reason) + "; no review was opened: " + le.msg)
		}
		return "", &postgres.DeniedError{Reason: st.Reason + "; the gateway could not open a review: " + err.Error()}
	}
	msg := fmt.Sprintf("hoop: %s. Review %s waits for an approver (%s): %s — cancel the statement to withdraw it", st.Reason, id, strings.Join(rv.Approvers, ", "), r.r.URL)
	if st.Detach || st.Wait > 0 {
		msg = fmt.Sprintf("hoop: %s. Review %s waits for an approver (%s): %s", st.Reason, id, strings.Join(rv.Approvers, ", "), r.r.URL)
	}
	notice(msg)
	if h.notify != nil {
		h.notify("info", fmt.Sprintf("review %s: %s waits for an approval: %s", id, oneLine(r.r.SQL, 80), r.r.URL))
	}
	return h.wait(ctx, r, st, notice)
}

// wait waits for a review's decision as the client asked: not at all (the review stays
// open), up to a limit (then it stays open), or until decided or cancelled (withdrawn).
func (h *sessionHolder) wait(ctx context.Context, r *review, st postgres.HeldStatement, notice func(string)) (string, error) {
	rs := h.g.reviews
	id := r.r.ID
	decided := false
	select {
	case <-r.done:
		decided = true
	default:
	}
	if st.Detach && !decided {
		return id, &postgres.ReviewPendingError{ID: id, URL: r.r.URL, Why: "is waiting for an approver"}
	}
	var timeout <-chan time.Time
	if st.Wait > 0 {
		t := time.NewTimer(st.Wait)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-r.done:
	case <-timeout:
		return id, &postgres.ReviewPendingError{ID: id, URL: r.r.URL, Why: fmt.Sprintf("is still waiting after %s", st.Wait)}
	case <-ctx.Done():
		if st.Wait > 0 {
			// hoop exec gave up: its review stays open for a later --review.
			return id, &postgres.ReviewPendingError{ID: id, URL: r.r.URL, Why: "is waiting for an approver"}
		}
		rs.finish(r, api.ReviewWithdrawn, nil, "withdrawn: the statement was cancelled or its session ended")
		<-r.done
	}
	expires := r.r.Expires.Sub(r.r.Created).Round(time.Second)
	rs.mu.Lock()
	state := r.r.State
	var who, why string
	if r.r.Denial != nil {
		who, why = r.r.Denial.By, r.r.Denial.Reason
	}
	rs.mu.Unlock()
	switch state {
	case api.ReviewApproved:
		rs.finish(r, api.ReviewUsed, nil, "")
		if h.notify != nil {
			h.notify("info", fmt.Sprintf("review %s approved: the statement runs", id))
		}
		return id, nil
	case api.ReviewDenied:
		return id, &postgres.DeniedError{Reason: fmt.Sprintf("review %s was denied by %s: %s", id, who, why)}
	case api.ReviewExpired:
		return id, &postgres.DeniedError{Reason: fmt.Sprintf("review %s expired: no decision within %s", id, expires)}
	case api.ReviewUsed:
		return id, &postgres.DeniedError{Reason: fmt.Sprintf("review %s approved one run of the statement, and it has run", id)}
	}
	return id, &postgres.DeniedError{Reason: fmt.Sprintf("review %s was withdrawn", id)}
}

// resume finds the review a statement names (hoop exec --review): it must be the same
// requester's, for the exact same text, and not spent. It returns nil, nil when the
// review is unknown here: a new one is opened.
func (rs *reviews) resume(st postgres.HeldStatement, who identity.Identity) (*review, error) {
	rs.mu.Lock()
	r, ok := rs.all[st.Review]
	rs.mu.Unlock()
	switch {
	case !ok:
		return nil, &postgres.DeniedError{Reason: fmt.Sprintf("review %s is not known to this gateway (pending reviews do not survive a restart)", st.Review)}
	case !r.requester.Same(who):
		return nil, &postgres.DeniedError{Reason: fmt.Sprintf("review %s was asked for by another identity", st.Review)}
	case r.r.Kind != api.ReviewStatement || !hmac.Equal(r.digest, rs.digest(st.SQL)):
		// Another statement of the script: it gets a review of its own.
		return nil, nil
	}
	return r, nil
}

// ruleOf picks the rule's name out of a decision's reason: "held by rule X: …".
func ruleOf(reason string) string {
	for _, p := range []string{"held by rule ", "denied by rule ", "allowed by rule "} {
		if rest, ok := strings.CutPrefix(reason, p); ok {
			name, _, _ := strings.Cut(rest, ":")
			return name
		}
	}
	return ""
}

func oneLine(s string, n int) string { return truncate(strings.Join(strings.Fields(s), " "), n) }

// open records a new review and tells the approvers, within the requester's limits
// (a *reviewLimitError beyond them). r.r's texts are masked already.
func (rs *reviews) open(r *review) error {
	key := grantKey(r.requester)
	rs.mu.Lock()
	if err := rs.limit.take(key, r.r.Requester, rs.count[key]); err != nil {
		rs.mu.Unlock()
		rs.g.audit("review.refused", r.r.Requester, r.r.Connection, r.r.Session, map[string]any{"kind": r.r.Kind, "why": err.Error()})
		return err
	}
	rs.count[key]++ // held now: a concurrent open of the same identity counts it
	rs.mu.Unlock()
	if err := rs.persist(r.r); err != nil {
		rs.mu.Lock()
		rs.uncount(key)
		rs.mu.Unlock()
		return err
	}
	rs.mu.Lock()
	rs.all[r.r.ID] = r
	r.timer = time.AfterFunc(time.Until(r.r.Expires), func() { rs.finish(r, api.ReviewExpired, nil, "") })
	rs.mu.Unlock()
	rs.g.audit("review.open", r.r.Requester, r.r.Connection, r.r.Session, map[string]any{"review": r.r.ID, "sql": truncate(r.r.SQL, 1000),
		"rule": r.r.Rule, "expires": r.r.Expires.Format(time.RFC3339)})
	rs.publish(r, r.r)
	if rs.g.notifyReview != nil {
		rs.g.notifyReview(r.r)
	}
	return nil
}

// uncount forgets one pending review of the identity key; the caller holds mu.
func (rs *reviews) uncount(key string) {
	if rs.count[key]--; rs.count[key] <= 0 {
		delete(rs.count, key)
	}
}

// finish moves a review to a final state once: approved, denied, expired, withdrawn, or
// used after approved. It returns the review as it left it, and whether it did.
func (rs *reviews) finish(r *review, state string, d *api.ReviewDecision, why string) (api.Review, bool) {
	rs.mu.Lock()
	cur := r.r.State
	ok := cur == api.ReviewPending || (state == api.ReviewUsed && cur == api.ReviewApproved)
	if !ok {
		snap := r.r
		rs.mu.Unlock()
		return snap, false
	}
	r.r.State = state
	if cur == api.ReviewPending {
		rs.uncount(grantKey(r.requester))
	}
	if state == api.ReviewDenied {
		r.r.Denial = d
	}
	if state != api.ReviewUsed {
		r.timer.Stop()
		close(r.done)
	}
	snap := r.r
	rs.trim()
	rs.mu.Unlock()
	if state == api.ReviewApproved {
		rs.g.granted(r)
	}
	if err := rs.persist(snap); err != nil {
		rs.g.log.Error("review record", "review", snap.ID, "err", err)
	}
	data := map[string]any{"review": snap.ID, "state": state}
	actor := snap.Requester
	if d != nil {
		actor, data["reason"] = d.By, d.Reason
	}
	if why != "" {
		data["why"] = why
	}
	rs.g.audit("review."+state, actor, snap.Connection, snap.Session, data)
	rs.publish(r, snap)
	return snap, true
}

// trim forgets the oldest decided reviews beyond rs.keep; the caller holds mu.
func (rs *reviews) trim() {
	var done []*review
	for _, r := range rs.all {
		// An approved statement review is still to run; an approved access review lives
		// on as its grant (Gateway.grants).
		if r.r.State != api.ReviewPending && (r.r.State != api.ReviewApproved || r.r.Kind == api.ReviewAccess) {
			done = append(done, r)
		}
	}
	if len(done) <= rs.keep {
		return
	}
	sort.Slice(done, func(i, j int) bool { return done[i].r.Created.Before(done[j].r.Created) })
	for _, r := range done[:len(done)-rs.keep] {
		delete(rs.all, r.r.ID)
	}
}

func (rs *reviews) persist(r api.Review) error {
	if rs.g.store == nil {
		return nil
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return rs.g.store.PutReview(ctx, &store.Review{ID: r.ID, State: r.State, Requester: r.Requester, Connection: r.Connection,
		CreatedAt: r.Created, Data: string(b)})
}

// decide records who answers a review, and how. An approver is in the review's approver
// groups and is not the requester; an approval counts once per approver.
func (rs *reviews) decide(id string, who identity.Identity, approve bool, reason string) (api.Review, error) {
	rs.mu.Lock()
	r, ok := rs.all[id]
	if !ok {
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no pending review %q", id)}
	}
	switch {
	case r.r.State != api.ReviewPending:
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusConflict, "conflict", fmt.Sprintf("review %s is %s, not pending", id, r.r.State)}
	case who.Workload != "":
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("%s is a workload identity (%s): only people decide reviews", who, who.Workload)}
	case r.requester.Same(who):
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("%s asked for review %s: nobody approves or denies their own request", who, id)}
	case !anyIn(who.Groups, r.approvers):
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusForbidden, api.CodeForbidden, fmt.Sprintf("%s may not decide review %s: approvers are groups %s (yours: %s)", who, id, groupList(r.approvers), groupList(who.Groups))}
	case !approve && strings.TrimSpace(reason) == "":
		rs.mu.Unlock()
		return api.Review{}, &reviewError{http.StatusBadRequest, api.CodeBadRequest, "a denial needs a reason"}
	}
	if r.mask != nil {
		// What an approver writes is kept as the requester's session would keep it.
		reason = r.mask(reason)
	}
	d := &api.ReviewDecision{By: who.String(), At: rs.now().UTC().Truncate(time.Millisecond), Reason: reason}
	if !approve {
		rs.mu.Unlock()
		snap, _ := rs.finish(r, api.ReviewDenied, d, "")
		return snap, nil
	}
	for _, a := range r.r.Approvals {
		if a.By == d.By {
			rs.mu.Unlock()
			return api.Review{}, &reviewError{http.StatusConflict, "conflict", fmt.Sprintf("%s already approved review %s; it needs %d distinct approvers", d.By, id, r.r.MinApprovals)}
		}
	}
	r.r.Approvals = append(r.r.Approvals, *d)
	enough := len(r.r.Approvals) >= r.r.MinApprovals
	snap := r.r
	rs.mu.Unlock()
	if enough {
		snap, _ = rs.finish(r, api.ReviewApproved, nil, "")
	} else {
		if err := rs.persist(snap); err != nil {
			rs.g.log.Error("review record", "review", id, "err", err)
		}
		rs.g.audit("review.approval", d.By, snap.Connection, snap.Session, map[string]any{"review": id, "approvals": len(snap.Approvals), "needed": snap.MinApprovals})
		rs.publish(r, snap)
	}
	return snap, nil
}

// visible reports whether who may see a review: its requester, and the approvers the
// policy named for it. Every way a review reaches someone (the list, one review, the web
// page, the event stream) asks this; a nil review is seen by nobody.
func (r *review) visible(who identity.Identity) bool {
	return r != nil && (r.requester.Same(who) || anyIn(who.Groups, r.approvers))
}

// list returns the reviews who may see, oldest first: pending ones, or all it remembers.
func (rs *reviews) list(who identity.Identity, all bool) []api.Review {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	out := []api.Review{}
	for _, r := range rs.all {
		if r.visible(who) && (all || r.r.State == api.ReviewPending) {
			out = append(out, r.r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out
}

// publish sends snap, a state of rv, to the event streams that may see rv; a stream too
// slow to keep up is dropped (its client reconnects and lists again). Visibility comes
// from rv itself, not from the reviews kept in memory, which may have forgotten it (trim).
func (rs *reviews) publish(rv *review, snap api.Review) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	for s := range rs.subs {
		if rv == nil || rv.r.ID != snap.ID || !rv.visible(s.who) {
			continue
		}
		select {
		case s.ch <- snap:
		default:
			delete(rs.subs, s)
			close(s.ch)
		}
	}
}

func (g *Gateway) handleReviews(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	state := r.URL.Query().Get("state")
	if state != "" && state != "pending" && state != "all" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "state: want pending or all")
		return
	}
	writeJSON(w, http.StatusOK, g.reviews.list(id, state == "all"))
}

// visibleTo returns a review who may see: its requester and its approvers.
func (rs *reviews) visibleTo(id string, who identity.Identity) (api.Review, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	r, ok := rs.all[id]
	if !ok || !r.visible(who) {
		return api.Review{}, &reviewError{http.StatusNotFound, api.CodeNotFound, fmt.Sprintf("no review %q", id)}
	}
	return r.r, nil
}

func (g *Gateway) handleReview(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	rv, err := g.reviews.visibleTo(r.PathValue("id"), id)
	if err != nil {
		writeReviewError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rv)
}

func writeReviewError(w http.ResponseWriter, err error) {
	var re *reviewError
	if errors.As(err, &re) {
		writeError(w, re.status, re.code, re.msg)
		return
	}
	writeError(w, http.StatusInternalServerError, "", err.Error())
}

func (g *Gateway) handleDecide(approve bool) func(http.ResponseWriter, *http.Request, identity.Identity) {
	return func(w http.ResponseWriter, r *http.Request, id identity.Identity) {
		var ans api.ReviewAnswer
		if r.ContentLength != 0 {
			if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&ans); err != nil {
				writeError(w, http.StatusBadRequest, api.CodeBadRequest, "body: want {\"reason\": \"…\"}: "+err.Error())
				return
			}
		}
		rv, err := g.reviews.decide(r.PathValue("id"), id, approve, ans.Reason)
		if err != nil {
			writeReviewError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, rv)
	}
}

// handleReviewEvents streams server-sent events: the pending reviews the caller may see,
// then every change.
func (g *Gateway) handleReviewEvents(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, "", "streaming unsupported")
		return
	}
	sub := &subscriber{who: id, ch: make(chan api.Review, 256)}
	g.reviews.mu.Lock()
	g.reviews.subs[sub] = struct{}{}
	g.reviews.mu.Unlock()
	defer func() {
		g.reviews.mu.Lock()
		if _, ok := g.reviews.subs[sub]; ok {
			delete(g.reviews.subs, sub)
			close(sub.ch)
		}
		g.reviews.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	fl.Flush() // the client knows it is connected before the first event
	send := func(rv api.Review) bool {
		b, _ := json.Marshal(rv)
		_, err := fmt.Fprintf(w, "event: review\ndata: %s\n\n", b)
		fl.Flush()
		return err == nil
	}
	for _, rv := range g.reviews.list(id, false) {
		if !send(rv) {
			return
		}
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case rv, ok := <-sub.ch:
			if !ok || !send(rv) {
				return
			}
		case <-ping.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

// withdrawStaleReviews marks the reviews a previous run left pending as withdrawn: the
// sessions that waited on them are gone.
func (g *Gateway) withdrawStaleReviews() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stale, err := g.store.Reviews(ctx, api.ReviewPending, 100000)
	if err != nil {
		return err
	}
	for _, s := range stale {
		var r api.Review
		if err := json.Unmarshal([]byte(s.Data), &r); err != nil {
			r = api.Review{ID: s.ID, Requester: s.Requester, Connection: s.Connection, Created: s.CreatedAt}
		}
		r.State = api.ReviewWithdrawn
		if err := g.reviews.persist(r); err != nil {
			return err
		}
		g.audit("review.withdrawn", r.Requester, r.Connection, r.Session, map[string]any{"review": r.ID, "why": "gateway-restart"})
	}
	return nil
}
