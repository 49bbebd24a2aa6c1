package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/internal/yamlfile"
	"github.com/hoopgw/hoop/mask"
	"github.com/hoopgw/hoop/notify"
	"github.com/hoopgw/hoop/server/identity"
)

// connectionName is what a connection name may look like: people type it in
// "hoop connect NAME", so no capitals, spaces, or a leading '-' that reads as a flag.
var connectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// sslModes are libpq's, which pgconn follows.
var sslModes = []string{"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}

// parse reads the file's content into DefaultConfig, resolves relative paths against
// abs's directory and validates.
func parse(name, abs string, data []byte, env func(string) (string, bool)) (*Config, ErrorList) {
	d := newDecoder(name, env)
	c := DefaultConfig()
	c.Path = abs
	root := d.Document(data)
	if root == nil {
		if len(d.Errs) == 0 {
			d.Add(nil, "", "empty config file")
		}
		return c, d.Errs
	}
	if root.Kind != yaml.MappingNode {
		d.Add(root, "", "want a mapping")
		return c, d.Errs
	}
	oidc := &c.Auth.OIDC
	var workloads []string // the field path of each of c.Auth.Workload
	var machines []string  // the field path of each of c.Auth.Machines
	d.Fields(root, "", map[string]func(*yaml.Node, string){
		"listen":     d.set(&c.Listen),
		"public_url": d.set(&c.PublicURL),
		"tls": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"cert_file": d.set(&c.TLS.CertFile),
				"key_file":  d.set(&c.TLS.KeyFile),
			})
		},
		"store":    d.set(&c.Store),
		"data_dir": d.set(&c.DataDir),
		"auth": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"oidc": func(v *yaml.Node, path string) {
					d.Fields(v, path, map[string]func(*yaml.Node, string){
						"issuer":        d.set(&oidc.Issuer),
						"client_id":     d.set(&oidc.ClientID),
						"client_secret": d.set(&oidc.ClientSecret),
						"groups_claim":  d.set(&oidc.GroupsClaim),
						"scopes":        func(v *yaml.Node, path string) { oidc.Scopes = d.Strs(v, path) },
						"audience":      d.set(&oidc.Audience),
					})
				},
				"workload": func(v *yaml.Node, path string) {
					d.Items(v, path, func(_ int, item *yaml.Node, p string) {
						if d.workload(c, item, p) {
							workloads = append(workloads, p)
						}
					})
				},
				"machines": func(v *yaml.Node, path string) {
					d.Items(v, path, func(_ int, item *yaml.Node, p string) {
						if d.machine(c, item, p) {
							machines = append(machines, p)
						}
					})
				},
				"max_token_lifetime": func(v *yaml.Node, path string) {
					s, ok := d.Str(v, path)
					if !ok || s == "" {
						return
					}
					life, err := time.ParseDuration(s)
					if err != nil || life < minTokenLifetime || life > maxTokenLifetime {
						d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("bad duration %q: want a duration from %s to %s, such as 8h (the default is %s)",
							s, minTokenLifetime, maxTokenLifetime, DefaultMaxTokenLifetime))
						return
					}
					c.Auth.MaxTokenLifetime = life
				},
			})
		},
		"connections": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) { d.connection(c, item, p) })
		},
		"policy_files": func(v *yaml.Node, path string) { c.PolicyFiles = d.Strs(v, path) },
		"catalog": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"refresh": func(v *yaml.Node, path string) {
					if dur, ok := d.Duration(v, path); ok {
						c.Catalog.Refresh = dur
					}
				},
			})
		},
		"recording": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"rows_per_statement": d.setInt(&c.Recording.RowsPerStatement, 0, 10_000_000),
			})
		},
		"masking": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"hash_key": func(v *yaml.Node, path string) {
					s, ok := d.Str(v, path)
					if !ok || s == "" {
						return
					}
					if b, err := hex.DecodeString(s); err != nil || len(b) < mask.MinHashKey {
						// Not the value: it is a secret.
						d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("want at least %d bytes, hex-encoded (openssl rand -hex 32)", mask.MinHashKey))
						return
					}
					c.Masking.HashKey = s
				},
			})
		},
		"audit": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"chain_key": func(v *yaml.Node, path string) {
					s, ok := d.Str(v, path)
					if !ok || s == "" {
						return
					}
					if _, err := audit.ParseKey(s); err != nil {
						d.Add(yamlfile.Resolve(v), path, err.Error()) // not the value: it is a secret
						return
					}
					c.Audit.ChainKey = s
				},
				"sinks": func(v *yaml.Node, path string) {
					d.Items(v, path, func(_ int, item *yaml.Node, p string) { d.sink(c, item, p) })
				},
				"alerts": func(v *yaml.Node, path string) {
					d.Items(v, path, func(_ int, item *yaml.Node, p string) { d.alert(c, item, p) })
				},
			})
		},
		"limits": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"sessions_per_identity":   d.setInt(&c.Limits.SessionsPerIdentity, 1, 100_000),
				"sessions_per_connection": d.setInt(&c.Limits.SessionsPerConnection, 1, 100_000),
				"statement_bytes":         d.setBytes(&c.Limits.StatementBytes, 1<<10, 1<<20), // the parser takes at most 1 MiB (classify/native.MaxLen)
				"inflight_bytes":          d.setBytes(&c.Limits.InflightBytes, 1<<20, 1<<40),
			})
		},
		"reviews": func(v *yaml.Node, path string) {
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"notify": func(v *yaml.Node, path string) {
					d.Items(v, path, func(_ int, item *yaml.Node, p string) { d.notifyTarget(c, item, p) })
				},
				"max_pending":    d.setInt(&c.Reviews.MaxPending, 1, 100_000),
				"max_per_minute": d.setInt(&c.Reviews.MaxPerMinute, 1, 100_000),
			})
		},
	})

	dir := filepath.Dir(abs)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c.DataDir = rel(c.DataDir)
	c.TLS.CertFile, c.TLS.KeyFile = rel(c.TLS.CertFile), rel(c.TLS.KeyFile)
	for i := range c.PolicyFiles {
		c.PolicyFiles[i] = rel(c.PolicyFiles[i])
	}
	for i := range c.Connections {
		c.Connections[i].SSLRootCert = rel(c.Connections[i].SSLRootCert)
	}
	for i := range c.Audit.Sinks {
		c.Audit.Sinks[i].Path = rel(c.Audit.Sinks[i].Path)
	}

	d.checkListen(c)
	switch {
	case c.Store == "":
		c.Store = "sqlite://" + filepath.Join(c.DataDir, "hoop.db")
	case strings.HasPrefix(c.Store, "sqlite://"):
		switch p := strings.TrimPrefix(c.Store, "sqlite://"); p {
		case ":memory:": // an in-memory database, for tests
		case "":
			d.at("store", "want sqlite://PATH or postgres://URL")
		default:
			c.Store = "sqlite://" + rel(p)
		}
	case strings.HasPrefix(c.Store, "postgres://"), strings.HasPrefix(c.Store, "postgresql://"):
		if _, err := url.Parse(c.Store); err != nil {
			d.at("store", "want sqlite://PATH or postgres://URL (the postgres URL does not parse)")
		}
	default:
		d.at("store", "want sqlite://PATH or postgres://URL")
	}

	switch {
	case d.HasErr("auth.oidc.issuer"):
	case oidc.Issuer == "":
		d.at("auth.oidc.issuer", "required (the identity provider's URL, such as https://idp.example.com)")
	default:
		d.checkIssuer("auth.oidc.issuer", oidc.Issuer, "https://idp.example.com")
	}
	d.checkWorkloadIssuers(c, workloads)
	if !slices.Contains(oidc.Scopes, "openid") && !d.HasErr("auth.oidc.scopes") {
		d.at("auth.oidc.scopes", "want a list that includes openid")
	}
	if oidc.Audience == "" {
		oidc.Audience = oidc.ClientID
	}
	d.checkMachineAudiences(c, machines)

	if len(c.PolicyFiles) == 0 && !d.HasErr("policy_files") {
		d.at("policy_files", "want at least one policy file")
	}
	return c, d.Errs
}

