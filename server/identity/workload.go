package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// Workload is an issuer of tokens that prove which CI job or workload runs, such as GitHub
// Actions or GitLab CI, and how its tokens' claims map to an identity.
type Workload struct {
	Name     string    // "github-actions": in logs and messages
	Issuer   string    // "https://token.actions.githubusercontent.com"
	Audience string    // "hoop": the aud the job asks its token for; required
	Mappings []Mapping // the first whose When holds makes the identity; none: refused
}

// Mapping turns the claims of a workload token into an identity.
//
// Claims are compared as strings: a string claim as it is, a boolean as "true" or "false",
// an integer in decimal. Any other claim (a list, an object) matches nothing.
type Mapping struct {
	// When is the claims a token must have, all of them: {"repository": "acme/app",
	// "ref": "refs/heads/main"}. A value ending in * matches by prefix: "refs/tags/v*".
	// An absent or empty claim matches nothing; a Mapping with no When matches no token,
	// so that a mistake does not trust every job an issuer signs for.
	When map[string]string
	// Identity is the identity's subject, a template over the token's claims:
	// "ci:{repository}@{ref_name}". A claim it names that the token lacks, or has empty,
	// refuses the token.
	Identity string
	Groups   []string // ["ci-deploy"]
}

// TemplateClaims returns the claims an identity template names, in order:
// "ci:{repository}@{ref_name}" → [repository ref_name]. A template with unbalanced braces,
// an empty {}, a space in a claim name or no claim at all is an error.
func TemplateClaims(template string) ([]string, error) {
	parts, err := parseTemplate(template)
	if err != nil {
		return nil, err
	}
	var claims []string
	for _, p := range parts {
		if p.claim != "" {
			claims = append(claims, p.claim)
		}
	}
	return claims, nil
}

// templatePart is a literal or a claim of a template.
type templatePart struct {
	literal string // "ci:"
	claim   string // "repository"
}

func parseTemplate(s string) ([]templatePart, error) {
	var parts []templatePart
	claims := 0
	for i := 0; i < len(s); {
		open := strings.IndexAny(s[i:], "{}")
		if open < 0 {
			parts = append(parts, templatePart{literal: s[i:]})
			break
		}
		open += i
		if s[open] == '}' {
			return nil, fmt.Errorf("unbalanced braces: } at byte %d closes no {", open+1)
		}
		if open > i {
			parts = append(parts, templatePart{literal: s[i:open]})
		}
		end := strings.IndexAny(s[open+1:], "{}")
		if end < 0 || s[open+1+end] == '{' {
			return nil, fmt.Errorf("unbalanced braces: { at byte %d is not closed", open+1)
		}
		end += open + 1
		name := s[open+1 : end]
		switch {
		case name == "":
			return nil, fmt.Errorf("empty {} at byte %d: name a claim, such as {repository}", open+1)
		case strings.IndexFunc(name, unicode.IsSpace) >= 0:
			return nil, fmt.Errorf("claim name %q has a space", name)
		}
		parts = append(parts, templatePart{claim: name})
		claims++
		i = end + 1
	}
	if claims == 0 {
		return nil, fmt.Errorf("names no claim, so every token would get the same identity: put a claim in braces, such as ci:{repository}")
	}
	return parts, nil
}

// Verifiers checks tokens from the people's issuer and from workload issuers. A token's
// iss, read before anything is verified, only picks the issuer whose keys verify it.
type Verifiers struct {
	people           *Verifier            // nil when there is no people's issuer
	machines         map[string]Machine   // the people's issuer's machine clients, by client id
	machineAudiences []string             // their audiences: ["hoop"]
	workloads        map[string]*workload // by issuer URL
}

// workload is a Workload and the keys of its issuer.
type workload struct {
	Workload
	remote *remote
	looks  []string // the claims its mappings look at, sorted: [ref repository repository_owner]
}

// NewVerifiers returns Verifiers for the people's issuer (none when people.Issuer is
// empty), its machine clients (people.Machines) and the workload issuers. Workloads use people's Now and the default signing
// algorithms, and people's MaxLifetime. Each issuer is trusted once: a workload with the people's issuer, or with
// the issuer of an earlier workload, is ignored (the gateway config refuses both).
func NewVerifiers(people Config, workloads []Workload) *Verifiers {
	vs := &Verifiers{workloads: make(map[string]*workload)}
	if people.MaxLifetime <= 0 {
		people.MaxLifetime = DefaultMaxLifetime
	}
	if people.Issuer != "" {
		vs.people = NewVerifier(people)
		vs.machines, vs.machineAudiences = machines(vs.people.cfg)
	}
	for _, w := range workloads {
		if _, dup := vs.workloads[w.Issuer]; dup || w.Issuer == people.Issuer {
			continue
		}
		w.Mappings = slices.Clone(w.Mappings)
		var looks []string
		for _, m := range w.Mappings {
			for claim := range m.When {
				looks = append(looks, claim)
			}
		}
		slices.Sort(looks)
		vs.workloads[w.Issuer] = &workload{
			Workload: w,
			remote: &remote{url: w.Issuer, audience: w.Audience, algs: defaultAlgorithms(), now: people.Now,
				maxLifetime: people.MaxLifetime},
			looks: slices.Compact(looks),
		}
	}
	return vs
}

