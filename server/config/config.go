// Package config loads the gateway's configuration (hoopd --config gateway.yaml).
//
// The file is YAML. ${NAME} in a value is read from the environment when the file loads,
// ${NAME:-x} falls back to x when NAME is unset or empty, and $$ is a literal $. Relative
// paths (policy_files, data_dir, store, tls, sslrootcert, audit file sinks) are relative
// to the config file's directory, not to the working directory. Every problem is reported
// with its file, line and field, all at once:
//
//	gateway.yaml:19: auth.oidc.issuer: environment variable HOOP_OIDC_ISSUER is not set
//	gateway.yaml:30: connections[0].port: want an integer 1-65535
//
// The package is pure: it reads the config file and nothing else (not the TLS files, not
// the policy files, no network).
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/notify"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/identity"
)

// Config is the gateway's configuration.
type Config struct {
	Path        string       // "/etc/hoop/gateway.yaml": the file it came from, absolute
	Listen      string       // "127.0.0.1:8443"; port 0 picks a free port
	PublicURL   string       // "https://hoop.example.com": how clients reach the gateway
	TLS         TLS          // empty: plain HTTP, allowed on a loopback Listen only
	Store       string       // "sqlite:///var/lib/hoop/hoop.db" or "postgres://hoop@db/hoop"
	DataDir     string       // "/var/lib/hoop": absolute
	Auth        Auth         // how people prove who they are
	Connections []Connection // the databases people reach through the gateway
	PolicyFiles []string     // ["/etc/hoop/policy.yaml"]: absolute
	Recording   Recording    // what is kept of each session
	Masking     Masking      // the gateway's side of masking (the rules are policy)
	Audit       Audit        // where audit events go
	Reviews     Reviews      // approvals: who is told that a review opened
	Limits      Limits       // what one identity, connection or statement may take of the gateway
	Catalog     Catalog      // the snapshot of each database's functions, by which calls are classed
}

// Limits bound what a client may take of the gateway and of the databases behind it, so
// that one identity cannot starve the others.
type Limits struct {
	// SessionsPerIdentity is how many database sessions one identity (its subject at its
	// issuer, not the PostgreSQL user name a client sends) may have open through this
	// gateway at once, over all its tunnels and connections: 20 (default).
	SessionsPerIdentity int
	// SessionsPerConnection is how many database sessions a connection may have open
	// through this gateway at once, over all identities: 64 (default), well below
	// PostgreSQL's default max_connections (100). A connection's max_sessions overrides it.
	SessionsPerConnection int
	// StatementBytes is the largest statement text the gateway analyses and records:
	// 1 MiB (default, and the most: the parser's own bound). A larger Query or Parse is
	// refused unread (SQLSTATE 54000); large data goes as bind parameters or with COPY.
	StatementBytes int
	// InflightBytes bounds the client messages all sessions together may hold buffered in
	// the gateway at once: 256 MiB (default). A large message waits for room, for a
	// while, then is refused (SQLSTATE 53200); COPY data streams through unbuffered.
	InflightBytes int
}

// SessionLimit returns how many sessions connection c may have open at once.
func (c *Config) SessionLimit(conn *Connection) int {
	if conn != nil && conn.MaxSessions > 0 {
		return conn.MaxSessions
	}
	return c.Limits.SessionsPerConnection
}

// Catalog says how the gateway keeps its snapshot of each connection's catalog (pg_proc,
// pg_language, pg_operator, pg_cast, pg_depend), by which it classes the calls of the
// database's own functions. The snapshot is also read again after a session runs DDL.
type Catalog struct {
	Refresh time.Duration // 1m when 0: a snapshot older than this is read again before use
}

// TLS names the gateway's certificate and key, PEM files, absolute paths.
type TLS struct {
	CertFile string // "/etc/hoop/tls.crt"
	KeyFile  string // "/etc/hoop/tls.key"
}

// Enabled reports whether the gateway serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" && t.KeyFile != "" }

