package devidp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/server/devidp"
)

var allScopes = []string{"openid", "email", "profile", "groups", "offline_access"}

// idp is a devidp.Provider served on 127.0.0.1 under /oidc, as the gateway mounts it.
type idp struct {
	issuer   string
	provider *oidc.Provider // discovered from the issuer
	verifier *oidc.IDTokenVerifier
}

func startIDP(t *testing.T, ctx context.Context, cfg devidp.Config) *idp {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	cfg.Issuer = "http://" + ts.Listener.Addr().String() + "/oidc"
	p, err := devidp.New(cfg)
	if err != nil {
		ts.Close()
		t.Fatalf("devidp.New: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/oidc/", p.Handler())
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)

	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &idp{
		issuer:   cfg.Issuer,
		provider: provider,
		verifier: provider.Verifier(&oidc.Config{ClientID: "hoop-cli"}),
	}
}

func (d *idp) oauth2(redirectURL string) *oauth2.Config {
	ep := d.provider.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInParams // public client: client_id in the body, no secret
	return &oauth2.Config{ClientID: "hoop-cli", Endpoint: ep, RedirectURL: redirectURL, Scopes: allScopes}
}

// callback is the CLI's loopback redirect server.
type callback struct {
	url    string // http://127.0.0.1:PORT/callback
	params chan url.Values
}

func startCallback(t *testing.T) *callback {
	t.Helper()
	cb := &callback{params: make(chan url.Values, 4)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/callback" {
			http.NotFound(w, r)
			return
		}
		select {
		case cb.params <- r.URL.Query():
		default:
		}
		w.Write([]byte("signed in, return to your terminal"))
	}))
	t.Cleanup(ts.Close)
	cb.url = ts.URL + "/callback"
	return cb
}

// received returns what reached the callback; testbrowser.Login has
// returned by then, so no waiting is needed.
func (cb *callback) received(t *testing.T) url.Values {
	t.Helper()
	select {
	case q := <-cb.params:
		return q
	default:
		t.Fatal("callback server received nothing")
		return nil
	}
}

type claims struct {
	Subject       string   `json:"sub"`
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Name          string   `json:"name"`
	Groups        []string `json:"groups"`
}

func (d *idp) verify(t *testing.T, ctx context.Context, tok *oauth2.Token) claims {
	t.Helper()
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		t.Fatal("token response has no id_token")
	}
	idt, err := d.verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	var c claims
	if err := idt.Claims(&c); err != nil {
		t.Fatalf("id token claims: %v", err)
	}
	if !slices.Equal(idt.Audience, []string{"hoop-cli"}) {
		t.Errorf("aud: got %q, want %q", idt.Audience, []string{"hoop-cli"})
	}
	return c
}

// codeLogin runs the authorization code flow with PKCE for user.
func (d *idp) codeLogin(t *testing.T, ctx context.Context, user, password string) (*oauth2.Config, *oauth2.Token) {
	t.Helper()
	cb := startCallback(t)
	conf := d.oauth2(cb.url)
	verifier := oauth2.GenerateVerifier()
	authURL := conf.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier))
	if err := testbrowser.Login(ctx, nil, authURL, user, password); err != nil {
		t.Fatalf("testbrowser.Login: %v", err)
	}
	q := cb.received(t)
	if got := q.Get("state"); got != "state-123" {
		t.Fatalf("state: got %q, want %q (callback query %v)", got, "state-123", q)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	return conf, tok
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestAuthCodeFlow(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	tests := []struct {
		user, password string
		want           claims
	}{
		{"alice", "alice-dev", claims{"alice", "alice@example.com", true, "alice", []string{"engineering"}}},
		{"dana", "dana-dev", claims{"dana", "dana@example.com", true, "dana", []string{"dba"}}},
		{"eve", "eve-dev", claims{"eve", "eve@example.com", true, "eve", []string{}}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			_, tok := d.codeLogin(t, ctx, tt.user, tt.password)
			got := d.verify(t, ctx, tok)
			if got.Subject != tt.want.Subject || got.Email != tt.want.Email || got.Name != tt.want.Name ||
				got.EmailVerified != tt.want.EmailVerified || !slices.Equal(got.Groups, tt.want.Groups) {
				t.Errorf("claims: got %+v, want %+v", got, tt.want)
			}
			if got.Groups == nil {
				t.Errorf("groups claim missing, want an array")
			}
			if tok.RefreshToken == "" {
				t.Errorf("no refresh token though offline_access was asked")
			}
			// The access token works at the userinfo endpoint.
			info, err := d.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var ic claims
			if err := info.Claims(&ic); err != nil {
				t.Fatalf("userinfo claims: %v", err)
			}
			if ic.Subject != tt.want.Subject || ic.Email != tt.want.Email || !slices.Equal(ic.Groups, tt.want.Groups) {
				t.Errorf("userinfo: got %+v, want %+v", ic, tt.want)
			}
		})
	}
}

