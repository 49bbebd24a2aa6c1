// Package identity verifies the OIDC tokens that callers present to the gateway and turns
// them into an Identity: who the caller is and which groups they are in.
//
// Verification is done by github.com/coreos/go-oidc: the signature against the issuer's
// JWKS, the issuer, the audience and the expiry. Only asymmetric algorithms are accepted,
// so `alg: none` and HMAC tokens signed with a public key are refused.
package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Identity is a verified caller.
type Identity struct {
	Subject string    // "alice"
	Issuer  string    // "http://127.0.0.1:8443/oidc"
	Email   string    // "alice@example.com"
	Name    string    // "Alice Example"
	Groups  []string  // ["engineering"]
	Expiry  time.Time // when the token that proved it expires
}

// String names the identity for logs and messages: the e-mail when there is one.
func (id Identity) String() string {
	if id.Email != "" {
		return id.Email
	}
	return id.Subject
}

// Same reports whether two identities are the same principal (issuer and subject).
func (id Identity) Same(other Identity) bool {
	return id.Issuer == other.Issuer && id.Subject == other.Subject
}

// Config says which tokens to trust.
type Config struct {
	Issuer      string   // "https://idp.example.com"
	Audience    string   // the client id the tokens are issued to: "hoop-cli"
	GroupsClaim string   // "groups"; a dotted path reaches into objects: "realm_access.roles"
	Algorithms  []string // accepted signing algorithms; default RS256, ES256, EdDSA and friends
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// Errors returned by Verify. Each wraps the underlying reason.
var (
	// ErrNoToken is returned for an empty token.
	ErrNoToken = errors.New("no token")
	// ErrInvalidToken is returned for a token that fails verification.
	ErrInvalidToken = errors.New("invalid token")
	// ErrIssuerUnavailable is returned when the issuer's discovery document or keys
	// cannot be fetched.
	ErrIssuerUnavailable = errors.New("identity provider unavailable")
)

// Verifier checks tokens against one issuer. Discovery happens on first use and is retried
// until it succeeds, so the gateway can start before its identity provider.
type Verifier struct {
	cfg Config

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}
	}
	return &Verifier{cfg: cfg}
}

func (v *Verifier) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.verifier != nil {
		return v.verifier, nil
	}
	// The provider's key set outlives this request, so it must not inherit its context.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), nil)
	dctx, cancel := context.WithTimeout(pctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, v.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %v", ErrIssuerUnavailable, v.cfg.Issuer, err)
	}
	ks := oidc.NewRemoteKeySet(pctx, jwksURL(p))
	v.verifier = oidc.NewVerifier(v.cfg.Issuer, ks, &oidc.Config{
		ClientID:             v.cfg.Audience,
		SupportedSigningAlgs: v.cfg.Algorithms,
		Now:                  v.cfg.Now,
	})
	return v.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&meta)
	return meta.JWKS
}

// Verify checks a raw token and returns the identity it proves.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Identity{}, ErrNoToken
	}
	ver, err := v.get(ctx)
	if err != nil {
		return Identity{}, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return Identity{}, fmt.Errorf("%w: token expired at %s", ErrInvalidToken, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	if tok.Subject == "" {
		return Identity{}, fmt.Errorf("%w: token has no sub claim", ErrInvalidToken)
	}
	id := Identity{
		Subject: tok.Subject,
		Issuer:  tok.Issuer,
		Expiry:  tok.Expiry,
		Email:   stringClaim(claims, "email"),
		Name:    stringClaim(claims, "name"),
	}
	groups, err := groupsClaim(claims, v.cfg.GroupsClaim)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	id.Groups = groups
	return id, nil
}

func stringClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// groupsClaim reads the groups from a claim that is a list of strings or one string,
// following a dotted path into nested objects. A missing claim means no groups.
func groupsClaim(claims map[string]any, path string) ([]string, error) {
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, nil
		}
		cur, ok = obj[part]
		if !ok {
			return nil, nil
		}
	}
	switch v := cur.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{v}, nil
	case []any:
		out := make([]string, 0, len(v))
		for i, g := range v {
			s, ok := g.(string)
			if !ok {
				return nil, fmt.Errorf("claim %s[%d] is %T, want a string", path, i, g)
			}
			out = append(out, s)
		}
		slices.Sort(out)
		return slices.Compact(out), nil
	default:
		return nil, fmt.Errorf("claim %s is %T, want a list of strings", path, cur)
	}
}