// checkIssuer checks the URL of an OIDC issuer, whose keys the gateway fetches.
func (d *decoder) checkIssuer(path, issuer, example string) {
	u, err := url.Parse(issuer)
	switch {
	case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
		d.at(path, "want an https URL, such as "+example)
	case u.Scheme == "http" && !loopback(u.Hostname()):
		// Keys fetched over plain HTTP from another host could be swapped on the way.
		d.at(path, "want an https URL (plain http only on a loopback address)")
	}
}

// workload reads one of auth.workload; it reports whether it added one to c.
func (d *decoder) workload(c *Config, n *yaml.Node, path string) bool {
	if !d.Mapping(n, path) {
		return false
	}
	w := Workload{Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":     d.set(&w.Name),
		"issuer":   d.set(&w.Issuer),
		"audience": d.set(&w.Audience),
		"mappings": func(v *yaml.Node, path string) {
			d.Items(v, path, func(_ int, item *yaml.Node, p string) { d.workloadMapping(&w, item, p) })
		},
	})
	d.Lines[path] = n.Line
	switch {
	case d.HasErr(path + ".name"):
	case w.Name == "":
		d.at(path+".name", "required (what logs call it, such as github-actions)")
	case !connectionName.MatchString(w.Name):
		d.at(path+".name", fmt.Sprintf("%q: use lowercase letters, digits and '-'", w.Name))
	default:
		for _, other := range c.Auth.Workload {
			if other.Name == w.Name {
				d.at(path+".name", fmt.Sprintf("duplicate workload %s (first at line %d)", w.Name, other.Line))
			}
		}
	}
	switch {
	case d.HasErr(path + ".issuer"):
	case w.Issuer == "":
		d.at(path+".issuer", "required (the token issuer's URL, such as https://token.actions.githubusercontent.com)")
	default:
		d.checkIssuer(path+".issuer", w.Issuer, "https://token.actions.githubusercontent.com")
	}
	if w.Audience == "" && !d.HasErr(path+".audience") {
		// Without it, a token the issuer made for anyone else (another service that
		// trusts the same CI system) would be good here too.
		d.at(path+".audience", "required (the aud the jobs ask their tokens for, such as hoop)")
	}
	if len(w.Mappings) == 0 && !d.HasErr(path+".mappings") {
		d.at(path+".mappings", "want at least one mapping (when, identity, groups): a token no mapping matches is refused")
	}
	c.Auth.Workload = append(c.Auth.Workload, w)
	return true
}

