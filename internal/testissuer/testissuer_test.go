package testissuer_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/hoopgw/hoop/internal/testissuer"
)

// TestIssuer: a real OIDC library discovers the issuer and accepts its tokens, and
// refuses the forged ones.
func TestIssuer(t *testing.T) {
	is := testissuer.New(t)
	ctx := oidc.ClientContext(t.Context(), nil)
	p, err := oidc.NewProvider(ctx, is.URL())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	v := p.Verifier(&oidc.Config{ClientID: "hoop", SupportedSigningAlgs: []string{oidc.ES256}})

	tok, err := v.Verify(ctx, is.Token(map[string]any{"sub": "alice", "aud": "hoop", "repository": "acme/app"}))
	if err != nil {
		t.Fatalf("Token: refused: %v", err)
	}
	var c struct {
		Repository string `json:"repository"`
	}
	if err := tok.Claims(&c); err != nil || tok.Subject != "alice" || tok.Issuer != is.URL() || c.Repository != "acme/app" {
		t.Errorf("claims: got sub %q, iss %q, repository %q, %v", tok.Subject, tok.Issuer, c.Repository, err)
	}
	if time.Until(tok.Expiry) < 50*time.Minute {
		t.Errorf("exp: got %s, want about an hour from now", tok.Expiry)
	}

	if _, err := v.Verify(ctx, is.Token(map[string]any{"sub": "bob", "aud": "hoop"})); err != nil {
		t.Fatalf("second token: refused: %v", err)
	}
	if d, k := is.Fetches(); d != 1 || k != 1 {
		t.Errorf("Fetches: got %d, %d; want 1, 1 (the keys are cached)", d, k)
	}

	if _, err := v.Verify(ctx, is.Forge(map[string]any{"sub": "alice", "aud": "hoop"})); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("Forge: got %v, want a signature error", err)
	}
	expired := is.Token(map[string]any{"sub": "alice", "aud": "hoop", "exp": time.Now().Add(-time.Minute)})
	if _, err := v.Verify(ctx, expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: got %v, want an expiry error", err)
	}
}

// TestTokenDefaults: iss, iat and exp are set unless a claim replaces them; nil leaves one
// out.
func TestTokenDefaults(t *testing.T) {
	is := testissuer.New(t)
	claims := func(raw string) map[string]any {
		t.Helper()
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("got %d parts, want 3", len(parts))
		}
		b, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	c := claims(is.Token(nil))
	if c["iss"] != is.URL() || c["iat"] == nil || c["exp"] == nil || len(c) != 3 {
		t.Errorf("defaults: got %v", c)
	}
	c = claims(is.Token(map[string]any{"iss": "https://other.example.com", "exp": nil}))
	if c["iss"] != "https://other.example.com" || c["exp"] != nil {
		t.Errorf("replaced: got %v", c)
	}
}