// Auth configures identity.
type Auth struct {
	OIDC     OIDC       // the identity provider people log in at
	Workload []Workload // CI systems and workloads whose own tokens the gateway trusts
	Machines []Machine  // machine clients of the people's issuer (client_credentials)
	// MaxTokenLifetime is the longest a token may be meant to live (its exp − iat),
	// from any issuer: a token without iat, or that lives longer, is refused. 24h
	// (DefaultMaxTokenLifetime) unless auth.max_token_lifetime says otherwise.
	MaxTokenLifetime time.Duration
}

// Bounds of auth.max_token_lifetime, and its default.
const (
	DefaultMaxTokenLifetime = 24 * time.Hour
	minTokenLifetime        = time.Minute
	maxTokenLifetime        = 30 * 24 * time.Hour // past a month a token is a long-lived credential
)

// Machine is a client of auth.oidc's issuer that gets tokens for itself with the
// client_credentials grant, such as a CI job given HOOP_CLIENT_ID and HOOP_CLIENT_SECRET.
// Its tokens prove Identity, which is never a person's: it cannot decide reviews.
type Machine struct {
	ClientID string   // "ci-bot": the token's client_id (else azp, else sub)
	Audience string   // "hoop": the aud its tokens must have; not auth.oidc's audience
	Identity string   // "machine:ci-bot" (the default): the identity's subject
	Groups   []string // ["ci-deploy"]
	Line     int      // 12
}

// MachineClients returns the machines as identity.Config takes them.
func (a Auth) MachineClients() []identity.Machine {
	out := make([]identity.Machine, len(a.Machines))
	for i, m := range a.Machines {
		out[i] = identity.Machine{ClientID: m.ClientID, Audience: m.Audience, Identity: m.Identity, Groups: m.Groups}
	}
	return out
}

// Workloads returns the workload issuers as identity.NewVerifiers takes them.
func (a Auth) Workloads() []identity.Workload {
	out := make([]identity.Workload, len(a.Workload))
	for i, w := range a.Workload {
		out[i] = w.Identity()
	}
	return out
}

// Workload is an issuer of workload identity tokens, such as GitHub Actions or GitLab CI:
// a job asks it for a short-lived token for Audience, and presents that to the gateway
// instead of a long-lived secret (hoop exec with HOOP_TOKEN). Its mappings turn a token's
// claims into an identity and groups, which the policy decides on; a token that no
// mapping matches is refused.
type Workload struct {
	Name     string            // "github-actions": in logs and messages
	Issuer   string            // "https://token.actions.githubusercontent.com"
	Audience string            // "hoop": the aud the tokens must have; required
	Mappings []WorkloadMapping // the first whose When holds wins
	Line     int               // 23
}

// WorkloadMapping turns a workload token's claims into an identity: see identity.Mapping.
type WorkloadMapping struct {
	When     map[string]string // {"repository": "acme/app", "ref": "refs/heads/main"}: claims that must all hold; "refs/tags/v*" is a prefix
	Identity string            // "ci:{repository}@{ref_name}": a template over the token's claims
	Groups   []string          // ["ci-deploy"]
	Line     int               // 27
}

// Identity returns w as identity.NewVerifiers takes it.
func (w Workload) Identity() identity.Workload {
	mappings := make([]identity.Mapping, len(w.Mappings))
	for i, m := range w.Mappings {
		mappings[i] = identity.Mapping{When: m.When, Identity: m.Identity, Groups: m.Groups}
	}
	return identity.Workload{Name: w.Name, Issuer: w.Issuer, Audience: w.Audience, Mappings: mappings}
}

// OIDC is the identity provider that signs the tokens people log in with. The CLI learns
// it from the gateway (GET /api/v1/info).
type OIDC struct {
	Issuer       string   // "https://idp.example.com"
	ClientID     string   // "hoop-cli"
	ClientSecret string   // "": only for IdPs that give native apps a (non-secret) client secret
	GroupsClaim  string   // "groups": the token claim that lists the person's groups
	Scopes       []string // ["openid", "email", "profile", "offline_access"]
	Audience     string   // "hoop-cli": the token's expected aud; ClientID when not set
}