// machine reads one of auth.machines; it reports whether it added one to c.
func (d *decoder) machine(c *Config, n *yaml.Node, path string) bool {
	if !d.Mapping(n, path) {
		return false
	}
	m := Machine{Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"client_id": d.set(&m.ClientID),
		"audience":  d.set(&m.Audience),
		"identity":  d.set(&m.Identity),
		"groups":    func(v *yaml.Node, path string) { m.Groups = d.Strs(v, path) },
	})
	d.Lines[path] = n.Line
	switch {
	case d.HasErr(path + ".client_id"):
	case m.ClientID == "":
		d.at(path+".client_id", "required (the machine client's id at the identity provider, such as ci-bot)")
	default:
		for _, other := range c.Auth.Machines {
			if other.ClientID == m.ClientID {
				d.at(path+".client_id", fmt.Sprintf("duplicate machine %s (first at line %d)", m.ClientID, other.Line))
			}
		}
	}
	if m.Audience == "" && !d.HasErr(path+".audience") {
		d.at(path+".audience", "required (the aud of the machine's tokens, such as hoop)")
	}
	switch {
	case d.HasErr(path + ".identity"):
	case m.Identity == "" && m.ClientID != "":
		m.Identity = "machine:" + m.ClientID
	case strings.IndexFunc(m.Identity, unicode.IsControl) >= 0:
		d.at(path+".identity", fmt.Sprintf("%q: has control characters", m.Identity))
	}
	c.Auth.Machines = append(c.Auth.Machines, m)
	return true
}

