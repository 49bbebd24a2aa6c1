package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/internal/testenv"
	"github.com/hoopgw/hoop/internal/testissuer"
	"github.com/hoopgw/hoop/notify"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/identity"
)

func sharedExamples(t *testing.T) string { return testenv.SharedExamples(t) }

// envOf returns a lookup function over vars only, never the process environment.
func envOf(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestExample(t *testing.T) {
	dir := sharedExamples(t)
	path := filepath.Join(dir, "gateway.yaml")
	got, err := Load(path, envOf(map[string]string{"HOOP_OIDC_ISSUER": "https://idp.example.com"}))
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Path:      filepath.Join(abs, "gateway.yaml"),
		Listen:    "127.0.0.1:8443",
		PublicURL: "http://127.0.0.1:8443", // no tls: plain HTTP, on loopback only
		Store:     "sqlite://" + filepath.Join(abs, "hoop-data", "hoop.db"),
		DataDir:   filepath.Join(abs, "hoop-data"),
		Auth: Auth{OIDC: OIDC{
			Issuer:      "https://idp.example.com",
			ClientID:    "hoop-cli",
			GroupsClaim: "groups",
			Scopes:      []string{"openid", "email", "profile", "groups", "offline_access"},
			Audience:    "hoop-cli",
		}, MaxTokenLifetime: 24 * time.Hour},
		Connections: []Connection{{
			Name: "db-prod", Type: "postgres", Host: "127.0.0.1", Port: 5432, Database: "app", SSLMode: "prefer",
			Roles: map[string]Credential{"read": {User: "app_ro"}, "write": {User: "app_rw"}},
			Line:  27,
		}},
		PolicyFiles: []string{filepath.Join(abs, "policy.yaml")}, // next to the config file
		Recording:   Recording{RowsPerStatement: 1000},
		Audit:       Audit{Sinks: []Sink{{Type: "file", Path: filepath.Join(abs, "hoop-data", "audit.jsonl"), Line: 52}}},
		Reviews:     Reviews{MaxPending: DefaultMaxPendingReviews, MaxPerMinute: DefaultMaxReviewsPerMinute},
		Limits:      DefaultLimits(), // the example sets none
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load(%s) (-want +got):\n%s", path, diff)
	}
	if got.TLS.Enabled() {
		t.Errorf("TLS.Enabled: got true, want false")
	}
	// The policy files it names load, and name only connections it defines.
	pol, err := policy.Load(got.PolicyFiles...)
	if err != nil {
		t.Fatalf("policy.Load(%q): %v", got.PolicyFiles, err)
	}
	if errs := pol.CheckReferences(got.ConnectionNames()); len(errs) > 0 {
		t.Errorf("policy references: %v", errs)
	}

	// A session granted read logs in as the read role; write as the write role.
	db, ok := got.Connection("db-prod")
	if !ok {
		t.Fatal(`Connection("db-prod"): not found`)
	}
	for level, user := range map[string]string{"read": "app_ro", "write": "app_rw"} {
		if cred, err := db.Credential(level); err != nil || cred.User != user {
			t.Errorf("Credential(%s): got %q, %v; want %q", level, cred.User, err, user)
		}
	}
}

