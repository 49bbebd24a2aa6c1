package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/server/devidp"
)

const (
	testUser     = "ana"
	testPassword = "ana-dev-password"
	testEmail    = "ana@example.com"
)

// env is a gateway stand-in on 127.0.0.1: the real embedded OIDC provider under
// /oidc/ and the info endpoint.
type env struct {
	srv  *httptest.Server
	info *api.Info

	mu        sync.Mutex
	infoCalls int
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{}
	mux := http.NewServeMux()
	e.srv = httptest.NewServer(mux) // 127.0.0.1
	t.Cleanup(e.srv.Close)
	e.info = &api.Info{
		Issuer:      e.srv.URL + "/oidc",
		ClientID:    "hoop-cli",
		Scopes:      []string{"openid", "email", "profile", "groups", "offline_access"},
		GroupsClaim: "groups",
		Version:     "test",
	}
	p, err := devidp.New(devidp.Config{
		Issuer:   e.info.Issuer,
		ClientID: "hoop-cli",
		Users:    []devidp.User{{Name: testUser, Password: testPassword, Email: testEmail, Groups: []string{"engineering", "dba"}}},
	})
	if err != nil {
		t.Fatalf("devidp.New: %v", err)
	}
	mux.Handle("/oidc/", p.Handler())
	mux.HandleFunc("GET /api/v1/info", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.infoCalls++
		e.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.info)
	})
	return e
}

func (e *env) calls() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.infoCalls
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browserClient is the user's browser: its own cookie jar, bounded requests.
func browserClient(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

// syncBuffer is an io.Writer safe to read while a login writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// claims verifies tok's ID token independently of the package and returns its
// claims.
func claims(t *testing.T, ctx context.Context, e *env, tok *auth.Token) (sub, email string, groups []string) {
	t.Helper()
	p, err := oidc.NewProvider(ctx, e.info.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: e.info.ClientID}).Verify(ctx, tok.IDToken)
	if err != nil {
		t.Fatalf("the returned ID token does not verify: %v", err)
	}
	var c struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if !idt.Expiry.Equal(tok.Expiry) {
		t.Errorf("Expiry: got %v, want the ID token's exp %v", tok.Expiry, idt.Expiry)
	}
	return idt.Subject, c.Email, c.Groups
}

func checkToken(t *testing.T, ctx context.Context, e *env, tok *auth.Token) {
	t.Helper()
	if tok.Issuer != e.info.Issuer {
		t.Errorf("Issuer: got %q, want %q", tok.Issuer, e.info.Issuer)
	}
	if tok.ClientID != e.info.ClientID {
		t.Errorf("ClientID: got %q, want %q", tok.ClientID, e.info.ClientID)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Errorf("got access token %t, refresh token %t, want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	if !tok.Valid(time.Minute) {
		t.Errorf("token not valid for a minute; expiry %v", tok.Expiry)
	}
	sub, email, groups := claims(t, ctx, e, tok)
	if sub != testUser {
		t.Errorf("sub: got %q, want %q", sub, testUser)
	}
	if email != testEmail {
		t.Errorf("email: got %q, want %q", email, testEmail)
	}
	if strings.Join(groups, ",") != "engineering,dba" {
		t.Errorf("groups: got %q, want %q", groups, []string{"engineering", "dba"})
	}
}

// browserLogin logs in with LoginBrowser, the test browser playing the user.
func browserLogin(t *testing.T, ctx context.Context, e *env, out *syncBuffer) *auth.Token {
	t.Helper()
	errc := make(chan error, 1)
	tok, err := auth.LoginBrowser(ctx, e.info, auth.Options{
		Out: out,
		OpenBrowser: func(u string) error {
			go func() { errc <- testbrowser.Login(ctx, browserClient(t), u, testUser, testPassword) }()
			return nil
		},
	})
	if err != nil {
		t.Fatalf("LoginBrowser: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("test browser: %v", err)
	}
	return tok
}

func TestFetchInfo(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	for _, gw := range []string{e.srv.URL, e.srv.URL + "/"} {
		got, err := auth.FetchInfo(ctx, nil, gw)
		if err != nil {
			t.Fatalf("FetchInfo(%q): %v", gw, err)
		}
		if got.Issuer != e.info.Issuer || got.ClientID != e.info.ClientID || got.GroupsClaim != "groups" {
			t.Errorf("FetchInfo(%q): got %+v, want %+v", gw, got, e.info)
		}
	}
}

func TestFetchInfoErrors(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/bad/api/v1/info", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(w).Encode(api.Error{Error: "gateway is starting"})
	})
	mux.HandleFunc("/empty/api/v1/info", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"version":"dev"}`))
	})
	mux.HandleFunc("/garbage/api/v1/info", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`<html>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	tests := []struct {
		path, want string
	}{
		{"/bad", "gateway is starting"},
		{"/empty", "no issuer"},
		{"/garbage", "decode"},
		{"/missing", "404"},
	}
	for _, tt := range tests {
		_, err := auth.FetchInfo(testContext(t), nil, srv.URL+tt.path)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("FetchInfo(%s): got %v, want an error saying %q", tt.path, err, tt.want)
		}
	}
}