// checkMachineAudiences checks that no machine's tokens could pass for a person's: a
// machine's audience must not be auth.oidc's (audience, else client_id), nor its client
// id the people's client. paths are the field paths of c.Auth.Machines.
func (d *decoder) checkMachineAudiences(c *Config, paths []string) {
	oidc := c.Auth.OIDC
	for i, m := range c.Auth.Machines {
		if m.ClientID != "" && m.ClientID == oidc.ClientID && !d.HasErr(paths[i]+".client_id") {
			d.at(paths[i]+".client_id", fmt.Sprintf("%s is auth.oidc.client_id, the people's client: a machine must be another client", m.ClientID))
		}
		if m.Audience != "" && m.Audience == oidc.Audience && !d.HasErr(paths[i]+".audience") {
			d.at(paths[i]+".audience", fmt.Sprintf("%s is the audience of people's tokens (auth.oidc): a machine's tokens must have another, or they would pass for a person's", m.Audience))
		}
	}
}

// workloadMapping reads one of a workload's mappings.
func (d *decoder) workloadMapping(w *Workload, n *yaml.Node, path string) {
	if !d.Mapping(n, path) {
		return
	}
	m := WorkloadMapping{Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"when": func(v *yaml.Node, path string) {
			m.When = d.stringMap(v, path, func(k *yaml.Node, p, s string) bool {
				star := strings.IndexByte(s, '*')
				switch {
				case s == "":
					d.Add(k, p, "empty: an empty claim matches no token")
				case s == "*":
					d.Add(k, p, "* alone matches any value: give a prefix before it (refs/tags/v*) or leave the claim out")
				case star >= 0 && star < len(s)-1:
					d.Add(k, p, fmt.Sprintf("%q: * only ends a value, as a prefix (refs/tags/v*)", s))
				default:
					return true
				}
				return false
			})
		},
		"identity": func(v *yaml.Node, path string) {
			s, ok := d.Str(v, path)
			if !ok || s == "" {
				return
			}
			if _, err := identity.TemplateClaims(s); err != nil {
				d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("%q: %v", s, err))
			}
			m.Identity = s
		},
		"groups": func(v *yaml.Node, path string) { m.Groups = d.Strs(v, path) },
	})
	d.Lines[path] = n.Line
	if len(m.When) == 0 && !d.HasErr(path+".when") {
		// An issuer such as GitHub's signs tokens for every repository in the world.
		d.at(path+".when", "want the claims a token must have, such as {repository_owner: acme}: without them, every job the issuer signs for would match")
	}
	if m.Identity == "" && !d.HasErr(path+".identity") {
		d.at(path+".identity", "required (a template over the token's claims, such as ci:{repository}@{ref_name})")
	}
	w.Mappings = append(w.Mappings, m)
}

// checkWorkloadIssuers checks that each issuer is trusted once, as one thing: people's
// (auth.oidc) or one workload's. paths are the field paths of c.Auth.Workload.
func (d *decoder) checkWorkloadIssuers(c *Config, paths []string) {
	first := map[string]int{} // issuer without a trailing / → index in c.Auth.Workload
	people := strings.TrimSuffix(c.Auth.OIDC.Issuer, "/")
	for i, w := range c.Auth.Workload {
		path := paths[i] + ".issuer"
		if w.Issuer == "" || d.HasErr(path) {
			continue
		}
		iss := strings.TrimSuffix(w.Issuer, "/")
		if j, dup := first[iss]; dup {
			d.at(path, fmt.Sprintf("duplicate issuer %s (%s at line %d): put all its mappings in one workload", w.Issuer, paths[j], c.Auth.Workload[j].Line))
			continue
		}
		first[iss] = i
		if people != "" && iss == people && !d.HasErr("auth.oidc.issuer") {
			d.at(path, fmt.Sprintf("%s is auth.oidc.issuer, the people's: a workload issuer must be another", w.Issuer))
		}
	}
}

