package server

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
	"github.com/hoopgw/hoop/notify"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/config"
	"github.com/hoopgw/hoop/server/devidp"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
	"github.com/hoopgw/hoop/server/web"
	"github.com/hoopgw/hoop/store"
	"github.com/hoopgw/hoop/tunnel"
)

// Version is the gateway's version, set at build time.
var Version = "dev"

// Options configure a Gateway.
type Options struct {
	Config   *config.Config
	Store    *store.Store
	Logger   *slog.Logger
	DevIDP   *devidp.Provider // the embedded identity provider of `hoopd --dev`, mounted at /oidc/
	Tunnel   *tunnel.Config   // nil means tunnel.DefaultConfig()
	Postgres *postgres.Config // nil means postgres.DefaultConfig()
	// Classifier classifies statements; nil means the real PostgreSQL parser (cgo).
	Classifier *classify.Classifier
	// NoStatementPolicy turns statement decisions and masking off, leaving connection-level
	// access: only for measuring what they cost (hoopd --dev --bench-no-statement-policy).
	NoStatementPolicy bool
	// NoRecording turns session recording off: only for measuring what it costs (hoopd
	// --dev --bench-no-recording). The audit trail is kept.
	NoRecording bool
}

// Gateway is a running hoopd.
type Gateway struct {
	cfg      *config.Config
	store    *store.Store
	log      *slog.Logger
	verifier *identity.Verifiers // people's issuer and the trusted workload issuers (CI)
	engine   *postgres.Engine
	idp      *devidp.Provider
	tcfg     *tunnel.Config
	policy   atomic.Pointer[policy.Policy]
	// classifier turns SQL text into classed statements, with a cache by text.
	classifier *classify.Classifier
	noGate     bool
	hashKey    []byte // the key of the hash masking mode
	// sensitivity remembers which columns hold what the masking detectors find.
	sensitivity sensitivity
	gatewayID   string // this gateway's name in a shared store: "gw-…", kept in the data dir
	logins      logins
	reviews     *reviews
	grants      grants
	// notifyReview tells the approvers of a new review (the config's reviews.notify); nil
	// for none.
	notifyReview func(api.Review)
	notifier     *notify.Notifier
	web          http.Handler // the review pages people open from a review's link
	rec          *recorder
	recordOff    bool
	chainKey     []byte            // the audit chain's HMAC key
	sinks        *audit.Dispatcher // where audit events go besides the store; nil for none
	alerts       *audit.Alerts     // alert rules over the event stream; nil for none
	conns        map[string]*config.Connection
	upstream     map[string]map[policy.Class]*pgconn.Config // parsed once: connection → level → login
	limits       *sessionLimits                             // database sessions open, by identity and connection
	functions    map[string]*funcCatalog                    // connection → the snapshot its calls are classed by

	mu      sync.Mutex
	tunnels map[string]*liveTunnel
	running sync.WaitGroup // tunnel handlers, which outlive the HTTP server's Shutdown
}

