package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/pkg/browser"
	"golang.org/x/oauth2"

	"github.com/hoopgw/hoop/api"
)

// Errors a caller may test with errors.Is.
var (
	// ErrNotLoggedIn means there is no usable token for the gateway: none was saved,
	// or it expired and could not be refreshed. The CLI maps it to exit code 5.
	ErrNotLoggedIn = errors.New("not logged in")
	// ErrNoGateway means no default gateway was saved by a login.
	ErrNoGateway = errors.New("no gateway configured")
	// ErrAccessDenied means the identity provider or the user refused the login
	// (OAuth2 error "access_denied").
	ErrAccessDenied = errors.New("access denied by the identity provider")
	// ErrStateMismatch means the loopback callback carried a state that this login
	// did not send: a stale tab or a forged request.
	ErrStateMismatch = errors.New("state mismatch in login callback")
	// ErrNonceMismatch means the ID token was not issued for this login.
	ErrNonceMismatch = errors.New("id token nonce mismatch")
	// ErrNoIDToken means the token response carried no id_token (is "openid" among
	// the scopes?).
	ErrNoIDToken = errors.New("token response has no id_token")
	// ErrNoRefreshToken means a refresh was needed but no refresh token was saved
	// (is "offline_access" among the scopes?).
	ErrNoRefreshToken = errors.New("no refresh token")
	// ErrNoDeviceFlow means the identity provider does not advertise a
	// device_authorization_endpoint.
	ErrNoDeviceFlow = errors.New("identity provider does not support the device flow")
)

// Defaults for Options.
const (
	DefaultListenAddr = "127.0.0.1:0"
	DefaultTimeout    = 5 * time.Minute
)

// callbackPath is the loopback redirect's path: http://127.0.0.1:<port>/callback.
const callbackPath = "/callback"

// maxInfoBody bounds what FetchInfo reads from the gateway.
const maxInfoBody = 1 << 20

// Token is what a login yields and what the Store keeps, one per gateway.
type Token struct {
	Gateway      string    `json:"gateway"`       // "https://hoop.example.com"
	Issuer       string    `json:"issuer"`        // "https://idp.example.com"
	ClientID     string    `json:"client_id"`     // "hoop-cli"
	IDToken      string    `json:"id_token"`      // the bearer the gateway verifies
	AccessToken  string    `json:"access_token"`  // the IdP's access token, kept for userinfo
	RefreshToken string    `json:"refresh_token"` // empty if the IdP gave none
	Expiry       time.Time `json:"expiry"`        // the ID token's exp claim
}

// Valid reports whether the token has an ID token that stays unexpired for at least
// skew from now.
func (t *Token) Valid(skew time.Duration) bool {
	return t != nil && t.IDToken != "" && time.Now().Add(skew).Before(t.Expiry)
}

// String describes the token without any secret, so a stray %v never leaks one.
func (t Token) String() string {
	return fmt.Sprintf("token for %s (issuer %s, expires %s)", t.Gateway, t.Issuer, t.Expiry.Format(time.RFC3339))
}

// GoString is String for %#v.
func (t Token) GoString() string { return t.String() }

// Options configure a login. The zero value is usable.
type Options struct {
	// Out receives progress and the URL to open, normally stderr. nil discards.
	Out io.Writer
	// OpenBrowser opens the login page. nil means github.com/pkg/browser.OpenURL.
	// Its failure is reported on Out and is not fatal: the URL is printed too.
	OpenBrowser func(url string) error
	// HTTPClient talks to the gateway and the identity provider. nil means
	// http.DefaultClient.
	HTTPClient *http.Client
	// ListenAddr is the loopback callback's address, "127.0.0.1:0" by default. It
	// must be a loopback IP address.
	ListenAddr string
	// Timeout bounds the whole login, 5 minutes by default.
	Timeout time.Duration
	// OnDeviceCode, if set, is called by LoginDevice with what the user must open and
	// type, after it is printed on Out. verificationURIComplete may be empty.
	OnDeviceCode func(verificationURI, verificationURIComplete, userCode string)
}

func (o Options) out() io.Writer {
	if o.Out == nil {
		return io.Discard
	}
	return o.Out
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return DefaultTimeout
	}
	return o.Timeout
}

func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return http.DefaultClient
	}
	return c
}

// FetchInfo asks the gateway how to log in: GET {gateway}/api/v1/info.
func FetchInfo(ctx context.Context, client *http.Client, gateway string) (*api.Info, error) {
	u := strings.TrimRight(gateway, "/") + "/api/v1/info"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch info %s: %w", u, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := httpClient(client).Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch info: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxInfoBody))
	if err != nil {
		return nil, fmt.Errorf("fetch info %s: read body: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return nil, fmt.Errorf("fetch info %s: %s: %s", u, resp.Status, e.Error)
		}
		return nil, fmt.Errorf("fetch info %s: %s", u, resp.Status)
	}
	var info api.Info
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("fetch info %s: decode: %w", u, err)
	}
	if info.Issuer == "" || info.ClientID == "" {
		return nil, fmt.Errorf("fetch info %s: gateway names no issuer or client id", u)
	}
	return &info, nil
}