// checkListen checks listen, tls and public_url together: plain HTTP only on loopback.
func (d *decoder) checkListen(c *Config) {
	if d.HasErr("listen") {
		return
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		d.at("listen", "want host:port, such as 127.0.0.1:8443")
		return
	}
	switch {
	case d.HasErr("tls"):
	case c.TLS.CertFile != "" && c.TLS.KeyFile == "":
		d.at("tls.key_file", "required with tls.cert_file")
	case c.TLS.KeyFile != "" && c.TLS.CertFile == "":
		d.at("tls.cert_file", "required with tls.key_file")
	case !c.TLS.Enabled() && !loopback(host):
		d.Errs = append(d.Errs, &Error{File: d.File, Line: d.Lines["listen"], Msg: fmt.Sprintf(
			"listen %s is not a loopback address; plain HTTP is refused, set tls.cert_file and tls.key_file", c.Listen)})
	}
	if d.HasErr("public_url") {
		return
	}
	if c.PublicURL == "" {
		if !loopback(host) {
			d.Errs = append(d.Errs, &Error{File: d.File, Line: d.Lines["listen"], Field: "public_url",
				Msg: "required when listen is not a loopback address (the URL clients use, such as https://hoop.example.com)"})
			return
		}
		scheme := "http"
		if c.TLS.Enabled() {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Listen
		return
	}
	if u, err := url.Parse(c.PublicURL); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		d.at("public_url", "want an http or https URL, such as https://hoop.example.com")
	}
}

// loopback reports whether host is a loopback address: "127.0.0.1", "::1" or "localhost".
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (d *decoder) connection(c *Config, n *yaml.Node, path string) {
	if !d.Mapping(n, path) {
		return
	}
	conn := Connection{Port: 5432, SSLMode: "prefer", Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":        d.set(&conn.Name),
		"type":        d.set(&conn.Type),
		"host":        d.set(&conn.Host),
		"port":        d.setInt(&conn.Port, 1, 65535),
		"database":    d.set(&conn.Database),
		"sslmode":     d.set(&conn.SSLMode),
		"sslrootcert": d.set(&conn.SSLRootCert),
		"user":        d.set(&conn.User),
		"password":    d.set(&conn.Password),
		"roles": func(v *yaml.Node, path string) {
			conn.Roles = map[string]Credential{}
			role := func(level string) func(*yaml.Node, string) {
				return func(v *yaml.Node, path string) {
					var cred Credential
					d.Fields(v, path, map[string]func(*yaml.Node, string){
						"user":     d.set(&cred.User),
						"password": d.set(&cred.Password),
					})
					if cred.User == "" && !d.HasErr(path) {
						d.at(path+".user", "required")
					}
					conn.Roles[level] = cred
				}
			}
			// The keys are the policy's statement classes.
			d.Fields(v, path, map[string]func(*yaml.Node, string){
				"read": role("read"), "write": role("write"), "ddl": role("ddl"), "admin": role("admin"),
			})
		},
		"max_sessions": d.setInt(&conn.MaxSessions, 1, 100_000),
	})

	// Checks that name a field use its line; the others the connection's first line.
	d.Lines[path] = n.Line
	switch {
	case d.HasErr(path + ".name"):
	case conn.Name == "":
		d.at(path+".name", "required")
	case !connectionName.MatchString(conn.Name):
		d.at(path+".name", fmt.Sprintf("%q: use lowercase letters, digits and '-'", conn.Name))
	default:
		if first, dup := c.Connection(conn.Name); dup {
			d.at(path+".name", fmt.Sprintf("duplicate connection %s (first at line %d)", conn.Name, first.Line))
		}
	}
	switch {
	case d.HasErr(path + ".type"):
	case conn.Type == "":
		d.at(path+".type", "required (postgres)")
	default:
		d.oneOf(path+".type", "type", conn.Type, "postgres")
	}
	if conn.Host == "" && !d.HasErr(path+".host") {
		d.at(path+".host", "required")
	}
	if !d.HasErr(path + ".sslmode") {
		d.oneOf(path+".sslmode", "sslmode", conn.SSLMode, sslModes...)
	}
	if !d.HasErr(path+".user") && !d.HasErr(path+".roles") {
		switch {
		case conn.User != "" && len(conn.Roles) > 0:
			d.at(path, "set user (one login for every access level) or roles (one per level), not both")
		case conn.User == "" && len(conn.Roles) == 0:
			d.at(path, "set user (one login for every access level) or roles (one per level)")
		case conn.User == "" && conn.Password != "":
			d.at(path+".password", "set without user")
		}
	}
	c.Connections = append(c.Connections, conn)
}