func TestClaimsFollowScopes(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	cb := startCallback(t)
	conf := d.oauth2(cb.url)
	conf.Scopes = []string{"openid"}
	verifier := oauth2.GenerateVerifier()
	if err := testbrowser.Login(ctx, nil, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "alice", "alice-dev"); err != nil {
		t.Fatalf("testbrowser.Login: %v", err)
	}
	tok, err := conf.Exchange(ctx, cb.received(t).Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	got := d.verify(t, ctx, tok)
	if want := (claims{Subject: "alice"}); got.Subject != want.Subject || got.Email != "" || got.Groups != nil {
		t.Errorf("claims with scope openid only: got %+v, want %+v", got, want)
	}
	if tok.RefreshToken != "" {
		t.Errorf("refresh token issued without offline_access")
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	cb := startCallback(t)
	conf := d.oauth2(cb.url)
	verifier := oauth2.GenerateVerifier()
	if err := testbrowser.Login(ctx, nil, conf.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)), "ann", "ann-dev"); err != nil {
		t.Fatalf("testbrowser.Login: %v", err)
	}
	code := cb.received(t).Get("code")
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Fatal("exchange with a wrong PKCE verifier succeeded")
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("second exchange of the same code succeeded")
	}
}

func TestRefresh(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	conf, tok := d.codeLogin(t, ctx, "carl", "carl-dev")
	first, _ := tok.Extra("id_token").(string)

	// An expired token makes the token source refresh.
	stale := &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
	fresh, err := conf.TokenSource(ctx, stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	got := d.verify(t, ctx, fresh)
	if got.Subject != "carl" || !slices.Equal(got.Groups, []string{"contractors"}) {
		t.Errorf("refreshed claims: got %+v, want sub carl, groups [contractors]", got)
	}
	if second, _ := fresh.Extra("id_token").(string); second == first {
		t.Errorf("refresh returned the same id token")
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token not rotated: got %q", fresh.RefreshToken)
	}

	// The used refresh token is spent; the new one works.
	var rerr *oauth2.RetrieveError
	if _, err := conf.TokenSource(ctx, stale).Token(); !errors.As(err, &rerr) || rerr.ErrorCode != "invalid_grant" {
		t.Errorf("reusing a rotated refresh token: got %v, want invalid_grant", err)
	}
	next := &oauth2.Token{RefreshToken: fresh.RefreshToken, Expiry: time.Now().Add(-time.Hour)}
	if _, err := conf.TokenSource(ctx, next).Token(); err != nil {
		t.Errorf("refresh with the rotated token: %v", err)
	}
}

func TestWrongPassword(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	tests := []struct{ name, user, password string }{
		{"wrong password", "alice", "alice"},
		{"unknown user", "mallory", "mallory-dev"},
		{"empty password", "alice", ""},
		{"other user's password", "alice", "dana-dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cb := startCallback(t)
			conf := d.oauth2(cb.url)
			authURL := conf.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))
			err := testbrowser.Login(ctx, nil, authURL, tt.user, tt.password)
			if !errors.Is(err, testbrowser.ErrRejected) {
				t.Fatalf("login: got %v, want ErrRejected", err)
			}
			// Same text for an unknown user and a wrong password: no user enumeration.
			if want := "Invalid username or password."; !strings.Contains(err.Error(), want) {
				t.Errorf("error: got %q, want it to quote %q", err, want)
			}
			select {
			case q := <-cb.params:
				t.Errorf("callback reached after a failed login: %v", q)
			default:
			}
		})
	}
}

