package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/server/identity"
)

// testKey signs the cookies of the test handlers.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// env is the real dev IdP and the handler on one loopback server, as the gateway mounts
// them: the IdP under /oidc, the pages at /reviews/ and /callback.
type env struct {
	url      string // "http://127.0.0.1:PORT"
	handler  *Handler
	reviews  *fakeReviews
	cookies  *cookieLog
	shutdown func()
}

func newEnv(t *testing.T, reviews ...api.Review) *env {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	base := "http://" + ts.Listener.Addr().String()
	idp, err := devidp.New(devidp.Config{Issuer: base + "/oidc", Users: devidp.DefaultUsers()})
	if err != nil {
		ts.Close()
		t.Fatalf("devidp.New: %v", err)
	}
	verifier := identity.NewVerifier(identity.Config{Issuer: base + "/oidc", Audience: "hoop-cli"})
	fr := newFakeReviews(base, reviews...)
	h, err := New(Config{
		PublicURL: base,
		Issuer:    base + "/oidc",
		ClientID:  "hoop-cli",
		Scopes:    []string{"openid", "email", "profile", "groups"},
		Verify:    verifier.Verify,
		Review:    fr.review,
		Decide:    fr.decide,
		Key:       testKey,
	})
	if err != nil {
		ts.Close()
		t.Fatalf("New: %v", err)
	}
	cl := &cookieLog{}
	mux := http.NewServeMux()
	mux.Handle("/oidc/", idp.Handler())
	mux.Handle("/reviews/", cl.wrapPosts(h))
	mux.Handle("/callback", cl.wrap(h))
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return &env{url: base, handler: h, reviews: fr, cookies: cl, shutdown: ts.Close}
}

// cookieLog records the Set-Cookie headers of the /callback answers, and the Origin
// headers of the POSTs to the review pages.
type cookieLog struct {
	mu      sync.Mutex
	headers []string
	origins []string
}

func (c *cookieLog) wrapPosts(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			c.mu.Lock()
			c.origins = append(c.origins, r.Header.Get("Origin"))
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func (c *cookieLog) postOrigins() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.origins)
}

func (c *cookieLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.headers = append(c.headers, w.Header().Values("Set-Cookie")...)
	})
}

func (c *cookieLog) find(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, h := range slices.Backward(c.headers) {
		if strings.HasPrefix(h, name+"=") {
			return h
		}
	}
	return ""
}

// user is a browser without JavaScript: a cookie jar, and redirects left to the test.
type user struct {
	t      *testing.T
	env    *env
	client *http.Client
}