func (d *decoder) sink(c *Config, n *yaml.Node, path string) {
	if !d.Mapping(n, path) {
		return
	}
	s := Sink{Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"type":     d.set(&s.Type),
		"path":     d.set(&s.Path),
		"url":      d.set(&s.URL),
		"headers":  func(v *yaml.Node, path string) { s.Headers = d.headers(v, path) },
		"batch":    d.setInt(&s.Batch, 1, 10_000),
		"address":  d.set(&s.Address),
		"facility": d.set(&s.Facility),
		"queue":    d.setInt(&s.Queue, 1, 1_000_000),
	})
	d.Lines[path] = n.Line
	if d.HasErr(path) {
		return
	}
	if s.Type == "" {
		d.at(path+".type", "required (file, stdout, webhook or syslog)")
		return
	}
	if !d.oneOf(path+".type", "sink type", s.Type, SinkFile, SinkStdout, SinkWebhook, SinkSyslog) {
		return
	}
	// Each type has its own fields; another type's field is most likely a mistake.
	for _, f := range []struct {
		name, typ string
		set       bool
	}{
		{"path", SinkFile, s.Path != ""},
		{"url", SinkWebhook, s.URL != ""},
		{"headers", SinkWebhook, len(s.Headers) > 0},
		{"batch", SinkWebhook, s.Batch != 0},
		{"address", SinkSyslog, s.Address != ""},
		{"facility", SinkSyslog, s.Facility != ""},
	} {
		if f.set && s.Type != f.typ {
			d.at(path+"."+f.name, "not used by a "+s.Type+" sink")
		}
	}
	switch s.Type {
	case SinkFile:
		if s.Path == "" {
			d.at(path+".path", "required for a file sink")
		}
	case SinkWebhook:
		if u, err := url.Parse(s.URL); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			d.at(path+".url", "want an http or https URL for a webhook sink")
		}
	case SinkSyslog:
		if s.Address != "" {
			if u, err := url.Parse(s.Address); err != nil || u.Host == "" || u.Scheme != "udp" && u.Scheme != "tcp" {
				d.at(path+".address", "want udp://host:port or tcp://host:port, or nothing for the local syslog")
			}
		}
		if s.Facility != "" {
			d.oneOf(path+".facility", "syslog facility", s.Facility, audit.Facilities()...)
		}
	}
	c.Audit.Sinks = append(c.Audit.Sinks, s)
}

