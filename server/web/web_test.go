package web

import (
	"context"
	"encoding/base64"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/server/identity"
)

func TestSignInShowsReview(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "UPDATE accounts SET plan = $1 WHERE id = $2"))
	u := e.newUser(t)
	u.login("r-1", "dana")

	pg := u.get("/reviews/r-1")
	if pg.status != http.StatusOK {
		t.Fatalf("GET /reviews/r-1: status %d, want 200: %.300s", pg.status, pg.body)
	}
	for _, want := range []string{
		"Signed in as dana@example.com",
		"alice@example.com", "engineering", "db-prod", "writes-need-review", "INC-123",
		html.EscapeString("UPDATE accounts SET plan = $1 WHERE id = $2"),
		"<code>42</code>", "NULL",
		"0 of 1", "waiting for 3 minutes", "(in 2", // expires in 26 or 27 minutes
		`id="approve"`, `id="deny"`,
	} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("review page lacks %q", want)
		}
	}

	// The session cookie: HttpOnly, SameSite=Lax, not Secure on http, until the token expires.
	set := e.cookies.find(sessionCookie)
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="} {
		if !strings.Contains(set, want) {
			t.Errorf("session Set-Cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("session Set-Cookie %q is Secure on an http PublicURL", set)
	}
	// The login cookie is single-use: /callback clears it.
	if got := e.cookies.find(loginCookie); !strings.Contains(got, "Max-Age=0") {
		t.Errorf("login Set-Cookie at /callback = %q, want it cleared", got)
	}
}

func TestLoginRedirect(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "DELETE FROM t"))
	u := e.newUser(t)
	resp := u.get("/reviews/r-1")
	if resp.status != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.status)
	}
	loc, err := url.Parse(resp.location)
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	if got, want := loc.Scheme+"://"+loc.Host+loc.Path, e.url+"/oidc/authorize"; got != want {
		t.Errorf("redirect to %q, want %q", got, want)
	}
	for k, want := range map[string]string{
		"client_id":             "hoop-cli",
		"redirect_uri":          e.url + "/callback",
		"response_type":         "code",
		"code_challenge_method": "S256",
		"scope":                 "openid email profile groups",
	} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(k) == "" {
			t.Errorf("authorization URL has no %s", k)
		}
	}
}

func TestCookieSigning(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)
	s := signer{key: deriveKey(testKey, "cookies")}
	want := session{ID: "sid", Who: identity.Identity{Subject: "dana", Email: "dana@example.com", Groups: []string{"dba"}}}
	good, err := s.seal(sessionCookie, now.Add(time.Hour), want)
	if err != nil {
		t.Fatal(err)
	}
	var got session
	if err := s.open(sessionCookie, good, now, &got); err != nil {
		t.Fatalf("open a good cookie: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}

	payload, sig, _ := strings.Cut(good, ".")
	forged := strings.Replace(decode(t, payload), "dana", "root", -1)
	other, _ := signer{key: deriveKey([]byte("another key, 32 bytes long......"), "cookies")}.seal(sessionCookie, now.Add(time.Hour), want)
	login, _ := s.seal(loginCookie, now.Add(time.Hour), want)
	for _, tc := range []struct {
		name, value string
		now         time.Time
		want        error
	}{
		{"forged payload, old signature", base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig, now, errCookieTampered},
		{"signature cut", payload + "." + sig[:10], now, errCookieTampered},
		{"no signature", payload, now, errCookieTampered},
		{"empty", "", now, errCookieTampered},
		{"signed with another key", other, now, errCookieTampered},
		{"another cookie's value", login, now, errCookieTampered},
		{"expired", good, now.Add(time.Hour), errCookieExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v session
			if err := s.open(sessionCookie, tc.value, tc.now, &v); !errors.Is(err, tc.want) {
				t.Errorf("open: got %v, want %v", err, tc.want)
			}
		})
	}
}