func TestAuthorizeRequestChecks(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	challenge := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	s256 := url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	tests := []struct {
		name         string
		redirect     string
		pkce         url.Values
		wantStatus   int
		wantLocation string // prefix; "" means no redirect at all
	}{
		{"loopback ip any port", "http://127.0.0.1:54321/callback", s256, http.StatusFound, "/oidc/login?id="},
		{"localhost any port", "http://localhost:1234/callback", s256, http.StatusFound, "/oidc/login?id="},
		{"non-loopback host", "http://evil.example/callback", s256, http.StatusBadRequest, ""},
		{"https non-loopback", "https://evil.example/callback", s256, http.StatusBadRequest, ""},
		{"loopback wrong path", "http://127.0.0.1:54321/steal", s256, http.StatusBadRequest, ""},
		{"custom scheme", "hoop://callback", s256, http.StatusBadRequest, ""},
		{"no pkce", "http://127.0.0.1:54321/callback", url.Values{}, http.StatusFound,
			"http://127.0.0.1:54321/callback?error=invalid_request"},
		{"plain pkce", "http://127.0.0.1:54321/callback",
			url.Values{"code_challenge": {challenge}, "code_challenge_method": {"plain"}}, http.StatusFound,
			"http://127.0.0.1:54321/callback?error=invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := url.Values{
				"client_id": {"hoop-cli"}, "response_type": {"code"}, "scope": {"openid"},
				"redirect_uri": {tt.redirect}, "state": {"s"},
			}
			for k, v := range tt.pkce {
				q[k] = v
			}
			resp, err := noFollow.Get(d.issuer + "/authorize?" + q.Encode())
			if err != nil {
				t.Fatalf("authorize: %v", err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status: got %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			loc := resp.Header.Get("Location")
			if tt.wantLocation == "" && loc != "" {
				t.Errorf("redirected to %q, want no redirect", loc)
			}
			if !strings.HasPrefix(loc, tt.wantLocation) {
				t.Errorf("location: got %q, want prefix %q", loc, tt.wantLocation)
			}
		})
	}
}