// notifyTarget reads one of reviews.notify. No message repeats a secret: not the
// password, not a header value, not a URL (a Slack URL is the webhook's credential).
func (d *decoder) notifyTarget(c *Config, n *yaml.Node, path string) {
	if !d.Mapping(n, path) {
		return
	}
	t := NotifyTarget{Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"type":    d.set(&t.Type),
		"url":     d.set(&t.URL),
		"headers": func(v *yaml.Node, path string) { t.Headers = d.headers(v, path) },
		"address": d.set(&t.Address),
		"from": func(v *yaml.Node, path string) {
			if s, ok := d.Str(v, path); ok && s != "" {
				if _, err := notify.ParseAddress(s); err != nil {
					d.Add(yamlfile.Resolve(v), path, err.Error())
				}
				t.From = s
			}
		},
		"to": func(v *yaml.Node, path string) {
			d.EachStr(v, path, func(item *yaml.Node, p, s string) {
				if _, err := notify.ParseAddress(s); err != nil {
					d.Add(item, p, err.Error())
				}
				t.To = append(t.To, s)
			})
		},
		"username": d.set(&t.Username),
		"password": d.set(&t.Password),
		"tls":      d.set(&t.TLS),
	})
	d.Lines[path] = n.Line
	if d.HasErr(path) {
		return
	}
	if t.Type == "" {
		d.at(path+".type", "required (slack, webhook or email)")
		return
	}
	if !d.oneOf(path+".type", "notify type", t.Type, NotifySlack, NotifyWebhook, NotifyEmail) {
		return
	}
	// Each type has its own fields; another type's field is most likely a mistake.
	for _, f := range []struct {
		name  string
		types []string
		set   bool
	}{
		{"url", []string{NotifySlack, NotifyWebhook}, t.URL != ""},
		{"headers", []string{NotifyWebhook}, len(t.Headers) > 0},
		{"address", []string{NotifyEmail}, t.Address != ""},
		{"from", []string{NotifyEmail}, t.From != ""},
		{"to", []string{NotifyEmail}, len(t.To) > 0},
		{"username", []string{NotifyEmail}, t.Username != ""},
		{"password", []string{NotifyEmail}, t.Password != ""},
		{"tls", []string{NotifyEmail}, t.TLS != ""},
	} {
		if f.set && !slices.Contains(f.types, t.Type) {
			article := "a "
			if t.Type == NotifyEmail {
				article = "an "
			}
			d.at(path+"."+f.name, "not used by "+article+t.Type+" target")
		}
	}
	switch t.Type {
	case NotifySlack:
		u, err := url.Parse(t.URL)
		switch {
		case t.URL == "":
			d.at(path+".url", "required for a slack target (the incoming webhook's URL)")
		case err != nil || u.Host == "" || u.Scheme != "https" && u.Scheme != "http":
			d.at(path+".url", "want an https URL for a slack target")
		case u.Scheme == "http" && !loopback(u.Hostname()):
			// The URL is the webhook's credential.
			d.at(path+".url", "want an https URL for a slack target (plain http only on a loopback address)")
		}
	case NotifyWebhook:
		if u, err := url.Parse(t.URL); err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
			d.at(path+".url", "want an http or https URL for a webhook target")
		}
	case NotifyEmail:
		host, port, err := net.SplitHostPort(t.Address)
		if p, perr := strconv.Atoi(port); t.Address == "" {
			d.at(path+".address", "required for an email target (the SMTP server, such as smtp.example.com:587)")
		} else if err != nil || perr != nil || host == "" || p < 1 || p > 65535 {
			d.at(path+".address", "want host:port, such as smtp.example.com:587")
		}
		if t.From == "" {
			d.at(path+".from", "required for an email target (the sender, such as hoop@example.com)")
		}
		if len(t.To) == 0 {
			d.at(path+".to", "want at least one address")
		}
		if t.TLS == "" {
			t.TLS = notify.TLSStartTLS
		} else {
			d.oneOf(path+".tls", "tls mode", t.TLS, notify.TLSStartTLS, notify.TLSRequired, notify.TLSNone)
		}
		switch {
		case t.Password != "" && t.Username == "":
			d.at(path+".password", "set without username")
		case t.Username != "" && t.TLS == notify.TLSNone && host != "" && !loopback(host):
			d.at(path+".tls", "none would send the password in the clear: use starttls or required, or a loopback address")
		}
	}
	c.Reviews.Notify = append(c.Reviews.Notify, t)
}