func decode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A forged session cookie is no session: GET signs in again, POST is refused.
func TestTamperedSessionRefused(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "DELETE FROM t"))
	u := e.newUser(t)
	u.login("r-1", "alice")
	token := u.csrf("r-1")

	payload, sig, _ := strings.Cut(u.sessionCookie().Value, ".")
	forged := strings.Replace(decode(t, payload), `"engineering"`, `"dba"`, 1)
	forged = strings.Replace(forged, "alice", "dana", -1)
	u.setSessionCookie(base64.RawURLEncoding.EncodeToString([]byte(forged)) + "." + sig)

	if resp := u.get("/reviews/r-1"); resp.status != http.StatusFound || !strings.Contains(resp.location, "/oidc/authorize") {
		t.Errorf("GET with a forged session: status %d to %q, want 302 to the IdP", resp.status, resp.location)
	}
	resp := u.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"approve"}}, nil)
	if resp.status != http.StatusForbidden {
		t.Errorf("POST with a forged session: status %d, want 403", resp.status)
	}
	if calls := e.reviews.decisions(); len(calls) != 0 {
		t.Errorf("Decide called with a forged session: %+v", calls)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "DELETE FROM t"), pendingReview("r-2", "DELETE FROM u"))
	dana := e.newUser(t)
	dana.login("r-1", "dana")
	token := dana.csrf("r-1")
	other := dana.csrf("r-2")
	// Another sign-in of the same person has its own session id, so its own tokens.
	again := e.newUser(t)
	again.login("r-1", "dana")
	stale := again.csrf("r-1")

	for _, tc := range []struct {
		name    string
		csrf    string
		headers map[string]string
	}{
		{"no token", "", nil},
		{"garbage", "not-a-token", nil},
		{"token of another review", other, nil},
		{"token of another session", stale, nil},
		{"right token, foreign Origin", token, map[string]string{"Origin": "http://evil.example"}},
		{"right token, Origin null", token, map[string]string{"Origin": "null"}},
		{"right token, foreign Referer", token, map[string]string{"Referer": "http://evil.example/reviews/r-1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := dana.post("/reviews/r-1", url.Values{"csrf": {tc.csrf}, "action": {"approve"}}, tc.headers)
			if resp.status != http.StatusForbidden {
				t.Errorf("status %d, want 403", resp.status)
			}
			if !strings.Contains(resp.body, "refused") {
				t.Errorf("page does not say the request was refused: %.300s", resp.body)
			}
		})
	}
	if calls := e.reviews.decisions(); len(calls) != 0 {
		t.Fatalf("Decide called by refused POSTs: %+v", calls)
	}

	resp := dana.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"approve"}}, map[string]string{"Origin": e.url, "Referer": e.url + "/reviews/r-1"})
	if resp.status != http.StatusSeeOther || resp.location != "/reviews/r-1" {
		t.Fatalf("POST with the right token: status %d to %q, want 303 to /reviews/r-1: %.300s", resp.status, resp.location, resp.body)
	}
	want := []decideCall{{ID: "r-1", Who: "dana@example.com", Approve: true}}
	if diff := cmp.Diff(want, e.reviews.decisions()); diff != "" {
		t.Errorf("Decide calls (-want +got):\n%s", diff)
	}
	pg := dana.get("/reviews/r-1")
	if !strings.Contains(pg.body, "Approved by dana@example.com — the statement runs.") {
		t.Errorf("page after approving lacks the result: %.500s", pg.body)
	}
	if strings.Contains(pg.body, `id="approve"`) {
		t.Error("page of an approved review still offers Approve")
	}
	// The flash shows once.
	if pg := dana.get("/reviews/r-1"); strings.Contains(pg.body, `id="flash"`) {
		t.Error("the result shows again on reload")
	}
}

func TestEscaping(t *testing.T) {
	const evil = `<script>alert("x")</script>`
	rv := pendingReview("r-1", "SELECT '"+evil+"'")
	rv.Reason = evil
	rv.Rule = evil
	rv.Connection = evil
	rv.Groups = []string{evil}
	p := `<img src=x onerror=alert(1)>`
	rv.Params = []*string{&p}
	e := newEnv(t, rv)
	u := e.newUser(t)
	u.login("r-1", "dana")
	pg := u.get("/reviews/r-1")
	if pg.status != http.StatusOK {
		t.Fatalf("status %d", pg.status)
	}
	if strings.Contains(pg.body, "<script") || strings.Contains(pg.body, "<img") {
		t.Errorf("page holds unescaped markup: %s", pg.body)
	}
	for _, want := range []string{
		`<pre id="sql">SELECT &#39;&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&#39;</pre>`,
		`<code>&lt;img src=x onerror=alert(1)&gt;</code>`,
	} {
		if !strings.Contains(pg.body, want) {
			t.Errorf("page lacks %s", want)
		}
	}
}

func TestInvisibleReviewNotFound(t *testing.T) {
	secret := pendingReview("r-secret", "SELECT secret FROM vault")
	secret.Requester = "carl@example.com"
	e := newEnv(t, secret)
	u := e.newUser(t)
	u.login("r-secret", "alice") // neither the requester nor an approver

	for _, path := range []string{"/reviews/r-secret", "/reviews/r-missing", "/reviews/..%2Fetc", "/reviews/"} {
		pg := u.get(path)
		if pg.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, pg.status)
		}
		if strings.Contains(pg.body, "vault") || strings.Contains(pg.body, "carl") {
			t.Errorf("GET %s shows the review: %s", path, pg.body)
		}
		if !strings.Contains(pg.body, "Review not found") {
			t.Errorf("GET %s: not the not-found page: %.300s", path, pg.body)
		}
	}
	// A token for the invisible review is easy to make for its own session; still 404.
	token := e.handler.csrfToken(sessionID(t, u), "r-secret")
	if resp := u.post("/reviews/r-secret", url.Values{"csrf": {token}, "action": {"approve"}}, nil); resp.status != http.StatusNotFound {
		t.Errorf("POST on an invisible review: status %d, want 404", resp.status)
	}
	if calls := e.reviews.decisions(); len(calls) != 0 {
		t.Errorf("Decide called for an invisible review: %+v", calls)
	}
}

