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
	CodeTooManyRequests = "too_many_requests" // a limit per identity: reviews.max_pending, reviews.max_per_minute
)

// Session is one recorded database session: an entry of GET /api/v1/sessions.
type Session struct {
	ID          string    `json:"id"`                   // "s-5f3a…"
	User        string    `json:"user"`                 // "alice@example.com"
	Subject     string    `json:"subject"`              // "alice"
	Groups      []string  `json:"groups"`               // ["engineering"]
	Connection  string    `json:"connection"`           // "db-prod"
	Access      string    `json:"access"`               // "read"
	DBUser      string    `json:"db_user"`              // "app_ro"
	Application string    `json:"application"`          // "psql"
	Source      string    `json:"source"`               // "127.0.0.1:51234"
	Start       time.Time `json:"start"`                //
	End         time.Time `json:"end,omitzero"`         // zero while open
	EndReason   string    `json:"end_reason,omitempty"` // "client closed", "gateway-restart"
	Statements  int       `json:"statements"`           // 12
}

// Statement is one statement of a recorded session.
type Statement struct {
	Seq           int64          `json:"seq"`                      // 1
	Start         time.Time      `json:"start"`                    //
	SQL           string         `json:"sql"`                      // "SELECT * FROM customers"
	Params        []*string      `json:"params,omitempty"`         // bind parameters, masked
	Class         string         `json:"class"`                    // "read"
	Decision      string         `json:"decision"`                 // "allow"
	Rule          string         `json:"rule,omitempty"`           // "engineers-read"
	PolicyVersion string         `json:"policy_version,omitempty"` // "sha256:…"
	ReviewID      string         `json:"review_id,omitempty"`      //
	State         string         `json:"state"`                    // "done", "refused", "interrupted", "sent"
	DurationMS    float64        `json:"duration_ms"`              // 1.25
	Rows          int64          `json:"rows"`                     // rows returned or affected
	CommandTag    string         `json:"command_tag,omitempty"`    // "SELECT 3"
	Error         string         `json:"error,omitempty"`          //
	Masking       map[string]int `json:"masking,omitempty"`        // {"email": 2, "column:customers.ssn": 3}
	Columns       []string       `json:"columns,omitempty"`        // ["id", "email"]
	Result        [][]*string    `json:"result,omitempty"`         // the rows as the client got them, up to the recording cap
}

// SessionDetail is the answer to GET /api/v1/sessions/{id}.
type SessionDetail struct {
	Session    Session     `json:"session"`
	Statements []Statement `json:"statements"`
}

// AuditReport is the answer to GET /api/v1/audit/verify.
type AuditReport struct {
	OK      bool   `json:"ok"`              // every event verified and linked
	Checked int64  `json:"checked"`         // events read
	Seq     int64  `json:"seq,omitempty"`   // the first broken event
	Break   string `json:"break,omitempty"` // "edited", "inserted", "missing", "edited or inserted"
	Reason  string `json:"reason"`          // a sentence a person can act on
	Head    string `json:"head,omitempty"`  // hex Hash of the last event that verified
}

// Review is a held statement, or a request for time-boxed access to a connection, waiting
// for approvers: an entry of GET /api/v1/reviews.
type Review struct {
	ID           string           `json:"id"`                  // "r-5f3a…"
	Kind         string           `json:"kind"`                // ReviewStatement or ReviewAccess
	State        string           `json:"state"`               // ReviewPending, ReviewApproved, …
	Requester    string           `json:"requester"`           // "alice@example.com"
	Groups       []string         `json:"groups"`              // the requester's: ["engineering"]
	Connection   string           `json:"connection"`          // "db-prod"
	Session      string           `json:"session,omitempty"`   // statement: the session that waits: "s-…"
	SQL          string           `json:"sql,omitempty"`       // statement: the text held, masked as its session's recording masks it
	Params       []*string        `json:"params,omitempty"`    // statement: its bind parameters, masked
	Class        string           `json:"class,omitempty"`     // statement: "write"
	Rule         string           `json:"rule,omitempty"`      // the policy rule that asked for the review
	Reason       string           `json:"reason,omitempty"`    // the requester's reason: "INC-123"
	Duration     string           `json:"duration,omitempty"`  // access: the window asked for: "1h0m0s"
	Created      time.Time        `json:"created"`             //
	Expires      time.Time        `json:"expires"`             // a pending review expires then
	MinApprovals int              `json:"min_approvals"`       // distinct approvers needed: 1
	Approvals    []ReviewDecision `json:"approvals,omitempty"` // who approved so far
	Denial       *ReviewDecision  `json:"denial,omitempty"`    // who denied, and why
	URL          string           `json:"url"`                 // the review's web page: "https://hoop.example.com/reviews/r-…"
}

// ReviewDecision is one approver's answer.
type ReviewDecision struct {
	By     string    `json:"by"`               // "dana@example.com"
	At     time.Time `json:"at"`               //
	Reason string    `json:"reason,omitempty"` // required to deny: "not during the freeze"
}

// ReviewAnswer is the body of POST /api/v1/reviews/{id}/approve and …/deny.
type ReviewAnswer struct {
	Reason string `json:"reason,omitempty"`
}

// Review kinds and states.
const (
	ReviewStatement = "statement" // a held statement
	ReviewAccess    = "access"    // a just-in-time access request

	ReviewPending   = "pending"   // waiting for approvers
	ReviewApproved  = "approved"  // approved: the statement may run once, the access is granted
	ReviewDenied    = "denied"    // an approver said no
	ReviewExpired   = "expired"   // nobody decided in time
	ReviewWithdrawn = "withdrawn" // the requester gave up (cancelled, disconnected)
	ReviewUsed      = "used"      // approved and used: an approval runs its statement once
)

// AccessRequest is the body of POST /api/v1/access: time-boxed access to a connection
// under a policy jit rule (hoop connect NAME --duration 1h --reason …). The answer is the
// review it opens (Kind ReviewAccess).
type AccessRequest struct {
	Connection string `json:"connection"` // "db-prod"
	Duration   string `json:"duration"`   // "1h"
	Reason     string `json:"reason"`     // "INC-123"
}