func TestLoginBrowser(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := browserLogin(t, ctx, e, &out)
	checkToken(t, ctx, e, tok)

	text := out.String()
	const prefix = "Opening the browser to log in. If it does not open, visit:\n  "
	if !strings.HasPrefix(text, prefix) {
		t.Fatalf("output: got %q, want it to start with %q", text, prefix)
	}
	authURL, err := url.Parse(strings.TrimSpace(strings.TrimPrefix(text, prefix)))
	if err != nil {
		t.Fatal(err)
	}
	q := authURL.Query()
	for key, want := range map[string]string{
		"client_id":             "hoop-cli",
		"response_type":         "code",
		"code_challenge_method": "S256",
		"scope":                 "openid email profile groups offline_access",
	} {
		if got := q.Get(key); got != want {
			t.Errorf("auth URL %s: got %q, want %q", key, got, want)
		}
	}
	for _, key := range []string{"state", "nonce", "code_challenge"} {
		if q.Get(key) == "" {
			t.Errorf("auth URL has no %s", key)
		}
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		t.Fatal(err)
	}
	if redirect.Scheme != "http" || redirect.Hostname() != "127.0.0.1" || redirect.Path != "/callback" || redirect.Port() == "" {
		t.Errorf("redirect_uri: got %q, want http://127.0.0.1:<port>/callback", redirect)
	}
	if strings.Contains(text, tok.IDToken) || strings.Contains(text, tok.RefreshToken) {
		t.Errorf("output shows a token")
	}
}

func TestLoginBrowserOpenFailureIsNotFatal(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	errc := make(chan error, 1)
	tok, err := auth.LoginBrowser(ctx, e.info, auth.Options{
		Out: &out,
		OpenBrowser: func(u string) error {
			// The user copies the printed URL into a browser themselves.
			go func() { errc <- testbrowser.Login(ctx, browserClient(t), u, testUser, testPassword) }()
			return errors.New("no display")
		},
	})
	if err != nil {
		t.Fatalf("LoginBrowser: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("test browser: %v", err)
	}
	if !tok.Valid(0) {
		t.Errorf("token not valid")
	}
	if !strings.Contains(out.String(), "no display") {
		t.Errorf("output %q does not report the browser failure", out.String())
	}
}

// callbackOf returns the loopback redirect URI and the state of an auth URL.
func callbackOf(t *testing.T, authURL string) (redirect, state string) {
	t.Helper()
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("redirect_uri"), u.Query().Get("state")
}

// TestLoginBrowserCallbackErrors drives the loopback callback as a forged or failed
// redirect would: none may yield a token, and the page says why.
func TestLoginBrowserCallbackErrors(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name    string
		query   func(state string) url.Values
		wantErr error
		wantMsg string
	}{
		{
			name: "access denied",
			query: func(state string) url.Values {
				return url.Values{"error": {"access_denied"}, "error_description": {"user said no"}, "state": {state}}
			},
			wantErr: auth.ErrAccessDenied,
			wantMsg: "user said no",
		},
		{
			name:    "wrong state",
			query:   func(string) url.Values { return url.Values{"code": {"stolen"}, "state": {"forged"}} },
			wantErr: auth.ErrStateMismatch,
		},
		{
			name:    "missing state",
			query:   func(string) url.Values { return url.Values{"code": {"stolen"}} },
			wantErr: auth.ErrStateMismatch,
		},
		{
			name:    "forged code",
			query:   func(state string) url.Values { return url.Values{"code": {"forged"}, "state": {state}} },
			wantMsg: "exchange code",
		},
		{
			name:    "other idp error",
			query:   func(state string) url.Values { return url.Values{"error": {"server_error"}, "state": {state}} },
			wantMsg: "server_error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			type page struct {
				status int
				body   string
				err    error
			}
			pages := make(chan page, 1)
			_, err := auth.LoginBrowser(ctx, e.info, auth.Options{
				OpenBrowser: func(u string) error {
					redirect, state := callbackOf(t, u)
					go func() {
						resp, err := browserClient(t).Get(redirect + "?" + tt.query(state).Encode())
						if err != nil {
							pages <- page{err: err}
							return
						}
						defer resp.Body.Close()
						var b bytes.Buffer
						_, err = b.ReadFrom(resp.Body)
						pages <- page{resp.StatusCode, b.String(), err}
					}()
					return nil
				},
			})
			if err == nil {
				t.Fatalf("LoginBrowser: got a token, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("LoginBrowser: got %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("LoginBrowser: got %q, want it to say %q", err, tt.wantMsg)
			}
			p := <-pages
			if p.err != nil {
				t.Fatalf("callback request: %v", p.err)
			}
			if p.status != http.StatusBadRequest || !strings.Contains(p.body, "Login failed") {
				t.Errorf("callback page: got %d %q, want 400 saying the login failed", p.status, p.body)
			}
		})
	}
}