// People returns the verifier of the people's issuer alone, for what only a person may do
// (sign in on the review pages); nil when there is none.
func (vs *Verifiers) People() *Verifier { return vs.people }

// Verify checks a raw token with the keys of its issuer and returns the identity it
// proves. A workload token's identity is made by the first of its workload's mappings
// whose When holds.
func (vs *Verifiers) Verify(ctx context.Context, raw string) (Identity, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return Identity{}, ErrNoToken
	}
	iss, err := peekIssuer(raw)
	if err != nil {
		return Identity{}, err
	}
	if vs.people != nil && iss == vs.people.cfg.Issuer {
		if len(vs.machines) > 0 {
			return vs.verifyPeopleIssuer(ctx, raw)
		}
		return vs.people.Verify(ctx, raw)
	}
	w, ok := vs.workloads[iss]
	if !ok {
		return Identity{}, &refusal{ErrUntrustedIssuer, "token issuer " + quote(iss) + " is not trusted by this gateway"}
	}
	tok, err := w.remote.verify(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	var payload json.RawMessage
	if err := tok.Claims(&payload); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // an integer claim compares as its decimal digits, not as a float
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	id, err := w.identity(claims)
	if err != nil {
		return Identity{}, err
	}
	id.Issuer, id.Expiry = tok.Issuer, tok.Expiry
	return id, nil
}

// peekIssuer reads the iss claim of a JWS without verifying anything: it only says which
// issuer's keys to verify the token with. No error repeats the token.
func peekIssuer(raw string) (string, error) {
	p, err := peek(raw)
	if err != nil {
		return "", err
	}
	iss, ok := p.claims["iss"].(string)
	if !ok || iss == "" {
		return "", &refusal{ErrUntrustedIssuer, "token has no iss claim, so no issuer this gateway trusts"}
	}
	return iss, nil
}

// identity applies w's mappings to a verified token's claims.
func (w *workload) identity(claims map[string]any) (Identity, error) {
	for i, m := range w.Mappings {
		if !matches(m.When, claims) {
			continue
		}
		subject, err := render(m.Identity, claims)
		if err != nil {
			return Identity{}, &refusal{ErrNoMapping, fmt.Sprintf("workload %s: mapping %d (identity %q) matches, but %v", w.Name, i+1, m.Identity, err)}
		}
		groups := slices.Clone(m.Groups)
		slices.Sort(groups)
		return Identity{Subject: subject, Groups: slices.Compact(groups), Workload: w.Name}, nil
	}
	seen := make([]string, len(w.looks))
	for i, claim := range w.looks {
		v, ok := claimString(claims, claim)
		switch {
		case ok:
			seen[i] = claim + "=" + quote(v)
		case claims[claim] == nil:
			seen[i] = claim + " (none)"
		default:
			seen[i] = claim + " (not a string)"
		}
	}
	return Identity{}, &refusal{ErrNoMapping, fmt.Sprintf("workload %s: the token's claims match no mapping: %s", w.Name, strings.Join(seen, ", "))}
}

// matches reports whether claims has every claim of when; a mapping with no conditions
// matches nothing.
func matches(when map[string]string, claims map[string]any) bool {
	if len(when) == 0 {
		return false
	}
	for claim, want := range when {
		got, ok := claimString(claims, claim)
		if !ok || got == "" {
			return false
		}
		if prefix, ok := strings.CutSuffix(want, "*"); ok {
			if !strings.HasPrefix(got, prefix) {
				return false
			}
		} else if got != want {
			return false
		}
	}
	return true
}

// render fills template with claims.
func render(template string, claims map[string]any) (string, error) {
	parts, err := parseTemplate(template)
	if err != nil {
		return "", fmt.Errorf("the identity template is bad: %v", err)
	}
	var b strings.Builder
	for _, p := range parts {
		if p.claim == "" {
			b.WriteString(p.literal)
			continue
		}
		v, ok := claimString(claims, p.claim)
		switch {
		case !ok && claims[p.claim] != nil:
			return "", fmt.Errorf("the token's claim %s is not a string", p.claim)
		case !ok:
			return "", fmt.Errorf("the token has no claim %s", p.claim)
		case v == "":
			return "", fmt.Errorf("the token's claim %s is empty", p.claim)
		case strings.IndexFunc(v, unicode.IsControl) >= 0:
			return "", fmt.Errorf("the token's claim %s has control characters: %s", p.claim, quote(v))
		}
		b.WriteString(v)
	}
	return b.String(), nil
}

// claimString returns a claim as a string: a string as it is, a boolean as "true" or
// "false", an integer in decimal. ok is false for an absent claim and for any other kind.
func claimString(claims map[string]any, name string) (string, bool) {
	switch v := claims[name].(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v.String(), true
		}
	}
	return "", false
}