// Connection is a database reachable through the gateway.
type Connection struct {
	Name        string                // "db-prod": what people type in hoop connect
	Type        string                // "postgres"
	Host        string                // "db.internal"
	Port        int                   // 5432 (default)
	Database    string                // "app"
	SSLMode     string                // "prefer" (default): disable|allow|prefer|require|verify-ca|verify-full
	SSLRootCert string                // "/etc/hoop/db-ca.pem": absolute; empty for the system roots
	User        string                // "app": one login for every access level, or
	Password    string                // "s3cret"
	Roles       map[string]Credential // {"read": {app_ro, …}, "write": {app_rw, …}}: a login per access level
	MaxSessions int                   // 30: database sessions at once over all identities; 0 for limits.sessions_per_connection
	Line        int                   // 27: where it is defined in Config.Path
}

// Credential is a database login.
type Credential struct {
	User     string // "app_ro"
	Password string // "s3cret"
}

// String hides the password, so a logged Credential does not leak it.
func (c Credential) String() string {
	if c.Password == "" {
		return c.User
	}
	return c.User + ":***"
}

// GoString hides the password from %#v too.
func (c Credential) GoString() string { return fmt.Sprintf("config.Credential{User:%q}", c.User) }

// Masking is the gateway's side of masking; the rules are in the policy.
type Masking struct {
	// HashKey is the hash mode's HMAC key, hex: "${HOOP_MASK_HASH_KEY}". "" uses the
	// cluster's key, kept in the store and made by the first gateway to start (from its
	// data_dir/mask-hash.key when it has one), so every gateway sharing the store hashes
	// alike; without a store, data_dir/mask-hash.key, made on first use.
	HashKey string
}

// Recording says what is kept of each session.
type Recording struct {
	RowsPerStatement int // 1000 (default): result rows kept, masked, per statement; 0 keeps none
}

// Audit says how the audit trail is kept and where copies of it go, besides the store.
type Audit struct {
	ChainKey string  // hex, 32 bytes or more: "${HOOP_AUDIT_CHAIN_KEY}"; "" keeps one in data_dir/audit-chain.key
	Sinks    []Sink  // where copies of the events go
	Alerts   []Alert // rules that raise "alert" events
}

// SinkConfigs returns the sinks as audit.NewDispatcher takes them.
func (a Audit) SinkConfigs() []audit.SinkConfig {
	out := make([]audit.SinkConfig, len(a.Sinks))
	for i, s := range a.Sinks {
		out[i] = s.SinkConfig()
	}
	return out
}

// Rules returns the alert rules as audit.NewAlerts takes them.
func (a Audit) Rules() []audit.Rule {
	out := make([]audit.Rule, len(a.Alerts))
	for i, r := range a.Alerts {
		out[i] = r.Rule()
	}
	return out
}

// The audit sink types.
const (
	SinkFile    = audit.SinkFile    // JSON lines appended to Path
	SinkStdout  = audit.SinkStdout  // JSON lines on the gateway's stdout
	SinkWebhook = audit.SinkWebhook // batches of events POSTed as a JSON array to URL
	SinkSyslog  = audit.SinkSyslog  // to Address, or to the local syslog
)

// Sink is one audit destination. A zero Queue, Batch or Facility means the audit
// package's default.
type Sink struct {
	Type     string            // "file", "stdout", "webhook" or "syslog"
	Path     string            // file: "/var/lib/hoop/audit.jsonl", absolute
	URL      string            // webhook: "https://siem.example.com/hoop"
	Headers  map[string]string // webhook: {"Authorization": "Bearer s3cret"}, values from ${ENV}
	Batch    int               // webhook: 100: events per POST at most (0: 100)
	Address  string            // syslog: "udp://127.0.0.1:514", "tcp://…"; empty for the local syslog
	Facility string            // syslog: "auth" (""), "local0", …: see audit.Facilities
	Queue    int               // 10000: events held for a slow sink before it drops them (0: 10000)
	Line     int               // 52
}