func (e *env) newUser(t *testing.T) *user {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &user{t: t, env: e, client: &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// login opens review id, is sent to the IdP, signs in as name and comes back.
func (u *user) login(id, name string) {
	u.t.Helper()
	resp := u.get("/reviews/" + id)
	if resp.status != http.StatusFound {
		u.t.Fatalf("GET /reviews/%s without a session: status %d, want 302 to the IdP", id, resp.status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := testbrowser.Login(ctx, u.client, resp.location, name, name+"-dev"); err != nil {
		u.t.Fatalf("sign in as %s: %v", name, err)
	}
}

type response struct {
	status   int
	location string
	body     string
}

func (u *user) get(path string) response {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u.env.url+path, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	return u.do(req)
}

// post sends a form to path with the given headers ("Origin": …).
func (u *user) post(path string, form url.Values, headers map[string]string) response {
	u.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u.env.url+path, strings.NewReader(form.Encode()))
	if err != nil {
		u.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return u.do(req)
}

func (u *user) do(req *http.Request) response {
	u.t.Helper()
	resp, err := u.client.Do(req)
	if err != nil {
		u.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		u.t.Fatalf("%s %s: read: %v", req.Method, req.URL, err)
	}
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(b)}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the review page id.
func (u *user) csrf(id string) string {
	u.t.Helper()
	pg := u.get("/reviews/" + id)
	m := csrfRE.FindStringSubmatch(pg.body)
	if pg.status != http.StatusOK || m == nil {
		u.t.Fatalf("GET /reviews/%s: status %d, no csrf field: %.300s", id, pg.status, pg.body)
	}
	return m[1]
}

// sessionCookie returns the session cookie the jar holds.
func (u *user) sessionCookie() *http.Cookie {
	u.t.Helper()
	base, _ := url.Parse(u.env.url + "/reviews/")
	for _, c := range u.client.Jar.Cookies(base) {
		if c.Name == sessionCookie {
			return c
		}
	}
	u.t.Fatal("no session cookie in the jar")
	return nil
}

func (u *user) setSessionCookie(value string) {
	base, _ := url.Parse(u.env.url + "/")
	u.client.Jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie, Value: value, Path: "/"}})
}

// fakeReviews stands in for the gateway's reviews: alice asks, group dba decides.
type fakeReviews struct {
	mu        sync.Mutex
	reviews   map[string]api.Review
	approvers []string
	calls     []decideCall
}

type decideCall struct {
	ID      string
	Who     string // e-mail
	Approve bool
	Reason  string
}

// refusal is an error of Decide that chooses the page's status, as the gateway's does.
type refusal struct {
	status int
	msg    string
}

func (e *refusal) Error() string   { return e.msg }
func (e *refusal) HTTPStatus() int { return e.status }

func newFakeReviews(base string, rs ...api.Review) *fakeReviews {
	f := &fakeReviews{reviews: map[string]api.Review{}, approvers: []string{"dba"}}
	for _, r := range rs {
		r.URL = base + "/reviews/" + r.ID
		f.reviews[r.ID] = r
	}
	return f
}

// pendingReview is a held statement of alice's, waiting for one approver.
func pendingReview(id, sql string) api.Review {
	now := time.Now().UTC()
	p := "42"
	return api.Review{
		ID: id, Kind: api.ReviewStatement, State: api.ReviewPending,
		Requester: "alice@example.com", Groups: []string{"engineering"},
		Connection: "db-prod", Session: "s-1", SQL: sql, Params: []*string{&p, nil},
		Class: "write", Rule: "writes-need-review", Reason: "INC-123",
		Created: now.Add(-3 * time.Minute), Expires: now.Add(27 * time.Minute), MinApprovals: 1,
	}
}

func (f *fakeReviews) visible(r api.Review, who identity.Identity) bool {
	return r.Requester == who.Email || anyIn(who.Groups, f.approvers)
}

func anyIn(have, want []string) bool {
	return slices.ContainsFunc(have, func(g string) bool { return slices.Contains(want, g) })
}

func (f *fakeReviews) review(id string, who identity.Identity) (api.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.reviews[id]
	if !ok || !f.visible(r, who) {
		return api.Review{}, &refusal{http.StatusNotFound, fmt.Sprintf("no review %q", id)}
	}
	return r, nil
}

func (f *fakeReviews) decide(id string, who identity.Identity, approve bool, reason string) (api.Review, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, decideCall{ID: id, Who: who.Email, Approve: approve, Reason: reason})
	r, ok := f.reviews[id]
	switch {
	case !ok || !f.visible(r, who):
		return api.Review{}, &refusal{http.StatusNotFound, fmt.Sprintf("no review %q", id)}
	case r.State != api.ReviewPending:
		return api.Review{}, &refusal{http.StatusConflict, fmt.Sprintf("review %s is %s, not pending", id, r.State)}
	case r.Requester == who.Email:
		return api.Review{}, &refusal{http.StatusForbidden, fmt.Sprintf("%s asked for review %s: nobody approves or denies their own request", who, id)}
	case !anyIn(who.Groups, f.approvers):
		return api.Review{}, &refusal{http.StatusForbidden, fmt.Sprintf("%s may not decide review %s", who, id)}
	}
	d := api.ReviewDecision{By: who.String(), At: time.Now().UTC(), Reason: reason}
	if approve {
		r.Approvals = append(r.Approvals, d)
		if len(r.Approvals) >= r.MinApprovals {
			r.State = api.ReviewApproved
		}
	} else {
		r.State, r.Denial = api.ReviewDenied, &d
	}
	f.reviews[id] = r
	return r, nil
}

func (f *fakeReviews) decisions() []decideCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}