// sessionID opens the user's session cookie.
func sessionID(t *testing.T, u *user) string {
	t.Helper()
	var s session
	if err := u.env.handler.cookies.open(sessionCookie, u.sessionCookie().Value, time.Now(), &s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func TestDecideRefusals(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "DELETE FROM t"))
	alice := e.newUser(t)
	alice.login("r-1", "alice")
	token := alice.csrf("r-1")

	resp := alice.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"approve"}}, map[string]string{"Origin": e.url})
	if resp.status != http.StatusForbidden {
		t.Errorf("self-approval: status %d, want 403", resp.status)
	}
	if want := "alice@example.com asked for review r-1: nobody approves or denies their own request"; !strings.Contains(resp.body, want) {
		t.Errorf("self-approval page lacks %q: %.500s", want, resp.body)
	}

	resp = alice.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"deny"}, "reason": {"  "}}, nil)
	if resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "A reason is required to deny") {
		t.Errorf("deny without a reason: status %d, want 400 and the reason asked for: %.500s", resp.status, resp.body)
	}
	resp = alice.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"launch"}}, nil)
	if resp.status != http.StatusBadRequest {
		t.Errorf("unknown action: status %d, want 400", resp.status)
	}
	want := []decideCall{{ID: "r-1", Who: "alice@example.com", Approve: true}}
	if diff := cmp.Diff(want, e.reviews.decisions()); diff != "" {
		t.Errorf("Decide calls (-want +got):\n%s", diff)
	}

	dana := e.newUser(t)
	dana.login("r-1", "dana")
	token = dana.csrf("r-1")
	resp = dana.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"deny"}, "reason": {"not during the freeze"}}, nil)
	if resp.status != http.StatusSeeOther {
		t.Fatalf("deny: status %d, want 303: %.500s", resp.status, resp.body)
	}
	pg := dana.get("/reviews/r-1")
	if want := "Denied by dana@example.com — the statement does not run. Reason: not during the freeze"; !strings.Contains(pg.body, want) {
		t.Errorf("page after denying lacks %q: %.800s", want, pg.body)
	}
	// Deciding twice: the gateway's conflict, with its status.
	resp = dana.post("/reviews/r-1", url.Values{"csrf": {token}, "action": {"approve"}}, nil)
	if resp.status != http.StatusConflict || !strings.Contains(resp.body, "review r-1 is denied, not pending") {
		t.Errorf("approve a denied review: status %d, want 409 and the message: %.500s", resp.status, resp.body)
	}
}

func TestCallbackRefusesStrangers(t *testing.T) {
	e := newEnv(t, pendingReview("r-1", "DELETE FROM t"))
	u := e.newUser(t)
	if resp := u.get("/callback?state=x&code=y"); resp.status != http.StatusBadRequest || !strings.Contains(resp.body, "sign-in has expired") {
		t.Errorf("callback without a login cookie: status %d, want 400: %.300s", resp.status, resp.body)
	}
	// A real login cookie, but the state of someone else's sign-in.
	if resp := u.get("/reviews/r-1"); resp.status != http.StatusFound {
		t.Fatalf("status %d, want 302", resp.status)
	}
	if resp := u.get("/callback?state=someone-else&code=y"); resp.status != http.StatusBadRequest {
		t.Errorf("callback with a wrong state: status %d, want 400", resp.status)
	}
	if resp := u.get("/reviews/r-1"); resp.status != http.StatusFound {
		t.Errorf("after a refused callback: status %d, want 302 to sign in again", resp.status)
	}
}

func TestUnknownPaths(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
		{http.MethodGet, "/reviews/a/b", http.StatusNotFound},
		{http.MethodPost, "/callback", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/reviews/r-1", http.StatusMethodNotAllowed},
	} {
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, nil))
		if w.Code != tc.want || !strings.Contains(w.Body.String(), "<h1>") {
			t.Errorf("%s %s: status %d, want %d and a page: %.200s", tc.method, tc.path, w.Code, tc.want, w.Body.String())
		}
	}
}