func TestLoginBrowserTimeout(t *testing.T) {
	e := newEnv(t)
	_, err := auth.LoginBrowser(testContext(t), e.info, auth.Options{
		OpenBrowser: func(string) error { return nil }, // the user never comes back
		Timeout:     100 * time.Millisecond,
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("LoginBrowser: got %v, want context.DeadlineExceeded", err)
	}
}

func TestLoginBrowserRejectsNonLoopbackListen(t *testing.T) {
	e := newEnv(t)
	opened := false
	_, err := auth.LoginBrowser(testContext(t), e.info, auth.Options{
		OpenBrowser: func(string) error { opened = true; return nil },
		ListenAddr:  "0.0.0.0:0",
	})
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("LoginBrowser: got %v, want a loopback error", err)
	}
	if opened {
		t.Errorf("the browser was opened for a login that cannot complete")
	}
}

func TestLoginBadIssuer(t *testing.T) {
	e := newEnv(t)
	info := *e.info
	info.Issuer = e.srv.URL + "/nothing-here"
	for name, login := range map[string]func(context.Context, *api.Info, auth.Options) (*auth.Token, error){
		"browser": auth.LoginBrowser,
		"device":  auth.LoginDevice,
	} {
		_, err := login(testContext(t), &info, auth.Options{OpenBrowser: func(string) error { return nil }})
		if err == nil || !strings.Contains(err.Error(), "discover") {
			t.Errorf("%s login with a bad issuer: got %v, want a discovery error", name, err)
		}
	}
}

// deviceLogin logs in with LoginDevice, the test browser approving the code.
func deviceLogin(t *testing.T, ctx context.Context, e *env, out *syncBuffer) *auth.Token {
	t.Helper()
	errc := make(chan error, 1)
	var gotURI, gotComplete, gotCode string
	tok, err := auth.LoginDevice(ctx, e.info, auth.Options{
		Out: out,
		OpenBrowser: func(string) error {
			t.Errorf("the device flow opened a browser")
			return nil
		},
		OnDeviceCode: func(uri, complete, code string) {
			gotURI, gotComplete, gotCode = uri, complete, code
			go func() { errc <- testbrowser.Device(ctx, browserClient(t), uri, code, testUser, testPassword) }()
		},
	})
	if err != nil {
		t.Fatalf("LoginDevice: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("test browser: %v", err)
	}
	text := out.String()
	if gotURI == "" || gotCode == "" {
		t.Fatalf("OnDeviceCode: got uri %q code %q, want both", gotURI, gotCode)
	}
	for _, want := range []string{gotURI, gotCode, gotComplete} {
		if !strings.Contains(text, want) {
			t.Errorf("output %q does not show %q", text, want)
		}
	}
	return tok
}

func TestLoginDevice(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := deviceLogin(t, ctx, e, &out)
	checkToken(t, ctx, e, tok)
	if strings.Contains(out.String(), tok.IDToken) {
		t.Errorf("output shows the token")
	}
}

func TestLoginDeviceUnsupported(t *testing.T) {
	// An identity provider built from a real discovery document without a device
	// endpoint.
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 srv.URL,
			"authorization_endpoint": srv.URL + "/authorize",
			"token_endpoint":         srv.URL + "/token",
			"jwks_uri":               srv.URL + "/keys",
		})
	})
	_, err := auth.LoginDevice(testContext(t), &api.Info{Issuer: srv.URL, ClientID: "hoop-cli"}, auth.Options{})
	if !errors.Is(err, auth.ErrNoDeviceFlow) {
		t.Errorf("LoginDevice: got %v, want ErrNoDeviceFlow", err)
	}
}