// SinkConfig returns s as audit.NewDispatcher takes it.
func (s Sink) SinkConfig() audit.SinkConfig {
	return audit.SinkConfig{Type: s.Type, Path: s.Path, URL: s.URL, Headers: s.Headers, Batch: s.Batch,
		Address: s.Address, Facility: s.Facility, Queue: s.Queue}
}

// Alert is an alert rule: Threshold events of Kind whose data has the Where values, with
// the same By value, within Window, raise an "alert" audit event (see audit.Rule).
type Alert struct {
	Name      string            // "denials"
	Kind      string            // "statement"; "review.*" for every review event; "*" for any
	Where     map[string]string // {"decision": "deny"}: event data fields, compared as strings
	Threshold int               // 5; 1 by default
	Window    time.Duration     // time.Minute (default)
	By        string            // "actor" (default), "connection", "session", or a data field: "rule"
	Line      int               // 60
}

// Rule returns a as audit.NewAlerts takes it.
func (a Alert) Rule() audit.Rule {
	return audit.Rule{Name: a.Name, Kind: a.Kind, Where: a.Where, Threshold: a.Threshold, Window: a.Window, By: a.By}
}

// Reviews configures approvals.
type Reviews struct {
	Notify []NotifyTarget // where approvers are told that a review opened
	// MaxPending is the most reviews one identity may have pending at once: 10 (default).
	// A statement held beyond it is refused, so one user cannot flood the approvers.
	MaxPending int
	// MaxPerMinute is the most reviews one identity may open in any minute: 30 (default).
	MaxPerMinute int
}

// Defaults for Reviews' limits, also used for a Config built in code that leaves them 0.
const (
	DefaultMaxPendingReviews   = 10
	DefaultMaxReviewsPerMinute = 30
)

// NotifyConfigs returns the notification targets as notify.New takes them.
func (r Reviews) NotifyConfigs() []notify.Config {
	out := make([]notify.Config, len(r.Notify))
	for i, t := range r.Notify {
		out[i] = t.NotifyConfig()
	}
	return out
}

// The notification target types.
const (
	NotifySlack   = notify.TypeSlack   // a Slack-compatible incoming webhook at URL
	NotifyWebhook = notify.TypeWebhook // {"event": "review.opened", "review": …} POSTed to URL
	NotifyEmail   = notify.TypeEmail   // an e-mail through the SMTP server at Address
)

// NotifyTarget is one place approvers are told that a review opened. Its String and
// GoString hide the secrets (the password, the header values, a Slack URL's path), so a
// logged config does not leak them.
type NotifyTarget struct {
	Type     string            // "slack", "webhook" or "email"
	URL      string            // slack, webhook: "https://hooks.slack.com/services/T0/B0/x"
	Headers  map[string]string // webhook: {"Authorization": "Bearer s3cret"}, values from ${ENV}
	Address  string            // email: "smtp.example.com:587"
	From     string            // email: "hoop@example.com"
	To       []string          // email: ["dba-oncall@example.com"]
	Username string            // email: "hoop"; "" sends no AUTH
	Password string            // email: "s3cret"
	TLS      string            // email: "starttls" (default: when the server offers it), "required" or "none"
	Line     int               // 61
}

// NotifyConfig returns t as notify.New takes it.
func (t NotifyTarget) NotifyConfig() notify.Config {
	return notify.Config{Type: t.Type, URL: t.URL, Headers: t.Headers, Address: t.Address, From: t.From,
		To: t.To, Username: t.Username, Password: t.Password, TLS: t.TLS}
}

// String names the target without its secrets: "slack:hooks.slack.com",
// "email:smtp.example.com:587".
func (t NotifyTarget) String() string { return t.NotifyConfig().String() }

// GoString hides the secrets from %#v too.
func (t NotifyTarget) GoString() string {
	headers := make([]string, 0, len(t.Headers))
	for k := range t.Headers {
		headers = append(headers, k)
	}
	slices.Sort(headers)
	return fmt.Sprintf("config.NotifyTarget{Type:%q, Target:%q, Headers:%q, From:%q, To:%q, Username:%q, TLS:%q, Line:%d}",
		t.Type, t.String(), headers, t.From, t.To, t.Username, t.TLS, t.Line)
}

