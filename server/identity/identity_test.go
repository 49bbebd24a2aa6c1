package identity

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/internal/testissuer"
)

// issuer is a minimal OIDC issuer for tests: discovery and JWKS over real HTTP, and a
// signer that can mint any token, good or bad.
type issuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                is.srv.URL,
			"jwks_uri":                              is.srv.URL + "/keys",
			"authorization_endpoint":                is.srv.URL + "/auth",
			"token_endpoint":                        is.srv.URL + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

type claims struct {
	jwt.Claims
	Email  string `json:"email,omitempty"`
	Groups any    `json:"groups,omitempty"`
}

func (is *issuer) sign(t *testing.T, key *rsa.PrivateKey, c claims) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(sig).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func (is *issuer) claims(sub string) claims {
	now := time.Now()
	return claims{
		Claims: jwt.Claims{Issuer: is.srv.URL, Subject: sub, Audience: jwt.Audience{"hoop-cli"},
			IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(time.Hour))},
		Email:  sub + "@example.com",
		Groups: []string{"engineering", "dba"},
	}
}

// unsigned builds an `alg: none` token for c.
func unsigned(t *testing.T, c claims) string {
	t.Helper()
	hdr, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": "k1"})
	body, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc(hdr) + "." + enc(body) + "."
}

// verifier is what the gateway verifies tokens with: a Verifier (people only) or
// Verifiers (people and workloads).
type verifier interface {
	Verify(ctx context.Context, raw string) (Identity, error)
}

// TestVerify: people's tokens, good and bad, through a Verifier and through Verifiers that
// also trust a workload issuer: the people's side behaves the same.
func TestVerify(t *testing.T) {
	is := newIssuer(t)
	cfg := Config{Issuer: is.srv.URL, Audience: "hoop-cli", GroupsClaim: "groups"}
	ci := testissuer.New(t)
	for _, vt := range []struct {
		name string
		v    verifier
		// wrongIss is what a token from another issuer is refused with.
		wrongIss string
	}{
		{"Verifier", NewVerifier(cfg), "issued by a different provider"},
		{"Verifiers", NewVerifiers(cfg, []Workload{{Name: "ci", Issuer: ci.URL(), Audience: "hoop-cli",
			Mappings: []Mapping{{When: map[string]string{"sub": "alice"}, Identity: "ci:{sub}"}}}}),
			`token issuer "https://evil.example.com" is not trusted by this gateway`},
	} {
		t.Run(vt.name, func(t *testing.T) { testVerify(t, is, vt.v, vt.wrongIss) })
	}
}

func testVerify(t *testing.T, is *issuer, v verifier, wrongIssMsg string) {
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	good := is.claims("alice")
	id, err := v.Verify(ctx, is.sign(t, is.key, good))
	if err != nil {
		t.Fatalf("good token refused: %v", err)
	}
	want := Identity{Subject: "alice", Issuer: is.srv.URL, Email: "alice@example.com", Groups: []string{"dba", "engineering"}, Expiry: good.Expiry.Time()}
	if diff := cmp.Diff(want, id); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}

	expired := is.claims("alice")
	expired.Expiry = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	expired.IssuedAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	wrongIss := is.claims("alice")
	wrongIss.Issuer = "https://evil.example.com"
	wrongAud := is.claims("alice")
	wrongAud.Audience = jwt.Audience{"some-other-app"}
	noSub := is.claims("")
	badGroups := is.claims("alice")
	badGroups.Groups = []any{"ok", 7}

	tests := []struct {
		name, token, want string
	}{
		{"empty", "", "no token"},
		{"garbage", "not.a.jwt", "invalid token"},
		{"expired", is.sign(t, is.key, expired), "token expired"},
		{"forged: signed by another key with the issuer's kid", is.sign(t, other, good), "failed to verify signature"},
		{"wrong issuer", is.sign(t, is.key, wrongIss), wrongIssMsg},
		{"wrong audience", is.sign(t, is.key, wrongAud), `token audience ["some-other-app"] is not this gateway's: tokens from ` + is.srv.URL + ` must be issued for audience "hoop-cli"`},
		{"alg none", unsigned(t, good), "invalid token"},
		{"no subject", is.sign(t, is.key, noSub), "no sub claim"},
		{"groups not strings", is.sign(t, is.key, badGroups), "groups[1] is float64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(ctx, tt.token)
			if err == nil {
				t.Fatalf("token accepted, want an error containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
			if tt.token != "" && !errors.Is(err, ErrInvalidToken) {
				t.Errorf("got %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestGroupsClaimShapes(t *testing.T) {
	tests := []struct {
		name   string
		claims string
		path   string
		want   []string
	}{
		{"list", `{"groups":["b","a","a"]}`, "groups", []string{"a", "b"}},
		{"one string", `{"groups":"dba"}`, "groups", []string{"dba"}},
		{"missing", `{}`, "groups", nil},
		{"nested", `{"realm_access":{"roles":["dba"]}}`, "realm_access.roles", []string{"dba"}},
		{"nested missing", `{"realm_access":"x"}`, "realm_access.roles", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c map[string]any
			if err := json.Unmarshal([]byte(tt.claims), &c); err != nil {
				t.Fatal(err)
			}
			got, err := groupsClaim(c, tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssuerDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	v := NewVerifier(Config{Issuer: srv.URL, Audience: "hoop-cli"})
	_, err := v.Verify(context.Background(), "a.b.c")
	if !errors.Is(err, ErrIssuerUnavailable) {
		t.Fatalf("got %v, want ErrIssuerUnavailable", err)
	}
}

// TestSameWorkload: a machine or workload identity spelled like a person is not that person.
func TestSameWorkload(t *testing.T) {
	alice := Identity{Issuer: "https://idp", Subject: "alice"}
	machine := Identity{Issuer: "https://idp", Subject: "alice", Workload: "machine:ci-bot"}
	if alice.Same(machine) || machine.Same(alice) {
		t.Error("a machine named alice is taken for alice")
	}
	if !machine.Same(machine) || !alice.Same(Identity{Issuer: "https://idp", Subject: "alice", Email: "a@x"}) {
		t.Error("an identity is not the same as itself")
	}
}
