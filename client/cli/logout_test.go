package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/internal/testissuer"
)

// logoutFactory is a factory whose token store is a fresh directory holding tok.
func logoutFactory(t *testing.T, tok *auth.Token) (*factory, *bytes.Buffer) {
	t.Helper()
	t.Setenv(auth.KeyringEnv, "file")
	f := factoryWith(map[string]string{"HOOP_CONFIG_DIR": t.TempDir()})
	var errOut bytes.Buffer
	f.io = IOStreams{Out: new(bytes.Buffer), ErrOut: &errOut}
	s, err := f.tokenStore()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(tok); err != nil {
		t.Fatal(err)
	}
	return f, &errOut
}

// TestLogoutRevocation: hoop logout revokes the refresh token at the real dev identity
// provider, so that a refresh with it fails afterwards, and removes the tokens; where the
// provider offers no revocation endpoint, or cannot be reached, the tokens are removed
// all the same and the message says the refresh token could not be revoked.
func TestLogoutRevocation(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gw, _ := machineGateway(t)
	info := &api.Info{Issuer: gw + "/oidc", ClientID: "hoop-cli", Scopes: []string{"openid", "offline_access"}}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	tok, err := auth.LoginBrowser(ctx, info, auth.Options{OpenBrowser: func(u string) error {
		go func() { errc <- testbrowser.Login(ctx, &http.Client{Jar: jar}, u, "alice", "alice-dev") }()
		return nil
	}})
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("test browser: %v", err)
	}
	tok.Gateway = gw
	noEndpoint := testissuer.New(t)

	tests := []struct {
		name   string
		tok    *auth.Token
		says   string
		revoke bool // the refresh token no longer refreshes
	}{
		{"revoked", tok, "the refresh token was revoked at the identity provider.", true},
		{"no revocation endpoint", &auth.Token{Gateway: gw, Issuer: noEndpoint.URL(), ClientID: "hoop-cli", IDToken: "x", RefreshToken: "r-1", Expiry: time.Now().Add(time.Hour)},
			"the identity provider offers no revocation endpoint, so the refresh token could not be revoked: it stays valid there until it expires.", false},
		{"provider unreachable", &auth.Token{Gateway: gw, Issuer: "http://127.0.0.1:1/oidc", ClientID: "hoop-cli", IDToken: "x", RefreshToken: "r-1", Expiry: time.Now().Add(time.Hour)},
			"could not revoke the refresh token (revoke: discover http://127.0.0.1:1/oidc:", false},
		{"no refresh token", &auth.Token{Gateway: gw, Issuer: info.Issuer, ClientID: "hoop-cli", IDToken: "x", Expiry: time.Now().Add(time.Hour)},
			"there was no refresh token to revoke.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, errOut := logoutFactory(t, tt.tok)
			if err := logoutRun(ctx, f, gw); err != nil {
				t.Fatalf("logout: %v", err)
			}
			want := "Logged out of " + gw + ": tokens removed from this machine; " + tt.says
			if !strings.Contains(errOut.String(), want) {
				t.Errorf("got  %q\nwant %q", errOut, want)
			}
			s, _ := f.tokenStore()
			if _, err := s.Load(gw); !errors.Is(err, auth.ErrNotLoggedIn) {
				t.Errorf("after logout: Load gave %v, want ErrNotLoggedIn", err)
			}
			if tt.revoke {
				if _, err := auth.Refresh(ctx, info, tt.tok, nil); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
					t.Errorf("refresh with the revoked refresh token: got %v, want invalid_grant", err)
				}
			}
		})
	}

	// Logged out already: nothing to do, and it says so.
	f, _ := logoutFactory(t, &auth.Token{Gateway: "http://elsewhere.example", IDToken: "x"})
	if err := logoutRun(ctx, f, gw); !errors.Is(err, auth.ErrNotLoggedIn) {
		t.Errorf("logout when logged out: got %v, want ErrNotLoggedIn", err)
	}
}