// New builds a gateway from its options, loading the policy files the config names.
func New(opts Options) (*Gateway, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := opts.Config
	p, err := policy.Load(cfg.PolicyFiles...)
	if err != nil {
		return nil, err
	}
	pgcfg := opts.Postgres
	if pgcfg == nil {
		pgcfg = postgres.DefaultConfig()
	}
	pgcfg.Logger = opts.Logger
	if pgcfg.StatementBytes == 0 {
		pgcfg.StatementBytes = cfg.Limits.StatementBytes
	}
	if pgcfg.InflightBytes == 0 {
		pgcfg.InflightBytes = int64(cfg.Limits.InflightBytes)
	}
	g := &Gateway{
		cfg:   cfg,
		store: opts.Store,
		log:   opts.Logger,
		verifier: identity.NewVerifiers(identity.Config{
			Issuer:      cfg.Auth.OIDC.Issuer,
			Audience:    audience(cfg),
			ClientID:    cfg.Auth.OIDC.ClientID,
			MaxLifetime: cfg.Auth.MaxTokenLifetime,
			GroupsClaim: cfg.Auth.OIDC.GroupsClaim,
			Machines:    cfg.Auth.MachineClients(),
		}, cfg.Auth.Workloads()),
		engine:     postgres.New(pgcfg),
		classifier: opts.Classifier,
		noGate:     opts.NoStatementPolicy,
		idp:        opts.DevIDP,
		tcfg:       opts.Tunnel,
		conns:      make(map[string]*config.Connection),
		tunnels:    make(map[string]*liveTunnel),
		limits:     newSessionLimits(cfg),
	}
	if g.hashKey, err = loadHashKey(context.Background(), g.store, cfg.DataDir, cfg.Masking.HashKey); err != nil {
		return nil, err
	}
	g.reviews = newReviews(g, cfg.Reviews.MaxPending, cfg.Reviews.MaxPerMinute)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	if g.web, err = web.New(web.Config{
		PublicURL: cfg.PublicURL, Issuer: cfg.Auth.OIDC.Issuer, ClientID: cfg.Auth.OIDC.ClientID,
		ClientSecret: cfg.Auth.OIDC.ClientSecret, Verify: g.verifier.People().Verify, Key: key, // review pages: people only
		Review: func(id string, who identity.Identity) (api.Review, error) { return g.reviews.visibleTo(id, who) },
		Decide: func(id string, who identity.Identity, approve bool, reason string) (api.Review, error) {
			return g.reviews.decide(id, who, approve, reason)
		},
	}); err != nil {
		return nil, err
	}
	if targets := cfg.Reviews.NotifyConfigs(); len(targets) > 0 {
		n, err := notify.New(targets, g.log)
		if err != nil {
			return nil, fmt.Errorf("%s: reviews.notify: %w", cfg.Path, err)
		}
		g.notifier = n
		g.notifyReview = func(r api.Review) { n.Review(context.Background(), r) }
	}
	if g.store != nil {
		if err := g.startRecorder(opts); err != nil {
			return nil, err
		}
		if err := g.withdrawStaleReviews(); err != nil {
			return nil, err
		}
	}
	if g.classifier == nil {
		g.classifier = classify.New(native.Parse, 10000, classify.WithNormalizer(native.Normalize))
	}
	g.upstream = make(map[string]map[policy.Class]*pgconn.Config)
	for i := range cfg.Connections {
		c := &cfg.Connections[i]
		g.conns[c.Name] = c
		g.upstream[c.Name] = make(map[policy.Class]*pgconn.Config)
		for _, level := range policy.Classes() {
			cred, err := c.Credential(string(level))
			if err != nil {
				continue // no login for this level: a session that needs it is refused
			}
			up, err := upstreamConfig(c, cred)
			if err != nil {
				return nil, fmt.Errorf("%s:%d: connections: %w", cfg.Path, c.Line, err)
			}
			g.upstream[c.Name][level] = up
		}
	}
	g.functions = make(map[string]*funcCatalog, len(cfg.Connections))
	for name, levels := range g.upstream {
		g.functions[name] = newFuncCatalog(name, catalogLogin(levels), cfg.Catalog.Refresh, g.log)
	}
	g.policy.Store(p)
	g.log.Info("policy loaded", "version", short(p.Version()), "files", cfg.PolicyFiles)
	return g, nil
}

func audience(cfg *config.Config) string {
	if cfg.Auth.OIDC.Audience != "" {
		return cfg.Auth.OIDC.Audience
	}
	return cfg.Auth.OIDC.ClientID
}

func short(version string) string {
	if len(version) > 12 {
		return version[:12]
	}
	return version
}

// Policy returns the policy in force.
func (g *Gateway) Policy() *policy.Policy { return g.policy.Load() }

// ReloadPolicy loads the policy files again. An invalid new policy is refused and the old
// one stays in force; live sessions are not touched.
func (g *Gateway) ReloadPolicy() error {
	p, err := policy.Load(g.cfg.PolicyFiles...)
	if err != nil {
		g.log.Error("policy reload refused, the previous policy stays in force", "err", err)
		return err
	}
	old := g.policy.Swap(p)
	if old.Version() != p.Version() {
		g.log.Info("policy reloaded", "version", short(p.Version()), "previous", short(old.Version()))
		g.audit("policy.reload", "", "", "", map[string]any{"version": p.Version(), "previous": old.Version(), "files": g.cfg.PolicyFiles})
		if !g.noGate {
			g.endNewlyMasked(old, p)
		}
	}
	return nil
}