// session is what both flows need: the provider's endpoints, an OAuth2 config and a
// context that carries the HTTP client for x/oauth2 and go-oidc.
type session struct {
	ctx      context.Context
	provider *oidc.Provider
	config   *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newSession(ctx context.Context, info *api.Info, client *http.Client) (*session, error) {
	if info == nil || info.Issuer == "" || info.ClientID == "" {
		return nil, errors.New("login info names no issuer or client id")
	}
	client = httpClient(client)
	ctx = oidc.ClientContext(ctx, client)
	ctx = context.WithValue(ctx, oauth2.HTTPClient, client)
	provider, err := oidc.NewProvider(ctx, info.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover %s: %w", info.Issuer, err)
	}
	endpoint := provider.Endpoint()
	if info.ClientSecret == "" {
		// A public client authenticates with client_id in the body (RFC 6749 §2.3.1);
		// auto-detection would first try an empty HTTP Basic password.
		endpoint.AuthStyle = oauth2.AuthStyleInParams
	}
	scopes := info.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID}
	}
	return &session{
		ctx:      ctx,
		provider: provider,
		config: &oauth2.Config{
			ClientID:     info.ClientID,
			ClientSecret: info.ClientSecret,
			Endpoint:     endpoint,
			Scopes:       scopes,
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: info.ClientID}),
	}, nil
}

// token verifies the ID token of an OAuth2 token response and builds a Token. A
// non-empty nonce must match the ID token's.
func (s *session) token(ot *oauth2.Token, info *api.Info, nonce string) (*Token, error) {
	raw, _ := ot.Extra("id_token").(string)
	if raw == "" {
		return nil, ErrNoIDToken
	}
	idt, err := s.verifier.Verify(s.ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify id token: %w", err)
	}
	if nonce != "" && subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
		return nil, ErrNonceMismatch
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(ot.AccessToken); err != nil {
			return nil, fmt.Errorf("verify access token hash: %w", err)
		}
	}
	return &Token{
		Issuer:       info.Issuer,
		ClientID:     info.ClientID,
		IDToken:      raw,
		AccessToken:  ot.AccessToken,
		RefreshToken: ot.RefreshToken,
		Expiry:       idt.Expiry,
	}, nil
}

// LoginBrowser logs in with the authorization code flow, PKCE (S256) and a loopback
// redirect to http://127.0.0.1:<port>/callback. It prints the URL on opts.Out, opens
// the browser, and waits for the callback until opts.Timeout or ctx ends. The returned
// Token has no Gateway: the caller sets it.
func LoginBrowser(ctx context.Context, info *api.Info, opts Options) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	s, err := newSession(ctx, info, opts.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}

	ln, err := listenLoopback(opts.ListenAddr)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	cfg := *s.config
	cfg.RedirectURL = "http://" + ln.Addr().String() + callbackPath

	state := rand.Text()
	nonce := rand.Text()
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	type result struct {
		tok *Token
		err error
	}
	results := make(chan result, 1)
	var handled atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+callbackPath, func(w http.ResponseWriter, r *http.Request) {
		if !handled.CompareAndSwap(false, true) {
			writePage(w, http.StatusConflict, "This login was already handled. Return to the terminal.")
			return
		}
		tok, err := finishCallback(s, &cfg, info, r, state, nonce, verifier)
		if err != nil {
			writePage(w, http.StatusBadRequest, "Login failed: "+err.Error())
		} else {
			writePage(w, http.StatusOK, "Logged in, you can close this tab")
		}
		results <- result{tok, err}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(ln) // returns http.ErrServerClosed after Shutdown
	}()
	defer func() {
		// Shutdown waits for the callback handler to finish writing its page.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		<-served
	}()

	out := opts.out()
	fmt.Fprintf(out, "Opening the browser to log in. If it does not open, visit:\n  %s\n", authURL)
	open := opts.OpenBrowser
	if open == nil {
		open = browser.OpenURL
	}
	if err := open(authURL); err != nil {
		fmt.Fprintf(out, "Could not open the browser: %v\n", err)
	}

	select {
	case r := <-results:
		if r.err != nil {
			return nil, fmt.Errorf("login: %w", r.err)
		}
		return r.tok, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("login: waiting for the browser: %w", context.Cause(ctx))
	}
}

