package identity

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/hoopgw/hoop/internal/testissuer"
)

// signRaw signs claims as they are, under header typ typ, with the issuer's key: the test
// says every claim, iat and exp included.
func (is *issuer) signRaw(t *testing.T, typ string, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	opts := (&jose.SignerOptions{}).WithHeader("kid", "k1")
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: is.key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := sig.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestTokenHygiene: a person's bearer must be an ID token, issued to the gateway's
// client, for its audience exactly, and meant to live no longer than the gateway
// accepts. Each case is one class of token the gateway used to accept, or must go on
// accepting, for a person: a verified signature from the trusted issuer is not enough.
func TestTokenHygiene(t *testing.T) {
	is := newIssuer(t)
	now := time.Now()
	cfg := Config{Issuer: is.srv.URL, Audience: "hoop-cli", ClientID: "hoop-cli", MaxLifetime: 24 * time.Hour}
	// claims are an ID token's, as an identity provider issues them to the CLI, with the
	// changes in extra (a nil value removes a claim).
	claims := func(extra map[string]any) map[string]any {
		c := map[string]any{"iss": is.srv.URL, "sub": "alice", "aud": "hoop-cli", "email": "alice@example.com",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "auth_time": now.Unix(), "nonce": "n-1"}
		for k, v := range extra {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		return c
	}
	tests := []struct {
		name   string
		typ    string // the header's typ
		claims map[string]any
		reason error  // nil: accepted
		msg    string // what the refusal says
	}{
		{name: "an ID token", typ: "JWT", claims: claims(nil)},
		{name: "an ID token with azp naming the client", typ: "JWT", claims: claims(map[string]any{"azp": "hoop-cli"})},
		{name: "an ID token with client_id and azp, both the client (zitadel)", typ: "JWT", claims: claims(map[string]any{"azp": "hoop-cli", "client_id": "hoop-cli"})},
		{name: "an ID token without typ", claims: claims(nil)},
		{name: "several audiences with azp naming the client", typ: "JWT", claims: claims(map[string]any{"aud": []string{"hoop-cli", "other-api"}, "azp": "hoop-cli"})},
		{name: "a lifetime of exactly the cap", typ: "JWT", claims: claims(map[string]any{"exp": now.Add(24 * time.Hour).Unix()})},
		{name: "an ID token in Keycloak's shape (typ claim ID)", typ: "JWT", claims: claims(map[string]any{"typ": "ID", "azp": "hoop-cli"})},

		{name: "azp mismatch", typ: "JWT", claims: claims(map[string]any{"azp": "another-app"}), reason: ErrWrongClient,
			msg: `token was issued to client "another-app" (azp), not to "hoop-cli"`},
		{name: "azp mismatch: empty", typ: "JWT", claims: claims(map[string]any{"azp": ""}), reason: ErrWrongClient,
			msg: `token was issued to client "" (azp)`},
		{name: "azp mismatch: not a string", typ: "JWT", claims: claims(map[string]any{"azp": []string{"hoop-cli"}}), reason: ErrWrongClient,
			msg: `token was issued to client "[\"hoop-cli\"]" (azp)`},
		{name: "multi-audience without azp", typ: "JWT", claims: claims(map[string]any{"aud": []string{"hoop-cli", "other-api"}}), reason: ErrWrongClient,
			msg: `token has several audiences ["hoop-cli" "other-api"] and no azp: such a token is accepted only when its azp names "hoop-cli"`},
		{name: "multi-audience with another client's azp", typ: "JWT", claims: claims(map[string]any{"aud": []string{"other-api", "hoop-cli"}, "azp": "other-api"}), reason: ErrWrongClient,
			msg: `token was issued to client "other-api" (azp)`},
		{name: "audience mismatch", typ: "JWT", claims: claims(map[string]any{"aud": "another-app"}), reason: ErrWrongAudience,
			msg: `token audience ["another-app"] is not this gateway's`},
		{name: "audience mismatch: a longer name with ours as prefix", typ: "JWT", claims: claims(map[string]any{"aud": "hoop-cli-evil"}), reason: ErrWrongAudience,
			msg: `token audience ["hoop-cli-evil"] is not this gateway's`},
		{name: "audience mismatch: none", typ: "JWT", claims: claims(map[string]any{"aud": nil}), reason: ErrWrongAudience,
			msg: `token audience [] is not this gateway's`},
		{name: "over-long lifetime", typ: "JWT", claims: claims(map[string]any{"exp": now.Add(24*time.Hour + time.Second).Unix()}), reason: ErrLifetime,
			msg: `token lifetime 24h0m1s (iat ` + now.UTC().Format(time.RFC3339) + `, exp ` + now.Add(24*time.Hour+time.Second).UTC().Format(time.RFC3339) +
				`) is longer than the 24h0m0s this gateway accepts (auth.max_token_lifetime)`},
		{name: "over-long lifetime: a year", typ: "JWT", claims: claims(map[string]any{"exp": now.Add(365 * 24 * time.Hour).Unix()}), reason: ErrLifetime,
			msg: `is longer than the 24h0m0s this gateway accepts`},
		{name: "over-long lifetime: iat in the future to shorten it", typ: "JWT",
			claims: claims(map[string]any{"iat": now.Add(30 * 24 * time.Hour).Unix(), "exp": now.Add(30*24*time.Hour + time.Hour).Unix()}), reason: ErrLifetime,
			msg: `token is issued in the future`},
		{name: "missing iat", typ: "JWT", claims: claims(map[string]any{"iat": nil}), reason: ErrLifetime,
			msg: `token has no iat claim, so its lifetime cannot be checked`},
		{name: "access token as bearer: RFC 9068 typ at+jwt", typ: "at+jwt", claims: claims(nil), reason: ErrNotIDToken,
			msg: `token is an access token (header typ "at+jwt"): a person's bearer must be the ID token (id_token) that ` + is.srv.URL + ` issued to "hoop-cli"`},
		{name: "access token as bearer: typ application/at+jwt", typ: "application/at+jwt", claims: claims(nil), reason: ErrNotIDToken,
			msg: `token is an access token (header typ "application/at+jwt")`},
		{name: "access token as bearer: client_id without azp (zitadel)", typ: "JWT",
			claims: claims(map[string]any{"client_id": "hoop-cli", "jti": "j-1", "auth_time": nil, "nonce": nil}), reason: ErrNotIDToken,
			msg: `token is an access token (client_id "hoop-cli", and no azp naming that client as an ID token would)`},
		{name: "access token as bearer: client_id other than azp", typ: "JWT", claims: claims(map[string]any{"client_id": "other-app", "azp": "hoop-cli"}), reason: ErrNotIDToken,
			msg: `token is an access token (client_id "other-app"`},
		{name: "access token as bearer: scope claim (Auth0, RFC 9068)", typ: "JWT", claims: claims(map[string]any{"scope": "openid email", "azp": "hoop-cli"}), reason: ErrNotIDToken,
			msg: `token is an access token (it has a scope claim, which ID tokens do not)`},
		{name: "access token as bearer: scp claim (Okta, Azure AD)", typ: "JWT", claims: claims(map[string]any{"scp": []string{"openid"}}), reason: ErrNotIDToken,
			msg: `token is an access token (it has a scp claim`},
		{name: "access token as bearer: Keycloak typ Bearer", typ: "JWT", claims: claims(map[string]any{"typ": "Bearer", "azp": "hoop-cli"}), reason: ErrNotIDToken,
			msg: `token is an access token (typ claim "Bearer")`},
		{name: "access token as bearer: Cognito token_use access", typ: "JWT", claims: claims(map[string]any{"token_use": "access"}), reason: ErrNotIDToken,
			msg: `token is not an ID token (token_use "access")`},
		{name: "refresh token as bearer: a signed JWT (Keycloak typ Refresh)", typ: "JWT", claims: claims(map[string]any{"typ": "Refresh", "azp": "hoop-cli"}), reason: ErrNotIDToken,
			msg: `token is a refresh token (typ claim "Refresh")`},
		{name: "refresh token as bearer: offline (Keycloak typ Offline)", typ: "JWT", claims: claims(map[string]any{"typ": "Offline"}), reason: ErrNotIDToken,
			msg: `token is a refresh token (typ claim "Offline")`},
		{name: "not an ID token: a logout token", typ: "logout+jwt", claims: claims(map[string]any{"events": map[string]any{}}), reason: ErrNotIDToken,
			msg: `token is not an ID token (header typ "logout+jwt")`},
	}
	ctx := context.Background()
	machines := []Machine{{ClientID: "ci-bot", Audience: "hoop-machines", Identity: "machine:ci-bot"}}
	withMachines := cfg
	withMachines.Machines = machines
	for _, vt := range []struct {
		name string
		v    verifier
	}{
		{"Verifier", NewVerifier(cfg)},
		{"Verifiers", NewVerifiers(cfg, nil)},
		{"Verifiers with machines", NewVerifiers(withMachines, nil)},
	} {
		for _, tt := range tests {
			t.Run(vt.name+"/"+tt.name, func(t *testing.T) {
				id, err := vt.v.Verify(ctx, is.signRaw(t, tt.typ, tt.claims))
				if tt.reason == nil {
					if err != nil {
						t.Fatalf("refused: %v", err)
					}
					if id.Subject != "alice" || id.Workload != "" {
						t.Errorf("got %+v, want alice, a person", id)
					}
					return
				}
				if err == nil {
					t.Fatalf("accepted as %+v, want a refusal: %s", id, tt.msg)
				}
				if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tt.reason) {
					t.Errorf("got %v, want ErrInvalidToken and %v", err, tt.reason)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("got  %q\nwant it to contain %q", err, tt.msg)
				}
			})
		}
	}
}

// TestTokenHygieneOpaque: an opaque string, as most identity providers issue refresh
// tokens and many issue access tokens, is refused as a bearer with a message that says so.
func TestTokenHygieneOpaque(t *testing.T) {
	is := newIssuer(t)
	cfg := Config{Issuer: is.srv.URL, Audience: "hoop-cli"}
	for _, v := range []verifier{NewVerifier(cfg), NewVerifiers(cfg, nil)} {
		for _, raw := range []string{"8xLOxBtZp8", "tGzv3JOkF0XG5Qx2TlKWIA", "a.b", "a.b.c.d", "eyJhbGciOiJSUzI1NiJ9.e30"} {
			_, err := v.Verify(context.Background(), raw)
			if !errors.Is(err, ErrNotIDToken) || !strings.Contains(err.Error(), "an opaque access or refresh token is never accepted as the bearer") {
				t.Errorf("Verify(%q): got %v, want ErrNotIDToken saying an opaque token is not accepted", raw, err)
			}
		}
	}
}

// TestTokenHygieneMachinesAndWorkloads: the lifetime cap holds on every path; a machine's
// client-credentials access token goes on working under its own audience, and a
// workload's token must name its audience alone (no client of ours can be its azp).
func TestTokenHygieneMachinesAndWorkloads(t *testing.T) {
	people := testissuer.New(t)
	gh := testissuer.New(t)
	now := time.Now()
	vs := NewVerifiers(Config{Issuer: people.URL(), Audience: "hoop-cli", MaxLifetime: time.Hour,
		Machines: []Machine{{ClientID: "ci-bot", Audience: "hoop-machines", Identity: "machine:ci-bot"}}},
		[]Workload{{Name: "ci", Issuer: gh.URL(), Audience: "hoop",
			Mappings: []Mapping{{When: map[string]string{"repository": "acme/app"}, Identity: "ci:{repository}"}}}})
	tests := []struct {
		name   string
		token  string
		want   string // the identity's subject, or "" for a refusal
		reason error
	}{
		{"a machine's client-credentials access token", people.Token(map[string]any{"aud": "hoop-machines", "sub": "ci-bot", "client_id": "ci-bot", "scope": "hoop"}), "machine:ci-bot", nil},
		{"a workload token", gh.Token(map[string]any{"aud": "hoop", "repository": "acme/app"}), "ci:acme/app", nil},
		{"machine: over-long lifetime", people.Token(map[string]any{"aud": "hoop-machines", "client_id": "ci-bot", "exp": now.Add(2 * time.Hour)}), "", ErrLifetime},
		{"machine: missing iat", people.Token(map[string]any{"aud": "hoop-machines", "client_id": "ci-bot", "iat": nil}), "", ErrLifetime},
		{"workload: over-long lifetime", gh.Token(map[string]any{"aud": "hoop", "repository": "acme/app", "exp": now.Add(2 * time.Hour)}), "", ErrLifetime},
		{"workload: missing iat", gh.Token(map[string]any{"aud": "hoop", "repository": "acme/app", "iat": nil}), "", ErrLifetime},
		{"workload: multi-audience", gh.Token(map[string]any{"aud": []string{"hoop", "other"}, "repository": "acme/app"}), "", ErrWrongAudience},
		{"workload: multi-audience with azp", gh.Token(map[string]any{"aud": []string{"hoop", "other"}, "azp": "hoop", "repository": "acme/app"}), "", ErrWrongAudience},
		{"person: the cap is the configured one", people.Token(map[string]any{"aud": "hoop-cli", "sub": "alice", "exp": now.Add(61 * time.Minute)}), "", ErrLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := vs.Verify(context.Background(), tt.token)
			if tt.want != "" {
				if err != nil || id.Subject != tt.want {
					t.Fatalf("got %+v, %v; want %s", id, err, tt.want)
				}
				return
			}
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tt.reason) {
				t.Fatalf("got %+v, %v; want ErrInvalidToken and %v", id, err, tt.reason)
			}
		})
	}
}
