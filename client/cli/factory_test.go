package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/server/devidp"
)

// machineGateway serves GET /api/v1/info naming a real embedded provider with the
// machine ci-bot, and counts the token requests the provider gets.
func machineGateway(t *testing.T) (url string, tokenRequests *atomic.Int32) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	url = "http://" + ts.Listener.Addr().String()
	idp, err := devidp.New(devidp.Config{Issuer: url + "/oidc", Machines: []devidp.Machine{
		{ID: "ci-bot", Secret: "ci-bot-secret", Audience: "hoop"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tokenRequests = new(atomic.Int32)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/info", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(api.Info{Issuer: url + "/oidc", ClientID: devidp.DefaultClientID})
	})
	mux.Handle("/oidc/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/token") {
			tokenRequests.Add(1)
		}
		idp.Handler().ServeHTTP(w, r)
	}))
	ts.Config.Handler = mux
	ts.Start()
	t.Cleanup(ts.Close)
	return url, tokenRequests
}

func factoryWith(env map[string]string) *factory {
	return &factory{http: http.DefaultClient, env: func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}}
}

// TestClientCredentialsToken: HOOP_CLIENT_ID and HOOP_CLIENT_SECRET get a token from the
// provider the gateway names, once per process.
func TestClientCredentialsToken(t *testing.T) {
	gw, requests := machineGateway(t)
	ctx := context.Background()
	f := factoryWith(map[string]string{"HOOP_CLIENT_ID": "ci-bot", "HOOP_CLIENT_SECRET": "ci-bot-secret", "HOOP_CLIENT_SCOPES": "openid, extra"})
	tok, exp, err := f.token(ctx, gw)
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	if sub := jwtClaim(t, tok, "sub"); sub != "ci-bot" {
		t.Errorf("sub: got %q, want ci-bot", sub)
	}
	if time.Until(exp) < 50*time.Minute {
		t.Errorf("expiry: got %s, want about an hour from now", exp)
	}
	again, _, err := f.token(ctx, gw)
	if err != nil || again != tok {
		t.Errorf("second token: got a new one or %v, want the cached one", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("token requests: got %d, want 1", n)
	}
	// HOOP_TOKEN still wins.
	f = factoryWith(map[string]string{"HOOP_TOKEN": "a.b.c", "HOOP_CLIENT_ID": "ci-bot", "HOOP_CLIENT_SECRET": "ci-bot-secret"})
	if got, _, err := f.token(ctx, gw); err != nil || got != "a.b.c" {
		t.Errorf("with HOOP_TOKEN: got %q, %v, want a.b.c", got, err)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	gw, _ := machineGateway(t)
	tests := []struct {
		name string
		env  map[string]string
		code int
		msg  string
	}{
		{"wrong secret", map[string]string{"HOOP_CLIENT_ID": "ci-bot", "HOOP_CLIENT_SECRET": "guess"}, ExitUnauthorized, "refused client ci-bot: invalid_client"},
		{"unknown client", map[string]string{"HOOP_CLIENT_ID": "nobody", "HOOP_CLIENT_SECRET": "x"}, ExitUnauthorized, "invalid_client"},
		{"id alone", map[string]string{"HOOP_CLIENT_ID": "ci-bot"}, ExitUsage, "HOOP_CLIENT_SECRET is not"},
		{"secret alone", map[string]string{"HOOP_CLIENT_SECRET": "ci-bot-secret"}, ExitUsage, "HOOP_CLIENT_ID is not"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := factoryWith(tt.env).token(context.Background(), gw)
			if err == nil {
				t.Fatal("got a token, want an error")
			}
			if code := exitCode(err); code != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("got exit %d, %q; want exit %d, a message with %q", code, err, tt.code, tt.msg)
			}
			if tt.code == ExitUnauthorized && !errors.Is(err, auth.ErrNotLoggedIn) {
				t.Errorf("got %v, want ErrNotLoggedIn", err)
			}
		})
	}
}

func jwtClaim(t *testing.T, jwt, name string) any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %d parts", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims[name]
}
