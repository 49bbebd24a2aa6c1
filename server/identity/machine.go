package identity

import (
	"context"
	"fmt"
	"slices"

	"github.com/coreos/go-oidc/v3/oidc"
)

// Machine is a client of the people's issuer that gets tokens for itself with the
// client_credentials grant (a CI job's client id and secret), and the identity its tokens
// prove. Such an identity has Workload set ("machine:ci-bot"), so it is never a person.
type Machine struct {
	ClientID string   // "ci-bot": the token's client_id, else azp, else sub
	Audience string   // "hoop": the aud its tokens must have; not the people's audience
	Identity string   // "machine:ci-bot": the identity's subject
	Groups   []string // ["ci-deploy"]
}

// machines returns the usable machines by client id: one without a client id, audience
// or identity, one whose audience is the people's, and a client id's second entry are
// ignored (the gateway config refuses all of them).
func machines(people Config) (map[string]Machine, []string) {
	byID := make(map[string]Machine)
	var audiences []string
	for _, m := range people.Machines {
		if _, dup := byID[m.ClientID]; dup || m.ClientID == "" || m.Audience == "" || m.Identity == "" || m.Audience == people.Audience {
			continue
		}
		m.Groups = slices.Compact(slices.Sorted(slices.Values(m.Groups)))
		byID[m.ClientID] = m
		audiences = append(audiences, m.Audience)
	}
	return byID, audiences
}

// verifyPeopleIssuer checks a token of the people's issuer when machines are
// configured: one for the people's audience is a person's, exactly as Verifier.Verify
// has it; one for a machine audience is a machine's.
func (vs *Verifiers) verifyPeopleIssuer(ctx context.Context, raw string) (Identity, error) {
	r := vs.people.remote
	tok, err := r.verifySigned(ctx, raw)
	if err != nil {
		return Identity{}, err
	}
	forPeople := r.audience != "" && slices.Contains(tok.Audience, r.audience)
	forMachine := slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(vs.machineAudiences, a) })
	if forPeople || !forMachine {
		if err := checkAudience(tok, r.url, r.audience, r.client, "tokens from "+r.url); err != nil {
			return Identity{}, err
		}
		if err := vs.people.checkBearer(raw); err != nil {
			return Identity{}, err
		}
		return vs.people.identity(tok)
	}
	return vs.machine(tok)
}

// machine is the identity of a verified machine token.
func (vs *Verifiers) machine(tok *oidc.IDToken) (Identity, error) {
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return Identity{}, fmt.Errorf("%w: claims: %v", ErrInvalidToken, err)
	}
	clientID := stringClaim(claims, "client_id")
	if clientID == "" {
		clientID = stringClaim(claims, "azp")
	}
	if clientID == "" {
		clientID = tok.Subject
	}
	m, ok := vs.machines[clientID]
	if !ok {
		return Identity{}, &refusal{ErrUnknownClient, fmt.Sprintf("unknown client %s: it is not a machine client of this gateway", quote(clientID))}
	}
	if err := checkAudience(tok, tok.Issuer, m.Audience, m.ClientID, "tokens of machine client "+quote(clientID)); err != nil {
		return Identity{}, err
	}
	return Identity{
		Subject:  m.Identity,
		Issuer:   tok.Issuer,
		Expiry:   tok.Expiry,
		Groups:   slices.Clone(m.Groups),
		Workload: "machine:" + clientID,
	}, nil
}