// headerName is an HTTP header name (an RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// headers reads a webhook's headers: names to values, which may come from ${ENV}.
func (d *decoder) headers(n *yaml.Node, path string) map[string]string {
	seen := map[string]string{} // lower-case name → the name as first written
	return d.stringMap(n, path, func(k *yaml.Node, p, v string) bool {
		switch {
		case !headerName.MatchString(k.Value):
			d.Add(k, p, "not an HTTP header name")
		case strings.ContainsAny(v, "\r\n\x00"):
			d.Add(k, p, "want a header value on one line")
		default:
			if first, dup := seen[strings.ToLower(k.Value)]; dup {
				d.Add(k, p, fmt.Sprintf("repeated header (%s at line %d)", first, d.Lines[yamlfile.Join(path, first)]))
				return false
			}
			seen[strings.ToLower(k.Value)] = k.Value
			return true
		}
		return false
	})
}

// stringMap reads a mapping of names to scalar values, as strings ("deny", "0",
// "true"), each checked by ok when it is not nil. A null value is an error.
func (d *decoder) stringMap(n *yaml.Node, path string, ok func(k *yaml.Node, path, value string) bool) map[string]string {
	n = yamlfile.Resolve(n)
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if !d.Mapping(n, path) {
		return nil
	}
	m := map[string]string{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], yamlfile.Resolve(n.Content[i+1])
		p := yamlfile.Join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.Add(k, p, fmt.Sprintf("repeated field (first at line %d)", first))
			continue
		}
		seen[k.Value] = k.Line
		d.Lines[p] = k.Line
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			d.Add(k, p, "want a value")
			continue
		}
		s, good := d.Str(v, p)
		if good && (ok == nil || ok(k, p, s)) {
			m[k.Value] = s
		}
	}
	return m
}

func (d *decoder) alert(c *Config, n *yaml.Node, path string) {
	if !d.Mapping(n, path) {
		return
	}
	a := Alert{Threshold: 1, Window: audit.DefaultWindow, By: audit.DefaultBy, Line: n.Line}
	d.Fields(n, path, map[string]func(*yaml.Node, string){
		"name":      d.set(&a.Name),
		"kind":      d.set(&a.Kind),
		"where":     func(v *yaml.Node, path string) { a.Where = d.stringMap(v, path, nil) },
		"threshold": d.setInt(&a.Threshold, 1, 100_000),
		"window": func(v *yaml.Node, path string) {
			s, ok := d.Str(v, path)
			if !ok || s == "" {
				return
			}
			if w, err := time.ParseDuration(s); err != nil || w <= 0 {
				d.Add(yamlfile.Resolve(v), path, fmt.Sprintf("bad duration %q: want a positive duration such as 1m or 1h", s))
			} else {
				a.Window = w
			}
		},
		"by": d.set(&a.By),
	})
	d.Lines[path] = n.Line
	switch {
	case d.HasErr(path + ".name"):
	case a.Name == "":
		d.at(path+".name", "required")
	default:
		for _, other := range c.Audit.Alerts {
			if other.Name == a.Name {
				d.at(path+".name", fmt.Sprintf("duplicate alert %s (first at line %d)", a.Name, other.Line))
			}
		}
	}
	switch kinds := audit.Kinds(); {
	case d.HasErr(path + ".kind"):
	case a.Kind == "":
		d.at(path+".kind", "required (an event kind, such as statement, or review.* for every review event)")
	case a.Kind == audit.KindAlert:
		d.at(path+".kind", "alert events are not counted by alert rules")
	case a.Kind == "*", strings.HasSuffix(a.Kind, ".*") && len(a.Kind) > 2, slices.Contains(kinds, a.Kind):
	default:
		// Kinds are open (a new one needs no change here), but one a letter or two
		// from a known kind is a typo that would never match.
		if hint := yamlfile.DidYouMean(a.Kind, kinds); hint != "" {
			d.at(path+".kind", "unknown event kind '"+a.Kind+"'"+hint)
		}
	}
	c.Audit.Alerts = append(c.Audit.Alerts, a)
}