func TestNewConfig(t *testing.T) {
	ok := Config{
		PublicURL: "https://hoop.example.com/", Issuer: "https://idp.example.com", ClientID: "hoop-cli",
		Verify: func(context.Context, string) (identity.Identity, error) { return identity.Identity{}, nil },
		Review: func(string, identity.Identity) (api.Review, error) { return api.Review{}, nil },
		Decide: func(string, identity.Identity, bool, string) (api.Review, error) { return api.Review{}, nil },
		Key:    testKey,
	}
	if h, err := New(ok); err != nil {
		t.Fatalf("New: %v", err)
	} else if !h.secure || h.public != "https://hoop.example.com" || h.origin != "https://hoop.example.com" {
		t.Errorf("New(%q): secure %v, public %q, origin %q", ok.PublicURL, h.secure, h.public, h.origin)
	}
	for name, edit := range map[string]func(*Config){
		"no PublicURL":       func(c *Config) { c.PublicURL = "" },
		"relative PublicURL": func(c *Config) { c.PublicURL = "/reviews" },
		"ftp PublicURL":      func(c *Config) { c.PublicURL = "ftp://hoop.example.com" },
		"PublicURL query":    func(c *Config) { c.PublicURL = "https://hoop.example.com/?x=1" },
		"no Issuer":          func(c *Config) { c.Issuer = "" },
		"no ClientID":        func(c *Config) { c.ClientID = "" },
		"no Decide":          func(c *Config) { c.Decide = nil },
		"short Key":          func(c *Config) { c.Key = []byte("short") },
	} {
		c := ok
		edit(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: got %v, want ErrConfig", name, err)
		}
	}
}

// A secure PublicURL with a path: cookies are Secure and scoped under the path.
func TestSecureCookie(t *testing.T) {
	h, err := New(Config{
		PublicURL: "https://hoop.example.com/gw", Issuer: "https://idp.example.com", ClientID: "hoop-cli",
		Verify: func(context.Context, string) (identity.Identity, error) { return identity.Identity{}, nil },
		Review: func(string, identity.Identity) (api.Review, error) { return api.Review{}, nil },
		Decide: func(string, identity.Identity, bool, string) (api.Review, error) { return api.Review{}, nil },
		Key:    testKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	if err := h.setCookie(w, sessionCookie, h.sessionPath(), time.Now().Add(time.Hour), session{ID: "x"}); err != nil {
		t.Fatal(err)
	}
	got := w.Header().Get("Set-Cookie")
	for _, want := range []string{"Path=/gw/", "HttpOnly", "Secure", "SameSite=Lax"} {
		if !strings.Contains(got, want) {
			t.Errorf("Set-Cookie %q lacks %s", got, want)
		}
	}
	if got, want := h.oauth2Config(&oidc.Provider{}).RedirectURL, "https://hoop.example.com/gw/callback"; got != want {
		t.Errorf("redirect URI = %q, want %q", got, want)
	}
	// Behind a proxy that strips /gw, and without it, the routes are the same.
	for _, path := range []string{"/gw/reviews/r-1", "/reviews/r-1"} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, path, nil))
		if w.Code != http.StatusForbidden { // no session
			t.Errorf("POST %s without a session: status %d, want 403", path, w.Code)
		}
	}
}

func TestResult(t *testing.T) {
	dana := identity.Identity{Subject: "dana", Email: "dana@example.com"}
	for _, tc := range []struct {
		rv      api.Review
		approve bool
		reason  string
		want    string
	}{
		{api.Review{Kind: api.ReviewStatement, State: api.ReviewApproved}, true, "", "Approved by dana@example.com — the statement runs."},
		{api.Review{Kind: api.ReviewStatement, State: api.ReviewUsed}, true, "", "Approved by dana@example.com — the statement runs."},
		{api.Review{Kind: api.ReviewAccess, State: api.ReviewApproved, Connection: "db-prod", Duration: "1h0m0s"}, true, "", "Approved by dana@example.com — access to db-prod is granted for 1h0m0s."},
		{api.Review{Kind: api.ReviewStatement, State: api.ReviewDenied}, false, "freeze", "Denied by dana@example.com — the statement does not run. Reason: freeze"},
		{api.Review{Kind: api.ReviewStatement, State: api.ReviewPending, MinApprovals: 2, Approvals: make([]api.ReviewDecision, 1)}, true, "", "Approved by dana@example.com (1 of 2 approvals) — waiting for 1 more approver."},
	} {
		if got := result(tc.rv, dana, tc.approve, tc.reason); got != tc.want {
			t.Errorf("result(%s %s): got %q, want %q", tc.rv.Kind, tc.rv.State, got, tc.want)
		}
	}
}

func TestAgo(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "under a minute"},
		{time.Minute, "1 minute"},
		{27 * time.Minute, "27 minutes"},
		{2*time.Hour + 5*time.Minute, "2 h 5 min"},
		{72 * time.Hour, "3 days"},
	} {
		if got := ago(tc.d); got != tc.want {
			t.Errorf("ago(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