// finishCallback checks the loopback callback, exchanges the code and verifies the ID
// token.
func finishCallback(s *session, cfg *oauth2.Config, info *api.Info, r *http.Request, state, nonce, verifier string) (*Token, error) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		return nil, idpError(e, q.Get("error_description"))
	}
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(state)) != 1 {
		return nil, ErrStateMismatch
	}
	code := q.Get("code")
	if code == "" {
		return nil, errors.New("callback has no authorization code")
	}
	ot, err := cfg.Exchange(s.ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange code: %w", err)
	}
	return s.token(ot, info, nonce)
}

// idpError turns an OAuth2 error response into an error; access_denied wraps
// ErrAccessDenied.
func idpError(code, description string) error {
	msg := code
	if description != "" {
		msg += ": " + description
	}
	if code == "access_denied" {
		return fmt.Errorf("%w (%s)", ErrAccessDenied, msg)
	}
	return fmt.Errorf("identity provider error: %s", msg)
}

// listenLoopback listens on addr, which must be a loopback IP: the redirect carries
// an authorization code and must not be reachable from the network.
func listenLoopback(addr string) (net.Listener, error) {
	if addr == "" {
		addr = DefaultListenAddr
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("listen %s: callback address must be a loopback IP such as 127.0.0.1", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return ln, nil
}

func writePage(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html><html><head><title>hoop login</title></head><body><p>%s</p></body></html>\n", html.EscapeString(msg))
}

// LoginDevice logs in with the device authorization grant (RFC 8628): it prints the
// verification URI and the user code on opts.Out, calls opts.OnDeviceCode, and polls
// the token endpoint until the user approves, refuses, the code expires, opts.Timeout
// passes or ctx ends. The returned Token has no Gateway: the caller sets it.
func LoginDevice(ctx context.Context, info *api.Info, opts Options) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	s, err := newSession(ctx, info, opts.HTTPClient)
	if err != nil {
		return nil, fmt.Errorf("device login: %w", err)
	}
	if s.config.Endpoint.DeviceAuthURL == "" {
		return nil, fmt.Errorf("device login: %w", ErrNoDeviceFlow)
	}
	da, err := s.config.DeviceAuth(s.ctx)
	if err != nil {
		return nil, fmt.Errorf("device login: authorize: %w", oauthError(err))
	}
	out := opts.out()
	fmt.Fprintf(out, "To log in, open:\n  %s\nand enter the code: %s\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(out, "Or open this link, which carries the code:\n  %s\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(out, "Waiting for the login to complete...")
	if opts.OnDeviceCode != nil {
		opts.OnDeviceCode(da.VerificationURI, da.VerificationURIComplete, da.UserCode)
	}
	ot, err := s.config.DeviceAccessToken(s.ctx, da)
	if err != nil {
		return nil, fmt.Errorf("device login: %w", oauthError(err))
	}
	tok, err := s.token(ot, info, "")
	if err != nil {
		return nil, fmt.Errorf("device login: %w", err)
	}
	return tok, nil
}

// oauthError maps an OAuth2 error response from x/oauth2 to this package's errors,
// keeping the original in the chain.
func oauthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		switch re.ErrorCode {
		case "access_denied":
			return fmt.Errorf("%w: %w", ErrAccessDenied, err)
		case "expired_token":
			return fmt.Errorf("the code expired before the login completed: %w", err)
		}
	}
	return err
}

// Refresh exchanges tok's refresh token for a fresh ID token. The result keeps tok's
// Gateway, and its refresh token when the provider sends no new one.
func Refresh(ctx context.Context, info *api.Info, tok *Token, client *http.Client) (*Token, error) {
	if tok == nil || tok.RefreshToken == "" {
		return nil, fmt.Errorf("refresh: %w", ErrNoRefreshToken)
	}
	if tok.Issuer != "" && info != nil && tok.Issuer != info.Issuer {
		return nil, fmt.Errorf("refresh: token was issued by %s but the gateway now uses %s", tok.Issuer, info.Issuer)
	}
	s, err := newSession(ctx, info, client)
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	// An empty access token makes the source refresh at once.
	ot, err := s.config.TokenSource(s.ctx, &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", oauthError(err))
	}
	nt, err := s.token(ot, info, "")
	if err != nil {
		return nil, fmt.Errorf("refresh: %w", err)
	}
	// OpenID Connect Core §12.2: the refreshed ID token is about the same person.
	if old := unverifiedSubject(tok.IDToken); old != "" {
		if sub := unverifiedSubject(nt.IDToken); sub != old {
			return nil, errors.New("refresh: new id token has a different subject")
		}
	}
	nt.Gateway = tok.Gateway
	if nt.RefreshToken == "" {
		nt.RefreshToken = tok.RefreshToken
	}
	return nt, nil
}

// unverifiedSubject reads the sub claim of a JWT without checking it; only for
// comparing a fresh, verified token against the one it replaces. "" if unreadable.
func unverifiedSubject(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Sub string `json:"sub"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return ""
	}
	return c.Sub
}