func TestExampleEnvironment(t *testing.T) {
	path := filepath.Join(sharedExamples(t), "gateway.yaml")
	got, err := Load(path, envOf(map[string]string{
		"HOOP_OIDC_ISSUER": "http://127.0.0.1:9999/oidc",
		"HOOP_LISTEN":      "0.0.0.0:443",
		"HOOP_PUBLIC_URL":  "https://hoop.example.com",
		"HOOP_TLS_CERT":    "/etc/hoop/tls.crt",
		"HOOP_TLS_KEY":     "tls.key",
		"HOOP_STORE":       "postgres://hoop@store.internal/hoop",
		"DB_HOST":          "db.internal",
		"DB_PORT":          "6432",
		"DB_NAME":          "",
		"DB_RO_PASSWORD":   "ro: secret\n- x", // not YAML: substituted after parsing
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	conn := got.Connections[0]
	for _, c := range []struct{ field, got, want string }{
		{"listen", got.Listen, "0.0.0.0:443"},
		{"public_url", got.PublicURL, "https://hoop.example.com"},
		{"tls.cert_file", got.TLS.CertFile, "/etc/hoop/tls.crt"},
		{"tls.key_file", got.TLS.KeyFile, filepath.Join(filepath.Dir(got.Path), "tls.key")},
		{"store", got.Store, "postgres://hoop@store.internal/hoop"},
		{"auth.oidc.issuer", got.Auth.OIDC.Issuer, "http://127.0.0.1:9999/oidc"},
		{"host", conn.Host, "db.internal"},
		{"database", conn.Database, "app"}, // ${DB_NAME:-app} with DB_NAME empty
		{"roles.read.password", conn.Roles["read"].Password, "ro: secret\n- x"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.field, c.got, c.want)
		}
	}
	if conn.Port != 6432 {
		t.Errorf("port: got %d, want 6432", conn.Port)
	}
}

func TestExampleIssuerUnset(t *testing.T) {
	path := filepath.Join(sharedExamples(t), "gateway.yaml")
	_, err := Load(path, envOf(nil))
	want := path + ":19: auth.oidc.issuer: environment variable HOOP_OIDC_ISSUER is not set"
	if got := errString(err); got != want {
		t.Errorf("Load without HOOP_OIDC_ISSUER:\ngot  %q\nwant %q", got, want)
	}
	var list ErrorList
	if !errors.As(err, &list) || len(list) != 1 || list[0].Line != 19 || list[0].Field != "auth.oidc.issuer" {
		t.Errorf("Load without HOOP_OIDC_ISSUER: got %#v, want one Error at line 19", err)
	}
}

// TestLimits reads the limits section and a connection's own session limit.
func TestLimits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	text := strings.Replace(base, "user: app", "user: app\n    max_sessions: 30", 1) +
		"limits:\n  sessions_per_identity: 5\n  sessions_per_connection: ${CONN_LIMIT:-40}\n  statement_bytes: 512KiB\n  inflight_bytes: 1073741824\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := Limits{SessionsPerIdentity: 5, SessionsPerConnection: 40, StatementBytes: 512 << 10, InflightBytes: 1 << 30}
	if diff := cmp.Diff(want, c.Limits); diff != "" {
		t.Errorf("limits (-want +got):\n%s", diff)
	}
	db, _ := c.Connection("db")
	if got := c.SessionLimit(db); got != 30 {
		t.Errorf("SessionLimit(db): got %d, want its max_sessions 30", got)
	}
	if got := c.SessionLimit(&Connection{Name: "other"}); got != 40 {
		t.Errorf("SessionLimit(other): got %d, want limits.sessions_per_connection 40", got)
	}
	if d := DefaultLimits(); d.SessionsPerIdentity >= 100 || d.SessionsPerConnection >= 100 {
		// PostgreSQL's default max_connections is 100: the defaults leave room for others.
		t.Errorf("default limits %+v: want them well below 100 sessions", d)
	}
}

func TestBytes(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"1048576", 1 << 20, true}, {"1MiB", 1 << 20, true}, {"512 KiB", 512 << 10, true}, {"2GiB", 2 << 30, true},
		{"10B", 10, true}, {"1MB", 0, false}, {"-1", 0, false}, {"MiB", 0, false}, {"9999999999GiB", 0, false}, {"", 0, false},
	} {
		got, err := ParseBytes(c.in)
		if got != c.want || (err == nil) != c.ok {
			t.Errorf("ParseBytes(%q): got %d, %v; want %d, ok %v", c.in, got, err, c.want, c.ok)
		}
		if c.ok {
			if back, _ := ParseBytes(FormatBytes(got)); back != got {
				t.Errorf("FormatBytes(%d) = %q reads back as %d", got, FormatBytes(got), back)
			}
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// base is a small valid config; the cases below change one thing in it.
const base = `listen: 127.0.0.1:8443
auth:
  oidc:
    issuer: https://idp.example.com
connections:
  - name: db
    type: postgres
    host: localhost
    user: app
policy_files: [policy.yaml]
`

func TestLoadErrors(t *testing.T) {
	env := envOf(map[string]string{"SET": "x", "EMPTY": "", "TWO_LINES": "hoop@example.com\r\nBcc: x@example.com"})
	tests := []struct {
		name string
		file string
		want string
	}{
		{"ok", base, ""},
		{"empty", "", "gateway.yaml: empty config file"},
		{"not a mapping", "- listen\n", "gateway.yaml:1: want a mapping"},
		{"syntax", "listen: [\n", "gateway.yaml:1: yaml: did not find expected node content"},
		{"unknown field", base + "tls:\n  cert_fle: a.crt\n  key_file: a.key\n",
			"gateway.yaml:12: tls.cert_fle: unknown field (did you mean cert_file?)"},
		{"unknown top-level field", base + "polcy_files: []\n",
			"gateway.yaml:11: polcy_files: unknown field (did you mean policy_files?)"},
		{"port", strings.Replace(base, "user: app", "user: app\n    port: abc", 1),
			"gateway.yaml:10: connections[0].port: want an integer 1-65535"},
		{"port 0", strings.Replace(base, "user: app", "user: app\n    port: 0", 1),
			"gateway.yaml:10: connections[0].port: want an integer 1-65535"},
		{"port from env", strings.Replace(base, "user: app", "user: app\n    port: ${SET}", 1),
			"gateway.yaml:10: connections[0].port: want an integer 1-65535"},
		{"unset variable", strings.Replace(base, "host: localhost", "host: ${DB_HOST}", 1),
			"gateway.yaml:8: connections[0].host: environment variable DB_HOST is not set"},
		{"two unset variables", strings.Replace(base, "host: localhost", "host: ${A}.${B:-x}.${C}", 1),
			"gateway.yaml:8: connections[0].host: environment variable A is not set\n" +
				"gateway.yaml:8: connections[0].host: environment variable C is not set"},
		{"unterminated variable", strings.Replace(base, "host: localhost", "host: ${DB_HOST", 1),
			"gateway.yaml:8: connections[0].host: unterminated ${ (write $$ for a literal $)"},
		{"bad variable name", strings.Replace(base, "host: localhost", "host: ${DB HOST}", 1),
			"gateway.yaml:8: connections[0].host: bad variable reference: want ${NAME} or ${NAME:-default} (write $$ for a literal $)"},
		{"set but empty variable is required", strings.Replace(base, "issuer: https://idp.example.com", "issuer: ${EMPTY}", 1),
			"gateway.yaml:4: auth.oidc.issuer: required (the identity provider's URL, such as https://idp.example.com)"},
		{"plain HTTP on all interfaces", strings.Replace(base, "127.0.0.1:8443", "0.0.0.0:8443\npublic_url: https://hoop.example.com", 1),
			"gateway.yaml:1: listen 0.0.0.0:8443 is not a loopback address; plain HTTP is refused, set tls.cert_file and tls.key_file"},
		{"plain HTTP on a name", strings.Replace(base, "127.0.0.1:8443", "hoop.internal:8443\npublic_url: https://hoop.example.com", 1),
			"gateway.yaml:1: listen hoop.internal:8443 is not a loopback address; plain HTTP is refused, set tls.cert_file and tls.key_file"},
		{"empty host", strings.Replace(base, "127.0.0.1:8443", ":8443\npublic_url: https://hoop.example.com", 1),
			"gateway.yaml:1: listen :8443 is not a loopback address; plain HTTP is refused, set tls.cert_file and tls.key_file"},
		{"no public url off loopback", strings.Replace(base, "127.0.0.1:8443", "0.0.0.0:8443\ntls: {cert_file: c, key_file: k}", 1),
			"gateway.yaml:1: public_url: required when listen is not a loopback address (the URL clients use, such as https://hoop.example.com)"},
		{"bad public url", base + "public_url: hoop.example.com\n",
			"gateway.yaml:11: public_url: want an http or https URL, such as https://hoop.example.com"},
		{"listen without port", strings.Replace(base, "127.0.0.1:8443", "127.0.0.1", 1),
			"gateway.yaml:1: listen: want host:port, such as 127.0.0.1:8443"},
		{"cert without key", base + "tls:\n  cert_file: a.crt\n",
			"gateway.yaml:11: tls.key_file: required with tls.cert_file"},
		{"key without cert", base + "tls:\n  key_file: a.key\n",
			"gateway.yaml:11: tls.cert_file: required with tls.key_file"},
		{"duplicate connection", strings.Replace(base, "policy_files", "  - name: db\n    type: postgres\n    host: h\n    user: u\npolicy_files", 1),
			"gateway.yaml:10: connections[1].name: duplicate connection db (first at line 6)"},
		{"bad connection name", strings.Replace(base, "name: db", "name: DB_prod", 1),
			`gateway.yaml:6: connections[0].name: "DB_prod": use lowercase letters, digits and '-'`},
		{"connection name like a flag", strings.Replace(base, "name: db", "name: -db", 1),
			`gateway.yaml:6: connections[0].name: "-db": use lowercase letters, digits and '-'`},
		{"no connection name", strings.Replace(base, "  - name: db\n    type", "  - type", 1),
			"gateway.yaml:6: connections[0].name: required"},
		{"connection type", strings.Replace(base, "type: postgres", "type: postgresql", 1),
			"gateway.yaml:7: connections[0].type: unknown type 'postgresql' (did you mean postgres?)"},
		{"connection type mysql", strings.Replace(base, "type: postgres", "type: mysql", 1),
			"gateway.yaml:7: connections[0].type: unknown type 'mysql' (want postgres)"},
		{"no host", strings.Replace(base, "    host: localhost\n", "", 1),
			"gateway.yaml:6: connections[0].host: required"},
		{"sslmode", strings.Replace(base, "user: app", "user: app\n    sslmode: requier", 1),
			"gateway.yaml:10: connections[0].sslmode: unknown sslmode 'requier' (did you mean require?)"},
		{"sslmode far off", strings.Replace(base, "user: app", "user: app\n    sslmode: on", 1),
			"gateway.yaml:10: connections[0].sslmode: unknown sslmode 'on' (want disable, allow, prefer, require, verify-ca or verify-full)"},
		{"no login", strings.Replace(base, "    user: app\n", "", 1),
			"gateway.yaml:6: connections[0]: set user (one login for every access level) or roles (one per level)"},
		{"user and roles", strings.Replace(base, "user: app", "user: app\n    roles:\n      read: {user: ro}", 1),
			"gateway.yaml:6: connections[0]: set user (one login for every access level) or roles (one per level), not both"},
		{"password without user", strings.Replace(base, "user: app", "password: pw\n    roles:\n      read: {user: ro}", 1),
			"gateway.yaml:9: connections[0].password: set without user"},
		{"unknown role", strings.Replace(base, "user: app", "roles:\n      wirte: {user: rw}", 1),
			"gateway.yaml:10: connections[0].roles.wirte: unknown field (did you mean write?)"},
		{"role without user", strings.Replace(base, "user: app", "roles:\n      read: {password: pw}", 1),
			"gateway.yaml:10: connections[0].roles.read.user: required"},
		{"connections not a list", strings.Replace(base, "  - name: db\n    type: postgres\n    host: localhost\n    user: app\n", "  db: {}\n", 1),
			"gateway.yaml:6: connections: want a list"},
		{"no policy files", strings.Replace(base, "policy_files: [policy.yaml]\n", "", 1),
			"gateway.yaml: policy_files: want at least one policy file"},
		{"empty policy files", strings.Replace(base, "[policy.yaml]", "[]", 1),
			"gateway.yaml:10: policy_files: want at least one policy file"},
		{"no issuer", strings.Replace(base, "    issuer: https://idp.example.com\n", "", 1),
			"gateway.yaml:3: auth.oidc.issuer: required (the identity provider's URL, such as https://idp.example.com)"},
		{"issuer not a URL", strings.Replace(base, "https://idp.example.com", "idp.example.com", 1),
			"gateway.yaml:4: auth.oidc.issuer: want an https URL, such as https://idp.example.com"},
		{"plain http issuer on another host", strings.Replace(base, "https://idp.example.com", "http://idp.example.com", 1),
			"gateway.yaml:4: auth.oidc.issuer: want an https URL (plain http only on a loopback address)"},
		{"scopes without openid", strings.Replace(base, "idp.example.com", "idp.example.com\n    scopes: [email]", 1),
			"gateway.yaml:5: auth.oidc.scopes: want a list that includes openid"},
		{"store", base + "store: mysql://x\n",
			"gateway.yaml:11: store: want sqlite://PATH or postgres://URL"},
		{"catalog refresh", base + "catalog:\n  refresh: 0s\n",
			`gateway.yaml:12: catalog.refresh: bad duration "0s": want a positive duration such as 30m or 4h`},
		{"catalog field", base + "catalog:\n  refrsh: 1m\n",
			"gateway.yaml:12: catalog.refrsh: unknown field (did you mean refresh?)"},
		{"rows per statement", base + "recording:\n  rows_per_statement: -1\n",
			"gateway.yaml:12: recording.rows_per_statement: want an integer 0-10000000"},
		{"sessions per identity 0", base + "limits:\n  sessions_per_identity: 0\n",
			"gateway.yaml:12: limits.sessions_per_identity: want an integer 1-100000"},
		{"sessions per connection not a number", base + "limits:\n  sessions_per_connection: many\n",
			"gateway.yaml:12: limits.sessions_per_connection: want an integer 1-100000"},
		{"unknown limit", base + "limits:\n  sesions_per_identity: 5\n",
			"gateway.yaml:12: limits.sesions_per_identity: unknown field (did you mean sessions_per_identity?)"},
		{"statement bytes unit", base + "limits:\n  statement_bytes: 1MB\n",
			"gateway.yaml:12: limits.statement_bytes: want a size from 1KiB to 1MiB, such as 1MiB or 1048576"},
		{"statement bytes too big", base + "limits:\n  statement_bytes: 1GiB\n",
			"gateway.yaml:12: limits.statement_bytes: want a size from 1KiB to 1MiB, such as 1MiB or 1048576"},
		{"inflight below its floor", base + "limits:\n  inflight_bytes: 512KiB\n",
			"gateway.yaml:12: limits.inflight_bytes: want a size from 1MiB to 1024GiB, such as 1MiB or 1048576"},
		{"connection max sessions", strings.Replace(base, "user: app", "user: app\n    max_sessions: 0", 1),
			"gateway.yaml:10: connections[0].max_sessions: want an integer 1-100000"},
		{"sink type", base + "audit:\n  sinks:\n    - type: fille\n      path: a.jsonl\n",
			"gateway.yaml:13: audit.sinks[0].type: unknown sink type 'fille' (did you mean file?)"},
		{"sink without path", base + "audit:\n  sinks:\n    - type: file\n",
			"gateway.yaml:13: audit.sinks[0].path: required for a file sink"},
		{"sink field of another type", base + "audit:\n  sinks:\n    - type: stdout\n      url: https://x\n",
			"gateway.yaml:14: audit.sinks[0].url: not used by a stdout sink"},
		{"webhook url", base + "audit:\n  sinks:\n    - type: webhook\n      url: siem\n",
			"gateway.yaml:14: audit.sinks[0].url: want an http or https URL for a webhook sink"},
		{"mask hash key short", base + "masking:\n  hash_key: abcd\n",
			"gateway.yaml:12: masking.hash_key: want at least 16 bytes, hex-encoded (openssl rand -hex 32)"},
		{"mask hash key not hex", base + "masking:\n  hash_key: " + strings.Repeat("z", 40) + "\n",
			"gateway.yaml:12: masking.hash_key: want at least 16 bytes, hex-encoded (openssl rand -hex 32)"},
		{"mask unknown key", base + "masking:\n  hash_keys: x\n",
			"gateway.yaml:12: masking.hash_keys: unknown field (did you mean hash_key?)"},
		{"chain key short", base + "audit:\n  chain_key: abcd\n",
			"gateway.yaml:12: audit.chain_key: want at least 32 bytes, hex-encoded (64 hex digits, such as the output of openssl rand -hex 32)"},
		{"chain key not hex", base + "audit:\n  chain_key: " + strings.Repeat("g", 64) + "\n",
			"gateway.yaml:12: audit.chain_key: want at least 32 bytes, hex-encoded (64 hex digits, such as the output of openssl rand -hex 32)"},
		{"chain key unset", base + "audit:\n  chain_key: ${HOOP_AUDIT_CHAIN_KEY}\n",
			"gateway.yaml:12: audit.chain_key: environment variable HOOP_AUDIT_CHAIN_KEY is not set"},
		{"chain key empty keeps the file", base + "audit:\n  chain_key: ${EMPTY}\n", ""},
		{"audit typo", base + "audit:\n  alert:\n    - name: a\n",
			"gateway.yaml:12: audit.alert: unknown field (did you mean alerts?)"},
		{"sink field typo", base + "audit:\n  sinks:\n    - type: syslog\n      facilty: auth\n",
			"gateway.yaml:14: audit.sinks[0].facilty: unknown field (did you mean facility?)"},
		{"sink queue", base + "audit:\n  sinks:\n    - type: stdout\n      queue: 0\n",
			"gateway.yaml:14: audit.sinks[0].queue: want an integer 1-1000000"},
		{"webhook batch", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      batch: many\n",
			"gateway.yaml:15: audit.sinks[0].batch: want an integer 1-10000"},
		{"batch on a file sink", base + "audit:\n  sinks:\n    - type: file\n      path: a.jsonl\n      batch: 10\n",
			"gateway.yaml:15: audit.sinks[0].batch: not used by a file sink"},
		{"headers on a syslog sink", base + "audit:\n  sinks:\n    - type: syslog\n      headers: {X-A: b}\n",
			"gateway.yaml:14: audit.sinks[0].headers: not used by a syslog sink"},
		{"facility on a webhook", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      facility: auth\n",
			"gateway.yaml:15: audit.sinks[0].facility: not used by a webhook sink"},
		{"facility typo", base + "audit:\n  sinks:\n    - type: syslog\n      facility: auht\n",
			"gateway.yaml:14: audit.sinks[0].facility: unknown syslog facility 'auht' (did you mean auth?)"},
		{"facility far off", base + "audit:\n  sinks:\n    - type: syslog\n      facility: security-events\n",
			"gateway.yaml:14: audit.sinks[0].facility: unknown syslog facility 'security-events' (want kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp, ntp, security, console, clock, local0, local1, local2, local3, local4, local5, local6 or local7)"},
		{"syslog address", base + "audit:\n  sinks:\n    - type: syslog\n      address: 127.0.0.1:514\n",
			"gateway.yaml:14: audit.sinks[0].address: want udp://host:port or tcp://host:port, or nothing for the local syslog"},
		{"headers not a mapping", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers: [a]\n",
			"gateway.yaml:15: audit.sinks[0].headers: want a mapping"},
		{"header name", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers:\n        X Token: a\n",
			"gateway.yaml:16: audit.sinks[0].headers.X Token: not an HTTP header name"},
		{"header value on two lines", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers:\n        X-Token: \"a\\r\\nX-Evil: 1\"\n",
			"gateway.yaml:16: audit.sinks[0].headers.X-Token: want a header value on one line"},
		{"header repeated", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers:\n        Authorization: a\n        authorization: b\n",
			"gateway.yaml:17: audit.sinks[0].headers.authorization: repeated header (Authorization at line 16)"},
		{"header from an unset variable", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers:\n        Authorization: Bearer ${SIEM_TOKEN}\n",
			"gateway.yaml:16: audit.sinks[0].headers.Authorization: environment variable SIEM_TOKEN is not set"},
		{"header without a value", base + "audit:\n  sinks:\n    - type: webhook\n      url: https://siem\n      headers:\n        Authorization:\n",
			"gateway.yaml:16: audit.sinks[0].headers.Authorization: want a value"},
		{"alerts not a list", base + "audit:\n  alerts:\n    name: a\n",
			"gateway.yaml:13: audit.alerts: want a list"},
		{"alert field typo", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      treshold: 5\n",
			"gateway.yaml:15: audit.alerts[0].treshold: unknown field (did you mean threshold?)"},
		{"alert without name", base + "audit:\n  alerts:\n    - kind: statement\n",
			"gateway.yaml:13: audit.alerts[0].name: required"},
		{"alert names repeated", base + "audit:\n  alerts:\n    - {name: a, kind: login}\n    - {name: a, kind: statement}\n",
			"gateway.yaml:14: audit.alerts[1].name: duplicate alert a (first at line 13)"},
		{"alert without kind", base + "audit:\n  alerts:\n    - name: a\n",
			"gateway.yaml:13: audit.alerts[0].kind: required (an event kind, such as statement, or review.* for every review event)"},
		{"alert kind typo", base + "audit:\n  alerts:\n    - name: a\n      kind: statment\n",
			"gateway.yaml:14: audit.alerts[0].kind: unknown event kind 'statment' (did you mean statement?)"},
		{"alert on alerts", base + "audit:\n  alerts:\n    - name: a\n      kind: alert\n",
			"gateway.yaml:14: audit.alerts[0].kind: alert events are not counted by alert rules"},
		{"alert threshold", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      threshold: 0\n",
			"gateway.yaml:15: audit.alerts[0].threshold: want an integer 1-100000"},
		{"alert window", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      window: soon\n",
			"gateway.yaml:15: audit.alerts[0].window: bad duration \"soon\": want a positive duration such as 1m or 1h"},
		{"max token lifetime not a duration", strings.Replace(base, "auth:\n", "auth:\n  max_token_lifetime: a day\n", 1),
			"gateway.yaml:3: auth.max_token_lifetime: bad duration \"a day\": want a duration from 1m0s to 720h0m0s, such as 8h (the default is 24h0m0s)"},
		{"max token lifetime zero", strings.Replace(base, "auth:\n", "auth:\n  max_token_lifetime: 0s\n", 1),
			"gateway.yaml:3: auth.max_token_lifetime: bad duration \"0s\": want a duration from 1m0s to 720h0m0s, such as 8h (the default is 24h0m0s)"},
		{"max token lifetime a year", strings.Replace(base, "auth:\n", "auth:\n  max_token_lifetime: 8760h\n", 1),
			"gateway.yaml:3: auth.max_token_lifetime: bad duration \"8760h\": want a duration from 1m0s to 720h0m0s, such as 8h (the default is 24h0m0s)"},
		{"max token lifetime typo", strings.Replace(base, "auth:\n", "auth:\n  max_token_lifetme: 8h\n", 1),
			"gateway.yaml:3: auth.max_token_lifetme: unknown field (did you mean max_token_lifetime?)"},
		{"alert window negative", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      window: -1m\n",
			"gateway.yaml:15: audit.alerts[0].window: bad duration \"-1m\": want a positive duration such as 1m or 1h"},
		{"alert where not a mapping", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      where: decision=deny\n",
			"gateway.yaml:15: audit.alerts[0].where: want a mapping"},
		{"alert where without value", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      where:\n        decision:\n",
			"gateway.yaml:16: audit.alerts[0].where.decision: want a value"},
		{"alert where repeated", base + "audit:\n  alerts:\n    - name: a\n      kind: statement\n      where: {decision: deny, decision: allow}\n",
			"gateway.yaml:15: audit.alerts[0].where.decision: repeated field (first at line 15)"},
		{"notify type typo", base + "reviews:\n  notify:\n    - type: slak\n      url: https://hooks.slack.com/x\n",
			"gateway.yaml:13: reviews.notify[0].type: unknown notify type 'slak' (did you mean slack?)"},
		{"notify type far off", base + "reviews:\n  notify:\n    - type: sms\n",
			"gateway.yaml:13: reviews.notify[0].type: unknown notify type 'sms' (want slack, webhook or email)"},
		{"notify without type", base + "reviews:\n  notify:\n    - url: https://hooks.slack.com/x\n",
			"gateway.yaml:13: reviews.notify[0].type: required (slack, webhook or email)"},
		{"notify unknown field", base + "reviews:\n  notify:\n    - type: email\n      adress: smtp.example.com:587\n",
			"gateway.yaml:14: reviews.notify[0].adress: unknown field (did you mean address?)"},
		{"reviews unknown field", base + "reviews:\n  notfy: []\n",
			"gateway.yaml:12: reviews.notfy: unknown field (did you mean notify?)"},
		{"notify not a list", base + "reviews:\n  notify:\n    type: slack\n",
			"gateway.yaml:13: reviews.notify: want a list"},
		{"slack url unset", base + "reviews:\n  notify:\n    - type: slack\n      url: ${SLACK_WEBHOOK_URL}\n",
			"gateway.yaml:14: reviews.notify[0].url: environment variable SLACK_WEBHOOK_URL is not set"},
		{"slack url empty", base + "reviews:\n  notify:\n    - type: slack\n      url: ${EMPTY}\n",
			"gateway.yaml:14: reviews.notify[0].url: required for a slack target (the incoming webhook's URL)"},
		{"slack url over http", base + "reviews:\n  notify:\n    - type: slack\n      url: http://hooks.slack.com/services/T0/B0/hunter2\n",
			"gateway.yaml:14: reviews.notify[0].url: want an https URL for a slack target (plain http only on a loopback address)"},
		{"slack url not a URL", base + "reviews:\n  notify:\n    - type: slack\n      url: hooks.slack.com/services/T0/B0/hunter2\n",
			"gateway.yaml:14: reviews.notify[0].url: want an https URL for a slack target"},
		{"slack with headers", base + "reviews:\n  notify:\n    - type: slack\n      url: https://hooks.slack.com/x\n      headers: {Authorization: hunter2}\n",
			"gateway.yaml:15: reviews.notify[0].headers: not used by a slack target"},
		{"webhook url", base + "reviews:\n  notify:\n    - type: webhook\n      url: siem\n",
			"gateway.yaml:14: reviews.notify[0].url: want an http or https URL for a webhook target"},
		{"webhook header on two lines", base + "reviews:\n  notify:\n    - type: webhook\n      url: https://siem.example.com/hoop\n      headers: {Authorization: \"Bearer hunter2\\r\\nX-Evil: 1\"}\n",
			"gateway.yaml:15: reviews.notify[0].headers.Authorization: want a header value on one line"},
		{"webhook with a field of email", base + "reviews:\n  notify:\n    - type: webhook\n      url: https://siem.example.com/hoop\n      to: [a@example.com]\n",
			"gateway.yaml:15: reviews.notify[0].to: not used by a webhook target"},
		{"email without address, from, to", base + "reviews:\n  notify:\n    - type: email\n",
			"gateway.yaml:13: reviews.notify[0].address: required for an email target (the SMTP server, such as smtp.example.com:587)\n" +
				"gateway.yaml:13: reviews.notify[0].from: required for an email target (the sender, such as hoop@example.com)\n" +
				"gateway.yaml:13: reviews.notify[0].to: want at least one address"},
		{"email address without port", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com\n      from: hoop@example.com\n      to: [a@example.com]\n",
			"gateway.yaml:14: reviews.notify[0].address: want host:port, such as smtp.example.com:587"},
		{"email bad recipient", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to:\n        - a@example.com\n        - oncall\n",
			"gateway.yaml:18: reviews.notify[0].to[1]: \"oncall\": not an e-mail address"},
		{"email recipient on two lines", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: [\"a@example.com\\nBcc: x@example.com\"]\n",
			"gateway.yaml:16: reviews.notify[0].to[0]: want an e-mail address on one line"},
		{"email sender from env on two lines", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: ${TWO_LINES}\n      to: [a@example.com]\n",
			"gateway.yaml:15: reviews.notify[0].from: want an e-mail address on one line"},
		{"email empty to", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: []\n",
			"gateway.yaml:16: reviews.notify[0].to: want at least one address"},
		{"email tls typo", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: [a@example.com]\n      tls: strattls\n",
			"gateway.yaml:17: reviews.notify[0].tls: unknown tls mode 'strattls' (did you mean starttls?)"},
		{"email password without username", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: [a@example.com]\n      password: hunter2\n",
			"gateway.yaml:17: reviews.notify[0].password: set without username"},
		{"email password in the clear", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: [a@example.com]\n      username: hoop\n      password: hunter2\n      tls: none\n",
			"gateway.yaml:19: reviews.notify[0].tls: none would send the password in the clear: use starttls or required, or a loopback address"},
		{"email password in the clear to loopback", base + "reviews:\n  notify:\n    - type: email\n      address: 127.0.0.1:25\n      from: hoop@example.com\n      to: [a@example.com]\n      username: hoop\n      password: hunter2\n      tls: none\n", ""},
		{"email with a field of webhook", base + "reviews:\n  notify:\n    - type: email\n      address: smtp.example.com:587\n      from: hoop@example.com\n      to: [a@example.com]\n      url: https://x\n",
			"gateway.yaml:17: reviews.notify[0].url: not used by an email target"},
		{"review limit 0", base + "reviews:\n  max_pending: 0\n  max_per_minute: many\n",
			"gateway.yaml:12: reviews.max_pending: want an integer 1-100000\n" +
				"gateway.yaml:13: reviews.max_per_minute: want an integer 1-100000"},
		{"several errors", strings.Replace(base, "user: app", "user: app\n    port: abc\n    sslmode: nope", 1) + "extra: 1\n",
			"gateway.yaml:10: connections[0].port: want an integer 1-65535\n" +
				"gateway.yaml:11: connections[0].sslmode: unknown sslmode 'nope' (want disable, allow, prefer, require, verify-ca or verify-full)\n" +
				"gateway.yaml:13: extra: unknown field"},
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile("gateway.yaml", []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load("gateway.yaml", env)
			if got := errString(err); got != tt.want {
				t.Errorf("Load:\ngot  %q\nwant %q", got, tt.want)
			}
			if strings.Contains(errString(err), "hunter2") {
				t.Errorf("Load: the error shows a secret: %q", errString(err))
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	file := "listen: ${L:-}\ndata_dir: ../data\nstore: sqlite://db/hoop.db\n" +
		"auth:\n  oidc:\n    issuer: https://idp.example.com\n    client_id: ${EMPTY:-}\n" +
		"connections:\n  - {name: db, type: postgres, host: h, user: u}\npolicy_files: [/etc/hoop/policy.yaml]\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, envOf(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	def := DefaultConfig()
	for _, c := range []struct{ field, got, want string }{
		{"listen", got.Listen, def.Listen}, // an empty value keeps the default
		{"public_url", got.PublicURL, "http://" + def.Listen},
		{"data_dir", got.DataDir, filepath.Join(filepath.Dir(dir), "data")},
		{"store", got.Store, "sqlite://" + filepath.Join(dir, "db", "hoop.db")},
		{"client_id", got.Auth.OIDC.ClientID, "hoop-cli"},
		{"audience", got.Auth.OIDC.Audience, "hoop-cli"},
		{"groups_claim", got.Auth.OIDC.GroupsClaim, "groups"},
		{"policy_files[0]", got.PolicyFiles[0], "/etc/hoop/policy.yaml"},
		{"sslmode", got.Connections[0].SSLMode, "prefer"},
	} {
		if c.got != c.want {
			t.Errorf("%s: got %q, want %q", c.field, c.got, c.want)
		}
	}
	if got.Connections[0].Port != 5432 || got.Recording.RowsPerStatement != 1000 {
		t.Errorf("port, rows_per_statement: got %d, %d; want 5432, 1000", got.Connections[0].Port, got.Recording.RowsPerStatement)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(file, "sqlite://db/hoop.db", `"sqlite://:memory:"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	if mem, err := Load(path, envOf(nil)); err != nil || mem.Store != "sqlite://:memory:" {
		t.Errorf("Load with an in-memory store: got %v; want store sqlite://:memory:", err)
	}
	if p, ok := got.SQLitePath(); !ok || p != filepath.Join(dir, "db", "hoop.db") {
		t.Errorf("SQLitePath: got %q, %v", p, ok)
	}
	if names := got.ConnectionNames(); len(names) != 1 || names[0] != "db" {
		t.Errorf("ConnectionNames: got %q, want [db]", names)
	}
	if _, ok := got.Connection("nope"); ok {
		t.Errorf(`Connection("nope"): found`)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing): got %v, want a not-exist error", err)
	}
}

// TestAudit: the audit section as a whole, with its defaults, and the audit package
// takes what it gives.
func TestAudit(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	key := strings.Repeat("ab", 32)
	file := base + `audit:
  chain_key: ${HOOP_AUDIT_CHAIN_KEY}
  sinks:
    - type: file
      path: logs/audit.jsonl
      queue: 50000
    - type: webhook
      url: https://siem.example.com/hoop
      batch: 50
      headers:
        Authorization: Bearer ${SIEM_TOKEN}
        X-Source: hoop
    - type: syslog
      address: udp://127.0.0.1:514
      facility: local3
    - type: stdout
  alerts:
    - name: denials
      kind: statement
      where: {decision: deny, rows: 0}
      threshold: 5
      window: 30s
      by: actor
    - name: pii-read
      kind: mask.column
    - name: reviews
      kind: review.*
      by: connection
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, envOf(map[string]string{"HOOP_AUDIT_CHAIN_KEY": key, "SIEM_TOKEN": "s3cret"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Audit{
		ChainKey: key,
		Sinks: []Sink{
			{Type: "file", Path: filepath.Join(dir, "logs", "audit.jsonl"), Queue: 50000, Line: 14},
			{Type: "webhook", URL: "https://siem.example.com/hoop", Batch: 50,
				Headers: map[string]string{"Authorization": "Bearer s3cret", "X-Source": "hoop"}, Line: 17},
			{Type: "syslog", Address: "udp://127.0.0.1:514", Facility: "local3", Line: 23},
			{Type: "stdout", Line: 26},
		},
		Alerts: []Alert{
			{Name: "denials", Kind: "statement", Where: map[string]string{"decision": "deny", "rows": "0"},
				Threshold: 5, Window: 30 * time.Second, By: "actor", Line: 28},
			{Name: "pii-read", Kind: "mask.column", Threshold: 1, Window: time.Minute, By: "actor", Line: 34},
			{Name: "reviews", Kind: "review.*", Threshold: 1, Window: time.Minute, By: "connection", Line: 36},
		},
	}
	if diff := cmp.Diff(want, got.Audit); diff != "" {
		t.Errorf("Audit (-want +got):\n%s", diff)
	}

	// What the config gives, the audit package takes as it is.
	sinks := got.Audit.SinkConfigs()
	if len(sinks) != 4 || sinks[1].Headers["Authorization"] != "Bearer s3cret" || sinks[2].Facility != "local3" || sinks[0].Queue != 50000 {
		t.Errorf("SinkConfigs: got %+v", sinks)
	}
	d, err := audit.NewDispatcher(&audit.Config{Sinks: sinks, Stdout: io.Discard})
	if err != nil {
		t.Fatalf("audit.NewDispatcher: %v", err)
	}
	if err := d.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}
	rules := got.Audit.Rules()
	if len(rules) != 3 || rules[0].Window != 30*time.Second || rules[0].Where["decision"] != "deny" {
		t.Errorf("Rules: got %+v", rules)
	}
	alerts, err := audit.NewAlerts(rules, nil)
	if err != nil {
		t.Fatalf("audit.NewAlerts: %v", err)
	}
	fired := alerts.Observe(audit.Event{Kind: audit.KindMaskColumn, Actor: "ana@example.com"})
	if len(fired) != 1 || fired[0].Data["rule"] != "pii-read" {
		t.Errorf("a masked column read: got %v, want the pii-read alert", fired)
	}
	if k, err := audit.LoadKey(got.DataDir, got.Audit.ChainKey); err != nil || len(k) != 32 {
		t.Errorf("LoadKey(the config's key): %x, %v", k, err)
	}
}

// TestReviewLimits: the reviews a person may open are bounded by default, and the
// config may change the bounds.
func TestReviewLimits(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	for _, tt := range []struct {
		text               string
		pending, perMinute int
	}{
		{"", DefaultMaxPendingReviews, DefaultMaxReviewsPerMinute},
		{"reviews:\n  max_pending: 3\n", 3, DefaultMaxReviewsPerMinute},
		{"reviews:\n  max_pending: 3\n  max_per_minute: 100\n", 3, 100},
	} {
		if err := os.WriteFile(path, []byte(base+tt.text), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path, envOf(nil))
		if err != nil {
			t.Fatalf("%q: %v", tt.text, err)
		}
		if got.Reviews.MaxPending != tt.pending || got.Reviews.MaxPerMinute != tt.perMinute {
			t.Errorf("%q: got max_pending %d, max_per_minute %d, want %d and %d", tt.text, got.Reviews.MaxPending, got.Reviews.MaxPerMinute, tt.pending, tt.perMinute)
		}
	}
}

// TestReviews: the reviews section as a whole, values from the environment, and the
// notify package takes what it gives. Printed with any verb, the config hides the
// password, the header values and the Slack URL's path.
func TestReviews(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	file := base + `reviews:
  notify:
    - type: slack
      url: ${SLACK_WEBHOOK_URL}
    - type: webhook
      url: https://siem.example.com/hoop
      headers: {Authorization: "Bearer ${TOKEN}"}
    - type: email
      address: smtp.example.com:587
      from: hoop@example.com
      to: [dba-oncall@example.com]
      username: ${SMTP_USER:-}
      password: ${SMTP_PASSWORD:-}
    - type: email
      address: 127.0.0.1:25
      from: Hoop <hoop@example.com>
      to: [a@example.com, b@example.com]
      tls: none
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/slacksecret",
		"TOKEN":             "tokensecret",
		"SMTP_USER":         "hoop",
		"SMTP_PASSWORD":     "smtpsecret",
	}
	got, err := Load(path, envOf(env))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Reviews{Notify: []NotifyTarget{
		{Type: "slack", URL: "https://hooks.slack.com/services/T0/B0/slacksecret", Line: 13},
		{Type: "webhook", URL: "https://siem.example.com/hoop", Headers: map[string]string{"Authorization": "Bearer tokensecret"}, Line: 15},
		{Type: "email", Address: "smtp.example.com:587", From: "hoop@example.com", To: []string{"dba-oncall@example.com"},
			Username: "hoop", Password: "smtpsecret", TLS: "starttls", Line: 18},
		{Type: "email", Address: "127.0.0.1:25", From: "Hoop <hoop@example.com>", To: []string{"a@example.com", "b@example.com"},
			TLS: "none", Line: 24},
	}, MaxPending: DefaultMaxPendingReviews, MaxPerMinute: DefaultMaxReviewsPerMinute}
	if diff := cmp.Diff(want, got.Reviews); diff != "" {
		t.Errorf("Reviews (-want +got):\n%s", diff)
	}

	// Unset SMTP_USER and SMTP_PASSWORD (${…:-}): no AUTH.
	delete(env, "SMTP_USER")
	delete(env, "SMTP_PASSWORD")
	noAuth, err := Load(path, envOf(env))
	if err != nil {
		t.Fatalf("Load without SMTP_USER: %v", err)
	}
	if e := noAuth.Reviews.Notify[2]; e.Username != "" || e.Password != "" {
		t.Errorf("without SMTP_USER and SMTP_PASSWORD: got username %q, password set %v; want neither", e.Username, e.Password != "")
	}

	// What the config gives, the notify package takes as it is.
	cfgs := got.Reviews.NotifyConfigs()
	if len(cfgs) != 4 || cfgs[1].Headers["Authorization"] != "Bearer tokensecret" || cfgs[2].Password != "smtpsecret" || cfgs[3].TLS != "none" {
		t.Errorf("NotifyConfigs: got %v", cfgs)
	}
	n, err := notify.New(cfgs, nil)
	if err != nil {
		t.Fatalf("notify.New: %v", err)
	}
	if err := n.Close(t.Context()); err != nil {
		t.Errorf("Close: %v", err)
	}

	for _, format := range []string{"%v", "%s", "%+v", "%#v"} {
		for _, v := range []any{got, *got, got.Reviews, got.Reviews.Notify[2], cfgs} {
			out := fmt.Sprintf(format, v)
			for _, secret := range []string{"slacksecret", "tokensecret", "smtpsecret"} {
				if strings.Contains(out, secret) {
					t.Errorf("Sprintf(%q, %T) shows %s:\n%s", format, v, secret, out)
				}
			}
		}
	}
	if s := got.Reviews.Notify[2].String(); s != "email:smtp.example.com:587" {
		t.Errorf("String: got %q, want email:smtp.example.com:587", s)
	}
}

// workload is auth.workload with one good workload, at lines 5-11 of base with it.
const workload = `  workload:
    - name: github-actions
      issuer: https://token.actions.githubusercontent.com
      audience: hoop
      mappings:
        - when: {repository: acme/app}
          identity: "ci:{repository}"
`

// withWorkload returns base with w as auth.workload, after auth.oidc (from line 5).
func withWorkload(w string) string { return strings.Replace(base, "connections:", w+"connections:", 1) }

func TestLoadWorkloadErrors(t *testing.T) {
	change := func(old, new string) string { return withWorkload(strings.Replace(workload, old, new, 1)) }
	second := `    - name: gitlab-ci
      issuer: https://gitlab.example.com
      audience: hoop
      mappings:
        - when: {namespace_path: acme}
          identity: "gitlab:{project_path}"
`
	env := envOf(map[string]string{"EMPTY": ""})
	tests := []struct {
		name string
		file string
		want string
	}{
		{"ok", withWorkload(workload), ""},
		{"two", withWorkload(workload + second), ""},
		{"auth typo", strings.Replace(withWorkload(workload), "  workload:", "  workloads:", 1),
			"gateway.yaml:5: auth.workloads: unknown field (did you mean workload?)"},
		{"not a list", withWorkload("  workload:\n    name: github-actions\n"),
			"gateway.yaml:6: auth.workload: want a list"},
		{"item not a mapping", withWorkload("  workload:\n    - github-actions\n"),
			"gateway.yaml:6: auth.workload[0]: want a mapping"},
		{"field typo", change("issuer:", "isuer:"),
			"gateway.yaml:6: auth.workload[0].issuer: required (the token issuer's URL, such as https://token.actions.githubusercontent.com)\n" +
				"gateway.yaml:7: auth.workload[0].isuer: unknown field (did you mean issuer?)"},
		{"mapping field typo", change("identity:", "identty:"),
			"gateway.yaml:10: auth.workload[0].mappings[0].identity: required (a template over the token's claims, such as ci:{repository}@{ref_name})\n" +
				"gateway.yaml:11: auth.workload[0].mappings[0].identty: unknown field (did you mean identity?)"},
		{"groups typo", change(`"ci:{repository}"`, "\"ci:{repository}\"\n          group: [ci]"),
			"gateway.yaml:12: auth.workload[0].mappings[0].group: unknown field (did you mean groups?)"},
		{"no name", change("    - name: github-actions\n      issuer", "    - issuer"),
			"gateway.yaml:6: auth.workload[0].name: required (what logs call it, such as github-actions)"},
		{"bad name", change("name: github-actions", "name: GitHub Actions"),
			`gateway.yaml:6: auth.workload[0].name: "GitHub Actions": use lowercase letters, digits and '-'`},
		{"duplicate name", withWorkload(workload + strings.Replace(second, "gitlab-ci", "github-actions", 1)),
			"gateway.yaml:12: auth.workload[1].name: duplicate workload github-actions (first at line 6)"},
		{"no issuer", change("      issuer: https://token.actions.githubusercontent.com\n", ""),
			"gateway.yaml:6: auth.workload[0].issuer: required (the token issuer's URL, such as https://token.actions.githubusercontent.com)"},
		{"issuer not a URL", change("https://token.actions.githubusercontent.com", "token.actions.githubusercontent.com"),
			"gateway.yaml:7: auth.workload[0].issuer: want an https URL, such as https://token.actions.githubusercontent.com"},
		{"plain http issuer", change("https://token.actions", "http://token.actions"),
			"gateway.yaml:7: auth.workload[0].issuer: want an https URL (plain http only on a loopback address)"},
		{"plain http issuer on loopback", change("https://token.actions.githubusercontent.com", "http://127.0.0.1:9999"), ""},
		{"duplicate issuer", withWorkload(workload + strings.Replace(second, "https://gitlab.example.com", "https://token.actions.githubusercontent.com/", 1)),
			"gateway.yaml:13: auth.workload[1].issuer: duplicate issuer https://token.actions.githubusercontent.com/ (auth.workload[0] at line 6): put all its mappings in one workload"},
		{"the people's issuer", change("https://token.actions.githubusercontent.com", "https://idp.example.com/"),
			"gateway.yaml:7: auth.workload[0].issuer: https://idp.example.com/ is auth.oidc.issuer, the people's: a workload issuer must be another"},
		{"no audience", change("      audience: hoop\n", ""),
			"gateway.yaml:6: auth.workload[0].audience: required (the aud the jobs ask their tokens for, such as hoop)"},
		{"empty audience", change("audience: hoop", "audience: ${EMPTY}"),
			"gateway.yaml:8: auth.workload[0].audience: required (the aud the jobs ask their tokens for, such as hoop)"},
		{"no mappings", change("      mappings:\n        - when: {repository: acme/app}\n          identity: \"ci:{repository}\"\n", ""),
			"gateway.yaml:6: auth.workload[0].mappings: want at least one mapping (when, identity, groups): a token no mapping matches is refused"},
		{"empty mappings", change("      mappings:\n        - when: {repository: acme/app}\n          identity: \"ci:{repository}\"\n", "      mappings: []\n"),
			"gateway.yaml:9: auth.workload[0].mappings: want at least one mapping (when, identity, groups): a token no mapping matches is refused"},
		{"mappings not a list", change("      mappings:\n        - when: {repository: acme/app}\n          identity: \"ci:{repository}\"\n", "      mappings: {when: {a: b}}\n"),
			"gateway.yaml:9: auth.workload[0].mappings: want a list"},
		{"no when", change("        - when: {repository: acme/app}\n          identity", "        - identity"),
			"gateway.yaml:10: auth.workload[0].mappings[0].when: want the claims a token must have, such as {repository_owner: acme}: without them, every job the issuer signs for would match"},
		{"empty when", change("{repository: acme/app}", "{}"),
			"gateway.yaml:10: auth.workload[0].mappings[0].when: want the claims a token must have, such as {repository_owner: acme}: without them, every job the issuer signs for would match"},
		{"when not a mapping", change("{repository: acme/app}", "repository=acme/app"),
			"gateway.yaml:10: auth.workload[0].mappings[0].when: want a mapping"},
		{"when value a star", change("{repository: acme/app}", `{repository: "*"}`),
			"gateway.yaml:10: auth.workload[0].mappings[0].when.repository: * alone matches any value: give a prefix before it (refs/tags/v*) or leave the claim out"},
		{"when value with a star inside", change("{repository: acme/app}", `{repository: "acme/*-app"}`),
			`gateway.yaml:10: auth.workload[0].mappings[0].when.repository: "acme/*-app": * only ends a value, as a prefix (refs/tags/v*)`},
		{"when value a prefix", change("{repository: acme/app}", `{repository: "acme/*"}`), ""},
		{"when value empty", change("{repository: acme/app}", `{repository: ""}`),
			"gateway.yaml:10: auth.workload[0].mappings[0].when.repository: empty: an empty claim matches no token"},
		{"when value null", change("{repository: acme/app}", `{repository: }`),
			"gateway.yaml:10: auth.workload[0].mappings[0].when.repository: want a value"},
		{"when repeated", change("{repository: acme/app}", `{repository: acme/app, repository: acme/x}`),
			"gateway.yaml:10: auth.workload[0].mappings[0].when.repository: repeated field (first at line 10)"},
		{"no identity", change("          identity: \"ci:{repository}\"\n", ""),
			"gateway.yaml:10: auth.workload[0].mappings[0].identity: required (a template over the token's claims, such as ci:{repository}@{ref_name})"},
		{"identity names no claim", change(`"ci:{repository}"`, "ci-deploy"),
			`gateway.yaml:11: auth.workload[0].mappings[0].identity: "ci-deploy": names no claim, so every token would get the same identity: put a claim in braces, such as ci:{repository}`},
		{"identity unbalanced", change(`"ci:{repository}"`, `"ci:{repository"`),
			`gateway.yaml:11: auth.workload[0].mappings[0].identity: "ci:{repository": unbalanced braces: { at byte 4 is not closed`},
		{"identity closes twice", change(`"ci:{repository}"`, `"ci:{repository}}"`),
			`gateway.yaml:11: auth.workload[0].mappings[0].identity: "ci:{repository}}": unbalanced braces: } at byte 16 closes no {`},
		{"identity empty braces", change(`"ci:{repository}"`, `"ci:{}"`),
			`gateway.yaml:11: auth.workload[0].mappings[0].identity: "ci:{}": empty {} at byte 4: name a claim, such as {repository}`},
		{"identity as a shell variable", change(`"ci:{repository}"`, `"ci:${repository}"`),
			"gateway.yaml:11: auth.workload[0].mappings[0].identity: environment variable repository is not set"},
		{"empty group", change(`"ci:{repository}"`, "\"ci:{repository}\"\n          groups: [ci, '']"),
			"gateway.yaml:12: auth.workload[0].mappings[0].groups[1]: empty string"},
		{"several errors", withWorkload("  workload:\n    - name: a\n      issuer: https://idp.example.com\n      mappings:\n        - identity: x\n"),
			"gateway.yaml:6: auth.workload[0].audience: required (the aud the jobs ask their tokens for, such as hoop)\n" +
				"gateway.yaml:7: auth.workload[0].issuer: https://idp.example.com is auth.oidc.issuer, the people's: a workload issuer must be another\n" +
				`gateway.yaml:9: auth.workload[0].mappings[0].identity: "x": names no claim, so every token would get the same identity: put a claim in braces, such as ci:{repository}` + "\n" +
				"gateway.yaml:9: auth.workload[0].mappings[0].when: want the claims a token must have, such as {repository_owner: acme}: without them, every job the issuer signs for would match"},
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile("gateway.yaml", []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load("gateway.yaml", env)
			if got := errString(err); got != tt.want {
				t.Errorf("Load:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestWorkloads: the config, read in full with a value from the environment, and
// the identity package takes what it gives: a real token from a real issuer at the
// configured URL maps as the config says.
func TestWorkloads(t *testing.T) {
	gh := testissuer.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	file := withWorkload(`  workload:
    - name: github-actions
      issuer: ${GITHUB_ISSUER}
      audience: hoop                      # required
      mappings:                           # first match wins; none → refused
        - when: {repository: acme/app, ref: refs/heads/main}
          identity: "ci:{repository}@{ref_name}"
          groups: [ci-deploy]
        - when: {repository_owner: acme}
          identity: "ci:{repository}"
          groups: [ci-readonly]
    - name: gitlab-ci
      issuer: https://gitlab.example.com
      audience: https://hoop.example.com
      mappings:
        - when:
            namespace_path: acme
            ref_protected: true
            ref: release/*
          identity: gitlab:{project_path}
`)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, envOf(map[string]string{"GITHUB_ISSUER": gh.URL()}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []Workload{
		{Name: "github-actions", Issuer: gh.URL(), Audience: "hoop", Line: 6, Mappings: []WorkloadMapping{
			{When: map[string]string{"repository": "acme/app", "ref": "refs/heads/main"}, Identity: "ci:{repository}@{ref_name}", Groups: []string{"ci-deploy"}, Line: 10},
			{When: map[string]string{"repository_owner": "acme"}, Identity: "ci:{repository}", Groups: []string{"ci-readonly"}, Line: 13},
		}},
		{Name: "gitlab-ci", Issuer: "https://gitlab.example.com", Audience: "https://hoop.example.com", Line: 16, Mappings: []WorkloadMapping{
			{When: map[string]string{"namespace_path": "acme", "ref_protected": "true", "ref": "release/*"}, Identity: "gitlab:{project_path}", Line: 20},
		}},
	}
	if diff := cmp.Diff(want, got.Auth.Workload); diff != "" {
		t.Errorf("Auth.Workload (-want +got):\n%s", diff)
	}
	if got.Auth.OIDC.Issuer != "https://idp.example.com" {
		t.Errorf("auth.oidc.issuer: got %q", got.Auth.OIDC.Issuer)
	}

	vs := identity.NewVerifiers(identity.Config{Issuer: got.Auth.OIDC.Issuer, Audience: got.Auth.OIDC.Audience}, got.Auth.Workloads())
	claims := map[string]any{"aud": "hoop", "repository": "acme/app", "repository_owner": "acme", "ref": "refs/heads/main", "ref_name": "main"}
	id, err := vs.Verify(t.Context(), gh.Token(claims))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if id.Subject != "ci:acme/app@main" || id.Workload != "github-actions" || len(id.Groups) != 1 || id.Groups[0] != "ci-deploy" {
		t.Errorf("Verify: got %+v, want ci:acme/app@main of github-actions in ci-deploy", id)
	}
	claims["repository"] = "evil/app"
	claims["repository_owner"] = "evil"
	if _, err := vs.Verify(t.Context(), gh.Token(claims)); !errors.Is(err, identity.ErrNoMapping) {
		t.Errorf("Verify of another owner: got %v, want ErrNoMapping", err)
	}
}

// machines is auth.machines with one good machine, at lines 5-9 of base with it.
const machines = `  machines:
    - client_id: ci-bot
      audience: hoop
      identity: "machine:ci-bot"
      groups: [ci-deploy]
`

func TestLoadMachineErrors(t *testing.T) {
	change := func(old, new string) string { return withWorkload(strings.Replace(machines, old, new, 1)) }
	tests := []struct {
		name string
		file string
		want string
	}{
		{"ok", withWorkload(machines), ""},
		{"no identity: the default", change("      identity: \"machine:ci-bot\"\n", ""), ""},
		{"not a list", withWorkload("  machines:\n    client_id: ci-bot\n"), "gateway.yaml:6: auth.machines: want a list"},
		{"field typo", change("client_id:", "clientid:"),
			"gateway.yaml:6: auth.machines[0].clientid: unknown field (did you mean client_id?)\n" +
				"gateway.yaml:6: auth.machines[0].client_id: required (the machine client's id at the identity provider, such as ci-bot)"},
		{"no audience", change("      audience: hoop\n", ""),
			"gateway.yaml:6: auth.machines[0].audience: required (the aud of the machine's tokens, such as hoop)"},
		{"duplicate", withWorkload(machines + "    - client_id: ci-bot\n      audience: hoop\n"),
			"gateway.yaml:10: auth.machines[1].client_id: duplicate machine ci-bot (first at line 6)"},
		{"the people's audience", change("audience: hoop", "audience: hoop-cli"),
			"gateway.yaml:7: auth.machines[0].audience: hoop-cli is the audience of people's tokens (auth.oidc): a machine's tokens must have another, or they would pass for a person's"},
		{"the people's client", change("client_id: ci-bot", "client_id: hoop-cli"),
			"gateway.yaml:6: auth.machines[0].client_id: hoop-cli is auth.oidc.client_id, the people's client: a machine must be another client"},
		{"identity with a newline", change(`"machine:ci-bot"`, `"machine:ci-bot\nadmin"`),
			`gateway.yaml:8: auth.machines[0].identity: "machine:ci-bot\nadmin": has control characters`},
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile("gateway.yaml", []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := Load("gateway.yaml", envOf(nil))
			if got := errString(err); got != tt.want {
				t.Errorf("Load:\ngot  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// TestMachines: auth.machines read in full, as identity.Config takes it.
func TestMachines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	file := withWorkload(machines + "    - client_id: nightly\n      audience: hoop\n")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path, envOf(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []identity.Machine{
		{ClientID: "ci-bot", Audience: "hoop", Identity: "machine:ci-bot", Groups: []string{"ci-deploy"}},
		{ClientID: "nightly", Audience: "hoop", Identity: "machine:nightly"},
	}
	if diff := cmp.Diff(want, got.Auth.MachineClients()); diff != "" {
		t.Errorf("MachineClients (-want +got):\n%s", diff)
	}
	if got.Auth.Machines[1].Line != 10 {
		t.Errorf("Line: got %d, want 10", got.Auth.Machines[1].Line)
	}
}

// TestMaxTokenLifetime: auth.max_token_lifetime caps what the gateway accepts, 24h when
// not set; the identity package refuses longer tokens with it.
func TestMaxTokenLifetime(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.yaml")
	for _, tt := range []struct {
		extra string
		want  time.Duration
	}{
		{"", 24 * time.Hour},
		{"  max_token_lifetime: 8h\n", 8 * time.Hour},
		{"  max_token_lifetime: ${LIFE:-90m}\n", 90 * time.Minute},
	} {
		if err := os.WriteFile(path, []byte(strings.Replace(base, "auth:\n", "auth:\n"+tt.extra, 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Load(path, envOf(nil))
		if err != nil {
			t.Fatalf("Load with %q: %v", tt.extra, err)
		}
		if got.Auth.MaxTokenLifetime != tt.want {
			t.Errorf("Load with %q: MaxTokenLifetime %s, want %s", tt.extra, got.Auth.MaxTokenLifetime, tt.want)
		}
	}
}