func TestRefresh(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := deviceLogin(t, ctx, e, &out)
	tok.Gateway = e.srv.URL

	got, err := auth.Refresh(ctx, e.info, tok, nil)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	checkToken(t, ctx, e, got)
	if got.Gateway != tok.Gateway {
		t.Errorf("Gateway: got %q, want %q", got.Gateway, tok.Gateway)
	}
	if got.Expiry.Before(tok.Expiry) {
		t.Errorf("Expiry went back: got %v, had %v", got.Expiry, tok.Expiry)
	}

	// The refreshed token refreshes again.
	again, err := auth.Refresh(ctx, e.info, got, nil)
	if err != nil {
		t.Fatalf("second Refresh: %v", err)
	}
	checkToken(t, ctx, e, again)
}

func TestRefreshErrors(t *testing.T) {
	e := newEnv(t)
	ctx := testContext(t)
	other := *e.info
	other.Issuer = "https://elsewhere.example.com"
	tests := []struct {
		name    string
		info    *api.Info
		tok     *auth.Token
		wantErr error
		wantMsg string
	}{
		{"no refresh token", e.info, &auth.Token{Issuer: e.info.Issuer}, auth.ErrNoRefreshToken, ""},
		{"nil token", e.info, nil, auth.ErrNoRefreshToken, ""},
		{"issuer changed", &other, &auth.Token{Issuer: e.info.Issuer, RefreshToken: "x"}, nil, "elsewhere.example.com"},
		{"unknown refresh token", e.info, &auth.Token{Issuer: e.info.Issuer, RefreshToken: "forged"}, nil, "invalid_grant"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := auth.Refresh(ctx, tt.info, tt.tok, nil)
			if err == nil {
				t.Fatalf("Refresh: got a token, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Refresh: got %v, want %v", err, tt.wantErr)
			}
			if tt.wantMsg != "" && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Refresh: got %q, want it to say %q", err, tt.wantMsg)
			}
		})
	}
}

func TestStoreTokenRefreshesExpired(t *testing.T) {
	t.Setenv(auth.KeyringEnv, "file")
	e := newEnv(t)
	ctx := testContext(t)
	var out syncBuffer
	tok := browserLogin(t, ctx, e, &out)
	tok.Gateway = e.srv.URL
	tok.Expiry = time.Now().Add(-time.Hour) // as if it had expired

	s := auth.NewStore(filepath.Join(t.TempDir(), "hoop"))
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}

	got, err := s.Token(ctx, e.srv.URL, nil) // nil: ask the gateway for its info
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	checkToken(t, ctx, e, got)
	if e.calls() != 1 {
		t.Errorf("info calls: got %d, want 1", e.calls())
	}
	saved, err := s.Load(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if saved.IDToken != got.IDToken || !saved.Valid(time.Minute) {
		t.Errorf("the refreshed token was not saved")
	}

	// Fresh now: no second refresh.
	if _, err := s.Token(ctx, e.srv.URL, func() (*api.Info, error) {
		t.Errorf("info asked for a fresh token")
		return e.info, nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestStoreTokenRefreshRejected(t *testing.T) {
	t.Setenv(auth.KeyringEnv, "file")
	e := newEnv(t)
	ctx := testContext(t)
	s := auth.NewStore(filepath.Join(t.TempDir(), "hoop"))
	if err := s.Save(&auth.Token{
		Gateway:      e.srv.URL,
		Issuer:       e.info.Issuer,
		ClientID:     e.info.ClientID,
		IDToken:      "expired",
		RefreshToken: "revoked-or-forged",
		Expiry:       time.Now().Add(-time.Minute),
	}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Token(ctx, e.srv.URL, func() (*api.Info, error) { return e.info, nil })
	if !errors.Is(err, auth.ErrNotLoggedIn) {
		t.Fatalf("Token: got %v, want ErrNotLoggedIn", err)
	}
	if !strings.Contains(err.Error(), "token expired and refresh failed") {
		t.Errorf("Token: got %q, want it to say why", err)
	}
}
