package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hoopgw/hoop/client/cli"
)

// TestBearerIsTheIDToken: the attack is presenting the identity provider's access token
// (a JWT signed by the same key, for the same audience, as the provider issues them here)
// or its refresh token as HOOP_TOKEN. The running gateway refuses both, exit 5 with the
// reason, and accepts the ID token of the same login.
func TestBearerIsTheIDToken(t *testing.T) {
	gw := startGateway(t, gatewayOptions{jwtAccessTokens: true})
	tok := gw.loginTokens(t, "ann")
	if strings.Count(tok.AccessToken, ".") != 2 {
		t.Fatal("the provider issued an opaque access token; the test wants a JWT one")
	}
	env := func(token string) map[string]string {
		return map[string]string{"HOOP_CONFIG_DIR": t.TempDir(), "HOOP_KEYRING": "file", "HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": token}
	}
	tests := []struct {
		name  string
		token string
		code  int
		want  string
	}{
		{"the ID token", tok.IDToken, cli.ExitOK, ""},
		{"access token as bearer", tok.AccessToken, cli.ExitUnauthorized, `token is an access token (client_id "hoop-cli", and no azp naming that client as an ID token would): a person's bearer must be the ID token`},
		{"refresh token as bearer", tok.RefreshToken, cli.ExitUnauthorized, "an opaque access or refresh token is never accepted as the bearer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, env(tt.token), "whoami")
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("whoami: exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
			if tt.code == cli.ExitOK && !strings.Contains(out, "ann@example.com") {
				t.Errorf("whoami: got %q, want ann", out)
			}
		})
	}
}

// TestTokenLifetimeCap: the attack is a token the identity provider was configured to
// issue for days, so that a leaked one stays good that long. The gateway, with the
// default auth.max_token_lifetime (24h), refuses an ID token meant to live 25 hours,
// though its signature, issuer and audience are good, and says why.
func TestTokenLifetimeCap(t *testing.T) {
	gw := startGateway(t, gatewayOptions{tokens: 25 * time.Hour})
	id := gw.login(t, "ann")
	code, _, stderr := runCLI(t, map[string]string{"HOOP_CONFIG_DIR": t.TempDir(), "HOOP_KEYRING": "file", "HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": id}, "whoami")
	if want := "is longer than the 24h0m0s this gateway accepts (auth.max_token_lifetime)"; code != cli.ExitUnauthorized || !strings.Contains(stderr, want) {
		t.Errorf("whoami with a 25h token: exit %d, stderr %q; want exit %d and %q", code, stderr, cli.ExitUnauthorized, want)
	}
}
