// Package identity verifies the OIDC tokens that callers present to the gateway and turns
// them into an Identity: who the caller is and which groups they are in.
//
// Verification is done by github.com/coreos/go-oidc: the signature against the issuer's
// JWKS, the issuer and the expiry. Only asymmetric algorithms are accepted, so `alg: none`
// and HMAC tokens signed with a public key are refused. This package adds, for every
// token, whatever its issuer:
//
//   - a lifetime cap: a token must have iat, not in the future, and exp − iat at most
//     Config.MaxLifetime (24h by default), so a token minted to live for weeks is refused
//     even though its signature is good;
//   - an exact audience: the token's aud must name the audience configured for its path
//     (the people's, a machine's, a workload's). A token with several audiences is
//     accepted only when its azp names the client of that path (OpenID Connect Core
//     3.1.3.7): the people's client id, or the machine's; a workload has no client of
//     ours, so its tokens must have exactly one audience;
//   - azp, when present, must name that client too: a token the identity provider
//     issued to another client is not ours even when our audience is in it.
//
// A person's bearer must be an ID token. The identity provider's access tokens and
// refresh tokens are refused even when they are signed JWTs with our audience (as the
// identity provider issues its access tokens for our client): see bearerKind for how one
// is told from an ID token. Machine clients keep working: their client-credentials access
// tokens come under their own audience, on their own path.
//
// People log in at one issuer (Verifier). Besides it, the gateway may trust workload
// issuers, such as GitHub Actions or GitLab CI, whose tokens prove which job runs, not who
// a person is (Verifiers): a workload's mappings turn a token's claims into an identity
// and groups, so CI reaches a database with no long-lived secret. The people's issuer may
// also issue tokens to machine clients (client_credentials); Verifiers accepts those of
// the configured machines, each as the identity configured for it.
//
//	token ─▶ not a JWT (an opaque access or refresh token) ─▶ refused
//	      ─▶ its iss, read unverified, picks the issuer whose keys verify it
//	         (every path: signature, expiry, iat and the lifetime cap, exact audience, azp)
//	         ├─ the people's ─▶ verify ─▶ for the people's audience: an ID token only; sub, email, the groups claim
//	         │                          └▶ for a machine audience: client_id (azp, sub) ─▶ a configured machine's identity, its groups
//	         ├─ a workload's ─▶ verify ─▶ the first mapping whose When holds ─▶ "ci:acme/app@main", its groups
//	         └─ any other    ─▶ refused: untrusted issuer
package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
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
	// Workload names the workload issuer whose mapping made this identity
	// ("github-actions"); empty for a person.
	Workload string
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
	// A machine or workload whose configured identity is spelled like a person's is
	// still not that person.
	return id.Issuer == other.Issuer && id.Subject == other.Subject && id.Workload == other.Workload
}

// Config says which tokens to trust.
type Config struct {
	Issuer      string   // "https://idp.example.com"
	Audience    string   // the client id the tokens are issued to: "hoop-cli"
	GroupsClaim string   // "groups"; a dotted path reaches into objects: "realm_access.roles"
	Algorithms  []string // accepted signing algorithms; default RS256, ES256, EdDSA and friends
	// ClientID is the people's client: "hoop-cli". A token's azp, when present, must
	// be it; "" means Audience (the usual case: ID tokens are issued for the client).
	ClientID string
	// MaxLifetime is the longest exp − iat accepted from any issuer: 24h (the default)
	// when zero.
	MaxLifetime time.Duration
	// Machines are the issuer's machine clients (client_credentials grant) whose access
	// tokens Verifiers accepts; Verifier ignores them.
	Machines []Machine
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// DefaultMaxLifetime is Config.MaxLifetime when it is not set.
const DefaultMaxLifetime = 24 * time.Hour

// issuedAtSkew is how far in the future a token's iat may be: the issuer's clock may be
// a little ahead of the gateway's (go-oidc allows as much for nbf).
const issuedAtSkew = 5 * time.Minute

// Errors returned by Verify. Each wraps the underlying reason.
var (
	// ErrNoToken is returned for an empty token.
	ErrNoToken = errors.New("no token")
	// ErrInvalidToken is returned for a token that fails verification. The errors below
	// that say why a token is refused are ErrInvalidToken too (errors.Is).
	ErrInvalidToken = errors.New("invalid token")
	// ErrUntrustedIssuer is returned for a token from an issuer the gateway does not
	// trust.
	ErrUntrustedIssuer = errors.New("untrusted token issuer")
	// ErrWrongAudience is returned for a token issued for another audience than the one
	// its issuer's tokens must have.
	ErrWrongAudience = errors.New("wrong token audience")
	// ErrUnknownClient is returned for a token of the people's issuer, for a machine
	// audience, whose client is not one of the configured machines.
	ErrUnknownClient = errors.New("unknown machine client")
	// ErrNoMapping is returned for a workload token whose claims no mapping of its
	// workload turns into an identity.
	ErrNoMapping = errors.New("no workload mapping")
	// ErrNotIDToken is returned for a token of the people's issuer, for the people's
	// audience, that is not an ID token: the identity provider's access token or refresh
	// token presented as a person's bearer.
	ErrNotIDToken = errors.New("not an ID token")
	// ErrLifetime is returned for a token without iat, issued in the future, or whose
	// exp − iat is longer than the gateway accepts (Config.MaxLifetime).
	ErrLifetime = errors.New("token lifetime not accepted")
	// ErrWrongClient is returned for a token whose azp names another client than the
	// one of its path, or that has several audiences and no azp naming that client.
	ErrWrongClient = errors.New("token issued to another client")
	// ErrIssuerUnavailable is returned when the issuer's discovery document or keys
	// cannot be fetched.
	ErrIssuerUnavailable = errors.New("identity provider unavailable")
)

// Verifier checks tokens against one issuer. Discovery happens on first use and is retried
// until it succeeds, so the gateway can start before its identity provider.
type Verifier struct {
	cfg    Config
	remote *remote
}

// NewVerifier returns a Verifier for cfg.
func NewVerifier(cfg Config) *Verifier {
	if cfg.GroupsClaim == "" {
		cfg.GroupsClaim = "groups"
	}
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = defaultAlgorithms()
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Audience
	}
	if cfg.MaxLifetime <= 0 {
		cfg.MaxLifetime = DefaultMaxLifetime
	}
	return &Verifier{cfg: cfg, remote: &remote{url: cfg.Issuer, audience: cfg.Audience, client: cfg.ClientID,
		algs: cfg.Algorithms, now: cfg.Now, maxLifetime: cfg.MaxLifetime}}
}