// endNewlyMasked ends the tunnels whose sessions the new policy masks and the old did
// not: they were opened without a masker, and cannot start masking midway. Sessions that
// were masked follow the new rules on their own (sessionMasker.rules).
func (g *Gateway) endNewlyMasked(old, p *policy.Policy) {
	for _, t := range g.liveTunnels() {
		id := g.policyIdentity(t.identity())
		before, _ := g.maskRules(old, id, t.connection)
		after, err := g.maskRules(p, id, t.connection)
		if len(before) == 0 && (len(after) > 0 || err != nil) {
			g.log.Info("tunnel ended: the new policy masks it", "tunnel", t.id, "connection", t.connection)
			t.end("the policy changed: masking now applies to connection " + t.connection + "; reconnect")
		}
	}
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/info", g.handleInfo)
	mux.HandleFunc("GET /api/v1/whoami", g.authenticated(g.handleWhoami))
	mux.HandleFunc("GET /api/v1/connections", g.authenticated(g.handleConnections))
	mux.HandleFunc("GET /api/v1/tunnel", g.authenticated(g.handleTunnel))
	mux.HandleFunc("GET /api/v1/sessions", g.authenticated(g.handleSessions))
	mux.HandleFunc("GET /api/v1/sessions/{id}", g.authenticated(g.handleSession))
	mux.HandleFunc("GET /api/v1/audit/verify", g.authenticated(g.handleAuditVerify))
	mux.HandleFunc("GET /api/v1/reviews", g.authenticated(g.handleReviews))
	mux.HandleFunc("POST /api/v1/access", g.authenticated(g.handleAccess))
	mux.HandleFunc("GET /api/v1/reviews/events", g.authenticated(g.handleReviewEvents))
	mux.HandleFunc("GET /api/v1/reviews/{id}", g.authenticated(g.handleReview))
	mux.HandleFunc("POST /api/v1/reviews/{id}/approve", g.authenticated(g.handleDecide(true)))
	mux.HandleFunc("POST /api/v1/reviews/{id}/deny", g.authenticated(g.handleDecide(false)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(metrics.reg, promhttp.HandlerOpts{}))
	mux.Handle("/reviews/", g.web)
	mux.Handle("GET /callback", g.web)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	if g.idp != nil {
		mux.Handle("/oidc/", g.idp.Handler())
	}
	return mux
}

// Serve serves the gateway on ln until ctx is done, then shuts down gracefully: tunnels
// are told why they end.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           g.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(g.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() {
		if g.cfg.TLS.CertFile != "" {
			errc <- srv.ServeTLS(ln, g.cfg.TLS.CertFile, g.cfg.TLS.KeyFile)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.CloseTunnels("the gateway is shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	done := make(chan struct{})
	go func() {
		g.running.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-sctx.Done():
		g.log.Warn("shutdown: some tunnels did not end in time")
	}
	return nil
}

func (g *Gateway) handleInfo(w http.ResponseWriter, r *http.Request) {
	o := g.cfg.Auth.OIDC
	writeJSON(w, http.StatusOK, api.Info{
		Issuer:       o.Issuer,
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		Scopes:       o.Scopes,
		GroupsClaim:  o.GroupsClaim,
		Version:      Version,
	})
}

// authenticated verifies the bearer token before calling next.
func (g *Gateway) authenticated(next func(http.ResponseWriter, *http.Request, identity.Identity)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || strings.TrimSpace(raw) == "" {
			writeError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "no bearer token: run hoop login")
			return
		}
		id, err := g.verifier.Verify(r.Context(), raw)
		if err != nil {
			if errors.Is(err, identity.ErrIssuerUnavailable) {
				g.log.Error("token verification", "err", err)
				writeError(w, http.StatusServiceUnavailable, "unavailable", "the gateway cannot reach its identity provider; try again later")
				return
			}
			g.log.Info("token refused", "remote", r.RemoteAddr, "err", err)
			g.logins.refused(g, r.RemoteAddr, err)
			writeError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "token refused: "+err.Error()+"; run hoop login")
			return
		}
		g.logins.seen(g, id, r.RemoteAddr)
		next(w, r, id)
	}
}

func (g *Gateway) handleWhoami(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	writeJSON(w, http.StatusOK, api.Whoami{
		Subject: id.Subject, Email: id.Email, Name: id.Name, Groups: nonNil(id.Groups), Issuer: id.Issuer, Expiry: id.Expiry,
	})
}