// Sentinel errors.
var (
	// ErrNoCredential is returned (wrapped) by Connection.Credential when the connection
	// has no database login fit for the access level.
	ErrNoCredential = errors.New("no database login")
)

// DefaultConfig returns the values a config file starts from: a field the file does not
// set keeps its default. It has no connections and no policy files, which a file must set.
func DefaultConfig() *Config {
	return &Config{
		Listen:  "127.0.0.1:8443",
		DataDir: "hoop-data",
		Auth: Auth{OIDC: OIDC{
			ClientID:    "hoop-cli",
			GroupsClaim: "groups",
			Scopes:      []string{"openid", "email", "profile", "offline_access"},
		}, MaxTokenLifetime: DefaultMaxTokenLifetime},
		Recording: Recording{RowsPerStatement: 1000},
		Reviews:   Reviews{MaxPending: DefaultMaxPendingReviews, MaxPerMinute: DefaultMaxReviewsPerMinute},
		Limits:    DefaultLimits(),
	}
}

// DefaultLimits returns the limits a config file starts from.
func DefaultLimits() Limits {
	return Limits{SessionsPerIdentity: 20, SessionsPerConnection: 64, StatementBytes: 1 << 20, InflightBytes: 256 << 20}
}

// Load reads and validates the config file at path. env looks up environment variables
// (os.LookupEnv; nil means os.LookupEnv). A problem in the file is an ErrorList naming
// every problem found.
func Load(path string, env func(string) (string, bool)) (*Config, error) {
	if env == nil {
		env = os.LookupEnv
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	c, errs := parse(path, abs, data, env)
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, errs
	}
	return c, nil
}

// Connection returns the connection named name.
func (c *Config) Connection(name string) (*Connection, bool) {
	for i := range c.Connections {
		if c.Connections[i].Name == name {
			return &c.Connections[i], true
		}
	}
	return nil, false
}

// ConnectionNames returns the connections' names, in file order.
func (c *Config) ConnectionNames() []string {
	names := make([]string, len(c.Connections))
	for i, conn := range c.Connections {
		names[i] = conn.Name
	}
	return names
}

// SQLitePath returns the database file of a sqlite:// Store; ok is false for another store.
func (c *Config) SQLitePath() (path string, ok bool) {
	return strings.CutPrefix(c.Store, "sqlite://")
}

// Credential returns the database login for a session granted access level (a
// policy.Class: "read", "write", "ddl" or "admin"; the highest class the session may run).
//
// Without roles, User and Password serve every level. With roles, a session gets the role
// of its level or, when that is not defined, of the highest defined level below it
// (admin → ddl → write → read): never a role more powerful than what policy grants, so a
// statement the gateway misjudges still fails in the database. A session granted only
// read gets the read role and nothing else. A level with no role at or below it is an
// error wrapping ErrNoCredential: the session is refused.
func (c *Connection) Credential(level string) (Credential, error) {
	class, err := policy.ParseClass(level)
	if err != nil {
		return Credential{}, fmt.Errorf("connection %s credential: %w", c.Name, err)
	}
	if len(c.Roles) == 0 {
		if c.User == "" {
			return Credential{}, fmt.Errorf("connection %s: %w", c.Name, ErrNoCredential)
		}
		return Credential{User: c.User, Password: c.Password}, nil
	}
	classes := policy.Classes()
	for i := slices.Index(classes, class); i >= 0; i-- {
		if cred, ok := c.Roles[string(classes[i])]; ok {
			return cred, nil
		}
	}
	var defined []string
	for _, k := range classes {
		if _, ok := c.Roles[string(k)]; ok {
			defined = append(defined, string(k))
		}
	}
	want := "roles.read"
	if class != policy.Read {
		want = "a role at " + string(class) + " or below"
	}
	return Credential{}, fmt.Errorf("connection %s: %w for %s access (roles: %s; define %s)",
		c.Name, ErrNoCredential, class, strings.Join(defined, ", "), want)
}