func defaultAlgorithms() []string {
	return []string{oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA}
}

// Verify checks a raw token and returns the identity it proves. It accepts people's
// tokens only, never a machine client's (Config.Machines is for Verifiers).
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Identity{}, ErrNoToken
	}
	if err := notOpaque(raw); err != nil {
		return Identity{}, err
	}
	tok, err := v.remote.verify(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	if err := v.checkBearer(raw); err != nil {
		return Identity{}, err
	}
	return v.identity(tok)
}

// identity is the person a verified token names.
func (v *Verifier) identity(tok *oidc.IDToken) (Identity, error) {
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

// remote checks the signature, issuer, expiry and audience of tokens from one issuer. Its
// discovery document is fetched on first use and retried until it comes; its keys are
// cached by go-oidc, which fetches them again only for a token it cannot verify with
// them (a key rotation).
type remote struct {
	url         string           // "https://token.actions.githubusercontent.com"
	audience    string           // "hoop"; "" refuses every token
	client      string           // "hoop-cli": what azp must be; "" (a workload): no client, one audience only
	algs        []string         // accepted signing algorithms
	now         func() time.Time // nil: time.Now
	maxLifetime time.Duration    // the longest exp − iat accepted: 24h

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier
}

func (r *remote) get(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.verifier != nil {
		return r.verifier, nil
	}
	// The provider's key set outlives this request, so it must not inherit its context.
	pctx := oidc.ClientContext(context.WithoutCancel(ctx), nil)
	dctx, cancel := context.WithTimeout(pctx, 10*time.Second)
	defer cancel()
	p, err := oidc.NewProvider(dctx, r.url)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery at %s: %v", ErrIssuerUnavailable, r.url, err)
	}
	ks := oidc.NewRemoteKeySet(pctx, jwksURL(p))
	r.verifier = oidc.NewVerifier(r.url, ks, &oidc.Config{
		// The audience is checked below, after the signature, with a message that names
		// the audience this gateway expects.
		SkipClientIDCheck:    true,
		SupportedSigningAlgs: r.algs,
		Now:                  r.now,
	})
	return r.verifier, nil
}

func jwksURL(p *oidc.Provider) string {
	var meta struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = p.Claims(&meta)
	return meta.JWKS
}

// verify checks raw's signature, issuer, expiry, lifetime, audience and azp.
func (r *remote) verify(ctx context.Context, raw string) (*oidc.IDToken, error) {
	tok, err := r.verifySigned(ctx, raw)
	if err != nil {
		return nil, err
	}
	if err := checkAudience(tok, r.url, r.audience, r.client, "tokens from "+r.url); err != nil {
		return nil, err
	}
	return tok, nil
}