func (g *Gateway) handleConnections(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	p := g.Policy()
	out := []api.Connection{}
	for _, c := range g.cfg.Connections {
		a := p.Access(g.policyIdentity(id), c.Name)
		if !a.Allowed {
			continue
		}
		classes := make([]string, len(a.Classes))
		for i, cl := range a.Classes {
			classes[i] = string(cl)
		}
		out = append(out, api.Connection{Name: c.Name, Type: c.Type, Access: classes, Rules: nonNil(a.Rules)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (g *Gateway) policyIdentity(id identity.Identity) policy.Identity {
	return policy.Identity{Subject: id.Subject, Email: id.Email, Groups: id.Groups, Grants: g.grants.active(id, time.Now())}
}

// access decides whether id may use the named connection at all.
func (g *Gateway) access(id identity.Identity, name string) (*config.Connection, policy.Access, error) {
	c, ok := g.conns[name]
	if !ok {
		return nil, policy.Access{}, &apiError{status: http.StatusNotFound, code: api.CodeNotFound, msg: fmt.Sprintf("no connection named %q on this gateway; hoop connections lists yours", name)}
	}
	a := g.Policy().Access(g.policyIdentity(id), name)
	if !a.Allowed {
		msg := fmt.Sprintf("no rule grants %s access to connection %s (groups: %s)", id, name, groupList(id.Groups))
		if len(a.JIT) > 0 {
			msg += fmt.Sprintf("; just-in-time access may be requested (%s): hoop connect %s --duration 1h --reason …", strings.Join(a.JIT, ", "), name)
		}
		return nil, a, &apiError{status: http.StatusForbidden, code: api.CodeForbidden, msg: msg}
	}
	return c, a, nil
}

func groupList(groups []string) string {
	if len(groups) == 0 {
		return "none"
	}
	return strings.Join(groups, ", ")
}

// grant decides how a session on c is opened: the database role for the highest class
// the identity may run, read-only when that is read.
func (g *Gateway) grant(id identity.Identity, c *config.Connection, tunnelID, remote string, notify func(level, text string)) (*postgres.Grant, error) {
	p := g.Policy()
	a := p.Access(g.policyIdentity(id), c.Name)
	if !a.Allowed {
		return nil, &postgres.DeniedError{Reason: fmt.Sprintf("no rule grants %s access to connection %s (groups: %s)", id, c.Name, groupList(id.Groups))}
	}
	level, ok := p.MaxLevel(g.policyIdentity(id), c.Name)
	if !ok {
		return nil, &postgres.DeniedError{Reason: fmt.Sprintf("no rule grants %s any statement class on connection %s", id, c.Name)}
	}
	up, ok := g.upstream[c.Name][level]
	if !ok {
		_, err := c.Credential(string(level))
		return nil, fmt.Errorf("connection %s: %w", c.Name, err)
	}
	grant := &postgres.Grant{Upstream: up, Level: string(level), ReadOnly: level == policy.Read, Rules: a.Rules}
	var sessionID atomic.Value // the record's id, once the session has one
	if g.rec != nil && !g.recordOff {
		grant.Record = func(info postgres.SessionInfo) (postgres.Recorder, error) {
			sr, err := g.openRecord(id, tunnelID, remote, c.Name, grant, info)
			if err == nil {
				sessionID.Store(sr.id)
			}
			return sr, err
		}
	}
	if g.noGate {
		return grant, nil
	}
	holder := &sessionHolder{g: g, who: id, connection: c.Name, notify: notify,
		session: func() string { s, _ := sessionID.Load().(string); return s }}
	grant.Holder = holder
	log := g.log.With("user", id.String(), "connection", c.Name)
	gate := g.newGate(g.policyIdentity(id), c.Name, log)
	grant.Gate = gate
	rules, err := g.maskRules(p, g.policyIdentity(id), c.Name)
	if err != nil {
		return nil, err
	}
	if len(rules) > 0 {
		grant.Masker = g.newMasker(p, rules, g.policyIdentity(id), c.Name, log, &catalog{cfg: up.Copy(), tables: make(map[uint32]*tableInfo)})
	}
	sm, _ := grant.Masker.(*sessionMasker)
	gate.masker = sm
	holder.params = func(sql string, ps []postgres.Param) []*string { return maskParams(sm, sql, ps) }
	holder.sql = sm.statement
	holder.text = func(s string) string { return maskText(sm, s) }
	return grant, nil
}

// upstreamConfig builds the pgconn config for a connection and credential. Every field is
// set explicitly so that the gateway's own PG* environment cannot change it.
func upstreamConfig(c *config.Connection, cred config.Credential) (*pgconn.Config, error) {
	kv := []string{
		"host=" + quote(c.Host),
		"port=" + strconv.Itoa(c.Port),
		"dbname=" + quote(c.Database),
		"user=" + quote(cred.User),
		"password=" + quote(cred.Password),
		"sslmode=" + quote(orDefault(c.SSLMode, "prefer")),
		"connect_timeout=10",
	}
	if c.SSLRootCert != "" {
		kv = append(kv, "sslrootcert="+quote(c.SSLRootCert))
	}
	pc, err := pgconn.ParseConfig(strings.Join(kv, " "))
	if err != nil {
		return nil, fmt.Errorf("connection %s: upstream config: %w", c.Name, err)
	}
	return pc, nil
}

func quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

type apiError struct {
	status    int
	code, msg string
}

func (e *apiError) Error() string { return e.msg }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, api.Error{Error: msg, Code: code})
}

func newID(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:16])
}