// pollDevice makes one device token request and returns the OAuth error code ("" on success).
func pollDevice(t *testing.T, ctx context.Context, tokenURL, deviceCode string) string {
	t.Helper()
	form := url.Values{
		"grant_type":  {"urn:ietf:params:oauth:grant-type:device_code"},
		"device_code": {deviceCode},
		"client_id":   {"hoop-cli"},
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("device poll: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Error   string `json:"error"`
		IDToken string `json:"id_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("device poll: decode: %v", err)
	}
	return body.Error
}

func TestDeviceFlow(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	conf := d.oauth2("")
	tests := []struct {
		name     string
		complete bool // use verification_uri_complete instead of typing the code
		user     string
		groups   []string
	}{
		{"verification uri and code", false, "dana", []string{"dba"}},
		{"verification uri complete", true, "ann", []string{"analytics"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			da, err := conf.DeviceAuth(ctx)
			if err != nil {
				t.Fatalf("device auth: %v", err)
			}
			if !strings.HasPrefix(da.VerificationURI, d.issuer+"/device") || da.UserCode == "" {
				t.Fatalf("device auth response: got uri %q code %q, want uri under %s/device", da.VerificationURI, da.UserCode, d.issuer)
			}
			if got := pollDevice(t, ctx, conf.Endpoint.TokenURL, da.DeviceCode); got != "authorization_pending" {
				t.Fatalf("poll before approval: got %q, want %q", got, "authorization_pending")
			}
			if tt.complete {
				err = testbrowser.Device(ctx, nil, da.VerificationURIComplete, "", tt.user, tt.user+"-dev")
			} else {
				err = testbrowser.Device(ctx, nil, da.VerificationURI, da.UserCode, tt.user, tt.user+"-dev")
			}
			if err != nil {
				t.Fatalf("testbrowser.Device: %v", err)
			}
			tok, err := conf.DeviceAccessToken(ctx, da)
			if err != nil {
				t.Fatalf("device access token: %v", err)
			}
			got := d.verify(t, ctx, tok)
			if got.Subject != tt.user || !slices.Equal(got.Groups, tt.groups) {
				t.Errorf("claims: got %+v, want sub %q groups %q", got, tt.user, tt.groups)
			}
			if tok.RefreshToken == "" {
				t.Errorf("no refresh token though offline_access was asked")
			}
			if got := pollDevice(t, ctx, conf.Endpoint.TokenURL, da.DeviceCode); got == "" {
				t.Errorf("device code used twice: second poll got tokens")
			}
		})
	}
}

func TestDeviceRejects(t *testing.T) {
	ctx := testContext(t)
	d := startIDP(t, ctx, devidp.Config{})
	conf := d.oauth2("")
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		t.Fatalf("device auth: %v", err)
	}
	tests := []struct {
		name, code, user, password, want string
	}{
		{"wrong password", da.UserCode, "dana", "nope", "Invalid username or password."},
		{"unknown code", "BBBB-BBBB", "dana", "dana-dev", "Unknown or expired code."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := testbrowser.Device(ctx, nil, da.VerificationURI, tt.code, tt.user, tt.password)
			if !errors.Is(err, testbrowser.ErrRejected) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("device: got %v, want ErrRejected quoting %q", err, tt.want)
			}
		})
	}
	if got := pollDevice(t, ctx, conf.Endpoint.TokenURL, da.DeviceCode); got != "authorization_pending" {
		t.Errorf("poll after failed approvals: got %q, want %q", got, "authorization_pending")
	}
}

func TestKeyPersisted(t *testing.T) {
	ctx := testContext(t)
	keyFile := filepath.Join(t.TempDir(), "state", "devidp-key.pem")
	first := startIDP(t, ctx, devidp.Config{KeyFile: keyFile})
	_, tok := first.codeLogin(t, ctx, "alice", "alice-dev")
	raw, _ := tok.Extra("id_token").(string)

	info, err := os.Stat(keyFile)
	if err != nil {
		t.Fatalf("key file: %v", err)
	}
	if got := info.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode: got %04o, want 0600", got)
	}

	// A second provider with the same key file publishes the same key: the
	// first one's token verifies against its JWKS. One without it does not.
	tests := []struct {
		name    string
		keyFile string
		wantOK  bool
	}{
		{"same key file", keyFile, true},
		{"in-memory key", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			second := startIDP(t, ctx, devidp.Config{KeyFile: tt.keyFile})
			keys := oidc.NewRemoteKeySet(ctx, second.issuer+"/keys")
			v := oidc.NewVerifier(first.issuer, keys, &oidc.Config{ClientID: "hoop-cli"})
			_, err := v.Verify(ctx, raw)
			if (err == nil) != tt.wantOK {
				t.Errorf("verify first provider's token with second's keys: got err %v, want ok %v", err, tt.wantOK)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(dir, "open.pem")
	if _, err := devidp.New(devidp.Config{Issuer: "http://127.0.0.1:1/oidc", KeyFile: open}); err != nil {
		t.Fatalf("create key: %v", err)
	}
	if err := os.Chmod(open, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  devidp.Config
		want error
	}{
		{"no issuer", devidp.Config{}, devidp.ErrNoIssuer},
		{"http non-loopback", devidp.Config{Issuer: "http://idp.example.com/oidc"}, devidp.ErrInsecureIssuer},
		{"query", devidp.Config{Issuer: "http://127.0.0.1:1/oidc?x=1"}, devidp.ErrBadIssuer},
		{"relative", devidp.Config{Issuer: "/oidc"}, devidp.ErrBadIssuer},
		{"duplicate user", devidp.Config{Issuer: "http://127.0.0.1:1/oidc",
			Users: []devidp.User{{Name: "a", Password: "x"}, {Name: "a", Password: "y"}}}, devidp.ErrBadUser},
		{"empty password", devidp.Config{Issuer: "http://127.0.0.1:1/oidc",
			Users: []devidp.User{{Name: "a"}}}, devidp.ErrBadUser},
		{"garbage key file", devidp.Config{Issuer: "http://127.0.0.1:1/oidc", KeyFile: garbage}, devidp.ErrBadKeyFile},
		{"key file readable by others", devidp.Config{Issuer: "http://127.0.0.1:1/oidc", KeyFile: open}, devidp.ErrBadKeyFile},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := devidp.New(tt.cfg)
			if !errors.Is(err, tt.want) {
				t.Errorf("New: got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestIssuerAtRoot(t *testing.T) {
	ctx := testContext(t)
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	p, err := devidp.New(devidp.Config{Issuer: issuer + "/"})
	if err != nil {
		ts.Close()
		t.Fatalf("New: %v", err)
	}
	if got := p.Issuer(); got != issuer {
		t.Errorf("issuer: got %q, want %q", got, issuer)
	}
	ts.Config.Handler = p.Handler()
	ts.Start()
	defer ts.Close()
	if _, err := oidc.NewProvider(ctx, issuer); err != nil {
		t.Errorf("discovery at the root: %v", err)
	}
}