// verifySigned checks raw's signature, issuer, expiry and lifetime, not its audience.
func (r *remote) verifySigned(ctx context.Context, raw string) (*oidc.IDToken, error) {
	ver, err := r.get(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := ver.Verify(ctx, raw)
	if err != nil {
		var expired *oidc.TokenExpiredError
		if errors.As(err, &expired) {
			return nil, fmt.Errorf("%w: token expired at %s", ErrInvalidToken, expired.Expiry.UTC().Format(time.RFC3339))
		}
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if err := r.checkLifetime(tok); err != nil {
		return nil, err
	}
	return tok, nil
}

// checkLifetime refuses a token without iat, issued in the future, or meant to live
// longer than r accepts. The cap bounds what a leaked token is worth, whatever lifetime
// the issuer was configured with.
func (r *remote) checkLifetime(tok *oidc.IDToken) error {
	now := time.Now
	if r.now != nil {
		now = r.now
	}
	switch {
	case tok.IssuedAt.IsZero():
		return &refusal{ErrLifetime, "token has no iat claim, so its lifetime cannot be checked: this gateway accepts only tokens that say when they were issued"}
	case tok.IssuedAt.After(now().Add(issuedAtSkew)):
		return &refusal{ErrLifetime, fmt.Sprintf("token is issued in the future (iat %s): check the identity provider's clock",
			tok.IssuedAt.UTC().Format(time.RFC3339))}
	}
	if life := tok.Expiry.Sub(tok.IssuedAt); life > r.maxLifetime {
		return &refusal{ErrLifetime, fmt.Sprintf("token lifetime %s (iat %s, exp %s) is longer than the %s this gateway accepts (auth.max_token_lifetime): have %s issue shorter-lived tokens",
			life, tok.IssuedAt.UTC().Format(time.RFC3339), tok.Expiry.UTC().Format(time.RFC3339), r.maxLifetime, r.url)}
	}
	return nil
}

// checkAudience refuses a verified token that is not for audience, or that another client
// than client was issued: its aud must name audience; with several audiences its azp must
// name client (OpenID Connect Core 3.1.3.7), and a token of a path with no client of ours
// (client "", a workload) must have audience alone; an azp present must be client. whose
// names the tokens in messages: "tokens from https://idp.example.com".
func checkAudience(tok *oidc.IDToken, issuer, audience, client, whose string) error {
	if audience == "" {
		return &refusal{ErrWrongAudience, "no audience is configured for " + issuer + ", so none of its tokens is accepted"}
	}
	if !slices.Contains(tok.Audience, audience) {
		return &refusal{ErrWrongAudience, fmt.Sprintf("token audience %s is not this gateway's: %s must be issued for audience %q",
			quoteList(tok.Audience), whose, audience)}
	}
	azp, hasAzp := authorizedParty(tok)
	switch {
	case client == "" && len(tok.Audience) > 1:
		return &refusal{ErrWrongAudience, fmt.Sprintf("token has several audiences %s: %s must be issued for audience %q alone",
			quoteList(tok.Audience), whose, audience)}
	case client == "":
	case hasAzp && azp != client:
		return &refusal{ErrWrongClient, fmt.Sprintf("token was issued to client %s (azp), not to %q: %s must be issued to %q",
			quote(azp), client, whose, client)}
	case len(tok.Audience) > 1 && !hasAzp:
		return &refusal{ErrWrongClient, fmt.Sprintf("token has several audiences %s and no azp: such a token is accepted only when its azp names %q, the client it was issued to",
			quoteList(tok.Audience), client)}
	}
	return nil
}

// authorizedParty returns a verified token's azp claim; present is true when the claim is
// there at all, so that an empty or non-string azp counts as naming another client.
func authorizedParty(tok *oidc.IDToken) (azp string, present bool) {
	var c struct {
		Azp any `json:"azp"`
	}
	if err := tok.Claims(&c); err != nil || c.Azp == nil {
		return "", false
	}
	s, ok := c.Azp.(string)
	if !ok {
		b, _ := json.Marshal(c.Azp)
		return string(b), true
	}
	return s, true
}

// refusal is a token refused for a reason a caller can test with errors.Is: it is both
// ErrInvalidToken and its reason.
type refusal struct {
	reason error  // ErrUntrustedIssuer, ErrWrongAudience, ErrWrongClient, ErrUnknownClient, ErrNoMapping, ErrNotIDToken or ErrLifetime
	msg    string // "token issuer \"https://evil.example.com\" is not trusted by this gateway"
}

func (e *refusal) Error() string { return ErrInvalidToken.Error() + ": " + e.msg }

func (e *refusal) Is(target error) bool { return target == ErrInvalidToken || target == e.reason }

// quoteList prints values from a token for a message: quoted, so that control characters
// show as escapes, and cut short, so that a huge claim does not make a huge message.
func quoteList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = quote(v)
	}
	return "[" + strings.Join(q, " ") + "]"
}

// quote is %q of s cut to 100 bytes.
func quote(s string) string {
	const limit = 100
	if len(s) > limit {
		return strconv.Quote(s[:limit]) + "…"
	}
	return strconv.Quote(s)
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
