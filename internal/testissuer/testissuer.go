// Package testissuer is a small, real OIDC issuer for tests: an httptest server that
// serves a discovery document (/.well-known/openid-configuration) and a JWKS (/keys), and
// mints signed JWTs with any claims, good or bad.
//
//	is := testissuer.New(t)
//	raw := is.Token(map[string]any{"sub": "alice", "aud": "hoop-cli"})
//	forged := is.Forge(map[string]any{"sub": "alice", "aud": "hoop-cli"})
//
// The key is ECDSA P-256 (ES256): quick to make, so a test can start several issuers.
// Verifiers see it exactly as they see a real identity provider or a CI system's token
// service (GitHub Actions, GitLab CI): over HTTP, through discovery.
package testissuer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// KeyID is the kid of the issuer's key, in its JWKS and in the header of every token it
// mints (forged ones included).
const KeyID = "test-key-1"

// Issuer is a running test issuer. Its server closes when the test ends.
type Issuer struct {
	t      testing.TB
	srv    *httptest.Server
	key    *ecdsa.PrivateKey // signs tokens; its public half is in the JWKS
	forger *ecdsa.PrivateKey // signs forged tokens; nobody publishes it

	mu        sync.Mutex
	discovery int // requests for the discovery document
	keys      int // requests for the JWKS
}

// New starts an issuer for the test t.
func New(t testing.TB) *Issuer {
	t.Helper()
	is := &Issuer{t: t, key: newKey(t), forger: newKey(t)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		is.count(&is.discovery)
		writeJSON(w, map[string]any{
			"issuer":                                is.srv.URL,
			"jwks_uri":                              is.srv.URL + "/keys",
			"authorization_endpoint":                is.srv.URL + "/authorize",
			"token_endpoint":                        is.srv.URL + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{string(jose.ES256)},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		is.count(&is.keys)
		writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &is.key.PublicKey, KeyID: KeyID, Algorithm: string(jose.ES256), Use: "sig"},
		}})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testissuer: %v", err)
	}
	return key
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (is *Issuer) count(n *int) {
	is.mu.Lock()
	*n++
	is.mu.Unlock()
}

// URL returns the issuer's URL, the iss of its tokens: "http://127.0.0.1:41234".
func (is *Issuer) URL() string { return is.srv.URL }

// Fetches returns how many times the discovery document and the JWKS were requested, so
// that a test can prove a verifier caches them.
func (is *Issuer) Fetches() (discovery, keys int) {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.discovery, is.keys
}

// Token returns a JWT with claims, signed with the issuer's key. iss defaults to URL, iat
// to now and exp to an hour from now; a claim in claims replaces its default, and a nil
// value leaves the claim out ("exp": nil mints a token that never expires). Times may be
// given as time.Time. Nothing else is added: set sub and aud as the test needs.
func (is *Issuer) Token(claims map[string]any) string {
	is.t.Helper()
	return is.sign(is.key, claims)
}

// Forge is Token signed with another key under the issuer's kid: a token whose signature
// a verifier must refuse.
func (is *Issuer) Forge(claims map[string]any) string {
	is.t.Helper()
	return is.sign(is.forger, claims)
}

func (is *Issuer) sign(key *ecdsa.PrivateKey, claims map[string]any) string {
	is.t.Helper()
	now := time.Now()
	all := map[string]any{"iss": is.srv.URL, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		switch v := v.(type) {
		case nil:
			delete(all, k)
		case time.Time:
			all[k] = v.Unix()
		default:
			all[k] = v
		}
	}
	payload, err := json.Marshal(all)
	if err != nil {
		is.t.Fatalf("testissuer: claims: %v", err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", KeyID))
	if err != nil {
		is.t.Fatalf("testissuer: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		is.t.Fatalf("testissuer: sign: %v", err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		is.t.Fatalf("testissuer: %v", err)
	}
	return raw
}
