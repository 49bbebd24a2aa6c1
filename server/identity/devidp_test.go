package identity_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/server/identity"
)

// devLogin logs alice in at a real dev identity provider over HTTP, as hoop login does,
// and returns her tokens and the issuer.
func devLogin(t *testing.T, jwtAccessTokens bool) (*auth.Token, string) {
	t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	issuer := srv.URL + "/oidc"
	p, err := devidp.New(devidp.Config{Issuer: issuer, JWTAccessTokens: jwtAccessTokens})
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/oidc/", p.Handler())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	info := &api.Info{Issuer: issuer, ClientID: devidp.DefaultClientID, Scopes: []string{"openid", "email", "groups", "offline_access"}}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	errc := make(chan error, 1)
	tok, err := auth.LoginBrowser(ctx, info, auth.Options{OpenBrowser: func(u string) error {
		go func() { errc <- testbrowser.Login(ctx, browser, u, "alice", "alice-dev") }()
		return nil
	}})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("test browser: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("login gave access token %t, refresh token %t; want both", tok.AccessToken != "", tok.RefreshToken != "")
	}
	return tok, issuer
}

// TestDevIdPTokensAsBearer: of the three tokens a login at the dev identity provider
// yields, only the ID token is a person's bearer. Its access token, a JWT signed by the
// same key for the same audience (the dangerous case, when the provider issues JWT access
// tokens) or an opaque one, and its refresh token are refused, each with the reason,
// while the people's issuer also has machine clients (whose access tokens are accepted
// under their own audience).
func TestDevIdPTokensAsBearer(t *testing.T) {
	for _, jwt := range []bool{true, false} {
		name := "opaque access token"
		if jwt {
			name = "JWT access token"
		}
		t.Run(name, func(t *testing.T) {
			tok, issuer := devLogin(t, jwt)
			if got := strings.Count(tok.AccessToken, ".") == 2; got != jwt {
				t.Fatalf("access token is a JWT: %v, want %v", got, jwt)
			}
			cfg := identity.Config{Issuer: issuer, Audience: devidp.DefaultClientID,
				Machines: []identity.Machine{{ClientID: "ci-bot", Audience: "hoop-machines", Identity: "machine:ci-bot"}}}
			for _, v := range []interface {
				Verify(context.Context, string) (identity.Identity, error)
			}{identity.NewVerifier(cfg), identity.NewVerifiers(cfg, nil)} {
				ctx := context.Background()
				id, err := v.Verify(ctx, tok.IDToken)
				if err != nil || id.Subject != "alice" || id.Email != "alice@example.com" {
					t.Fatalf("ID token: got %+v, %v; want alice", id, err)
				}
				want := "an opaque access or refresh token is never accepted as the bearer"
				if jwt {
					want = `token is an access token (client_id "hoop-cli", and no azp naming that client as an ID token would): a person's bearer must be the ID token`
				}
				id, err = v.Verify(ctx, tok.AccessToken)
				if !errors.Is(err, identity.ErrNotIDToken) || !strings.Contains(err.Error(), want) {
					t.Errorf("access token as bearer: got %+v, %v; want ErrNotIDToken: %s", id, err, want)
				}
				id, err = v.Verify(ctx, tok.RefreshToken)
				if want := "an opaque access or refresh token is never accepted as the bearer"; !errors.Is(err, identity.ErrNotIDToken) || !strings.Contains(err.Error(), want) {
					t.Errorf("refresh token as bearer: got %+v, %v; want ErrNotIDToken: %s", id, err, want)
				}
			}
		})
	}
}
