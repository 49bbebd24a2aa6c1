package identity

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
)

// peeked is what a JWS says about itself before anything is verified: only ever used to
// pick the keys that verify it, or to refuse it, never to accept it.
type peeked struct {
	typ    string         // the header's typ: "JWT", "at+jwt"
	claims map[string]any // the payload
}

// peek reads the header and payload of a compact JWS without verifying anything. An
// opaque token (the random string many identity providers issue as access or refresh
// token) is refused here with a message that says what the gateway wants. No error
// repeats the token.
func peek(raw string) (peeked, error) {
	if err := notOpaque(raw); err != nil {
		return peeked{}, err
	}
	parts := strings.Split(raw, ".")
	var p peeked
	hdr, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil {
		return peeked{}, fmt.Errorf("%w: malformed token: the header is not base64url", ErrInvalidToken)
	}
	var h struct {
		Typ any `json:"typ"`
	}
	if err := json.Unmarshal(hdr, &h); err != nil {
		return peeked{}, fmt.Errorf("%w: malformed token: the header is not a JSON object", ErrInvalidToken)
	}
	p.typ, _ = h.Typ.(string)
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return peeked{}, fmt.Errorf("%w: malformed token: the payload is not base64url", ErrInvalidToken)
	}
	if err := json.Unmarshal(payload, &p.claims); err != nil || p.claims == nil {
		return peeked{}, fmt.Errorf("%w: malformed token: the payload is not a JSON object", ErrInvalidToken)
	}
	return p, nil
}

// notOpaque refuses a token that is not even shaped like a JWS.
func notOpaque(raw string) error {
	if strings.Count(raw, ".") != 2 {
		return &refusal{ErrNotIDToken, "malformed token: want a signed JWT, the ID token (header.payload.signature); " +
			"an opaque access or refresh token is never accepted as the bearer"}
	}
	return nil
}

// bearerKind says what a verified token of the people's issuer, for the people's
// audience, is when it is not an ID token: "" for an ID token, else what it is and how
// that shows ("an access token (header typ \"at+jwt\")"). An ID token has no standard
// mark of its own, so the marks of the others are looked for, each one a fact some
// identity provider states:
//
//   - the header's typ, when it is anything but JWT: at+jwt is an access token (RFC 9068),
//     and any other (logout+jwt, secevent+jwt, …) is not an ID token either;
//   - Keycloak's typ claim ("Bearer", "Refresh", "Offline"; its ID tokens say "ID");
//   - Amazon Cognito's token_use ("access"; its ID tokens say "id");
//   - a scope or scp claim: access tokens carry the scopes granted (RFC 9068 2.2.3, Okta,
//     Azure AD, Auth0); ID tokens carry none;
//   - a client_id claim that no azp repeats: RFC 9068 2.2 names the client of an access
//     token in client_id, OpenID Connect names the client of an ID token in azp. Some
//     providers (zitadel) put both in their ID tokens, always equal; their access tokens
//     have client_id alone.
//
// A refresh token is opaque at most providers (peek refuses it); one that is a JWT shows
// as one by its typ claim.
func bearerKind(typ string, claims map[string]any) string {
	switch t := strings.TrimPrefix(strings.ToLower(typ), "application/"); t {
	case "", "jwt":
	case "at+jwt":
		return fmt.Sprintf("an access token (header typ %s)", quote(typ))
	default:
		return fmt.Sprintf("not an ID token (header typ %s)", quote(typ))
	}
	if v, ok := claims["typ"]; ok {
		s, _ := v.(string)
		switch strings.ToLower(s) {
		case "id":
		case "refresh", "offline":
			return fmt.Sprintf("a refresh token (typ claim %s)", quote(s))
		case "bearer":
			return fmt.Sprintf("an access token (typ claim %s)", quote(s))
		default:
			return fmt.Sprintf("not an ID token (typ claim %s)", quoteAny(v))
		}
	}
	if v, ok := claims["token_use"]; ok {
		if s, _ := v.(string); s != "id" {
			return fmt.Sprintf("not an ID token (token_use %s)", quoteAny(v))
		}
	}
	for _, c := range []string{"scope", "scp"} {
		if _, ok := claims[c]; ok {
			return fmt.Sprintf("an access token (it has a %s claim, which ID tokens do not)", c)
		}
	}
	if v, ok := claims["client_id"]; ok {
		if azp, _ := claims["azp"].(string); v != azp || azp == "" {
			return fmt.Sprintf("an access token (client_id %s, and no azp naming that client as an ID token would)", quoteAny(v))
		}
	}
	return ""
}

// quoteAny is quote for a claim of any JSON type.
func quoteAny(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	b, _ := json.Marshal(v)
	return quote(string(b))
}

// checkBearer refuses a verified token of the people's issuer, for the people's audience,
// that is not an ID token.
func (v *Verifier) checkBearer(raw string) error {
	p, err := peek(raw)
	if err != nil {
		return err
	}
	if kind := bearerKind(p.typ, p.claims); kind != "" {
		return &refusal{ErrNotIDToken, fmt.Sprintf("token is %s: a person's bearer must be the ID token (id_token) that %s issued to %q; "+
			"log in with hoop login, or set HOOP_TOKEN to an ID token", kind, v.cfg.Issuer, v.cfg.ClientID)}
	}
	return nil
}
