// Package api holds the JSON shapes of the gateway's HTTP API, shared by the CLI and
// the gateway. It is pure Go and imports nothing of either side.
package api

import "time"

// Info is the answer to GET /api/v1/info: what a CLI needs to log in, knowing only the
// gateway's URL.
type Info struct {
	Issuer       string   `json:"issuer"`                  // "https://idp.example.com" or "http://127.0.0.1:8443/oidc"
	ClientID     string   `json:"client_id"`               // "hoop-cli"
	ClientSecret string   `json:"client_secret,omitempty"` // only for IdPs that give native apps a non-secret secret
	Scopes       []string `json:"scopes"`                  // ["openid", "email", "profile", "groups", "offline_access"]
	GroupsClaim  string   `json:"groups_claim"`            // "groups"
	Version      string   `json:"version"`                 // gateway version, "dev"
}

// Whoami is the answer to GET /api/v1/whoami: the identity the gateway sees for a token.
type Whoami struct {
	Subject string    `json:"subject"`
	Email   string    `json:"email,omitempty"`
	Name    string    `json:"name,omitempty"`
	Groups  []string  `json:"groups"`
	Issuer  string    `json:"issuer"`
	Expiry  time.Time `json:"expiry"`
}

// Connection is one entry of GET /api/v1/connections: a connection the caller may reach.
type Connection struct {
	Name   string   `json:"name"`   // "db-prod"
	Type   string   `json:"type"`   // "postgres"
	Access []string `json:"access"` // statement classes the caller may run or ask for: ["read", "write"]
	Rules  []string `json:"rules"`  // the policy rules that grant it: ["engineers-read-prod"]
}

// Error is the body of every non-2xx answer of the API.
type Error struct {
	Error string `json:"error"`          // "no rule grants you access to connection db-prod"
	Code  string `json:"code,omitempty"` // "unauthenticated", "forbidden", "not_found", "bad_request"
}

// Error codes, mapped by the CLI to exit codes.
const (
	CodeUnauthenticated = "unauthenticated"
	CodeForbidden       = "forbidden"
	CodeNotFound        = "not_found"
	CodeBadRequest      = "bad_request"
)
