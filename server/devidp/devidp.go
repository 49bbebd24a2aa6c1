package devidp

import (
	"crypto/rand"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultClientID            = "hoop-cli"
	DefaultIDTokenLifetime     = time.Hour
	DefaultAccessTokenLifetime = time.Hour
)

// Lifetimes that are not configurable.
const (
	authRequestLifetime  = 10 * time.Minute // from /authorize to the code exchange
	refreshTokenLifetime = 24 * time.Hour   // sliding: renewed on each use
	deviceCodeLifetime   = 10 * time.Minute
	devicePollInterval   = time.Second     // loopback only: poll fast, log in fast
	ticketLifetime       = 5 * time.Minute // between the device login and the approval
	pruneInterval        = time.Minute
)

// ScopeGroups asks for the groups claim.
const ScopeGroups = "groups"

// Errors returned by New, and by the storage to the op package.
var (
	// ErrNoIssuer means Config.Issuer is empty.
	ErrNoIssuer = errors.New("issuer is required")
	// ErrBadIssuer means Config.Issuer is not an absolute http(s) URL without query or fragment.
	ErrBadIssuer = errors.New("issuer must be an absolute http or https URL without query or fragment")
	// ErrInsecureIssuer means a plain-http issuer whose host is not a loopback address.
	ErrInsecureIssuer = errors.New("a plain http issuer must be a loopback address (127.0.0.1, ::1 or localhost)")
	// ErrBadUser means a user without a name or a password, or a name used twice.
	ErrBadUser = errors.New("invalid user")
	// ErrBadMachine means a machine without an id, a secret or an audience, an id used
	// twice or taken by the CLI's client or a user, or claims the provider sets itself.
	ErrBadMachine = errors.New("invalid machine client")
	// ErrBadKeyFile means the key file is not a usable RSA private key, or is readable by others.
	ErrBadKeyFile = errors.New("invalid key file")

	errUnknownClient  = errors.New("unknown client")
	errUnknownRequest = errors.New("unknown or expired auth request")
	errRequestDone    = errors.New("auth request already completed")
	errUnknownToken   = errors.New("unknown or expired token")
	errUnknownDevice  = errors.New("unknown or expired device code")
	errUnknownTicket  = errors.New("unknown or expired approval")
	errBadCredentials = errors.New("invalid username or password")
	errNoSecret       = errors.New("public client has no secret")
	errNotSupported   = errors.New("not supported by the dev provider")
)

// User is a local account of the dev provider.
type User struct {
	Name     string   // login name and the token's sub: "alice"
	Password string   // "alice-dev"
	Email    string   // "alice@example.com"
	Groups   []string // ["engineering"]
}

// Config configures a Provider. Zero fields get the defaults above; nil Users
// means DefaultUsers.
type Config struct {
	Issuer              string        // external URL, may have a path: "http://127.0.0.1:8443/oidc"
	ClientID            string        // the CLI's public client: "hoop-cli"
	Users               []User        // nil: DefaultUsers()
	Machines            []Machine     // clients of the client_credentials grant; nil: none
	KeyFile             string        // RSA signing key, PEM, 0600: "/var/lib/hoop/devidp-key.pem"; "" keeps it in memory
	IDTokenLifetime     time.Duration // 1h
	AccessTokenLifetime time.Duration // 1h
	// JWTAccessTokens makes the CLI's access tokens signed JWTs (iss, sub, aud = the
	// client id, client_id, exp), as many identity providers issue them, instead of
	// opaque strings: for tests that prove the gateway refuses them as a bearer.
	JWTAccessTokens bool
}

// DefaultConfig returns a Config with every default filled in except Issuer.
func DefaultConfig() Config {
	return Config{
		ClientID:            DefaultClientID,
		Users:               DefaultUsers(),
		IDTokenLifetime:     DefaultIDTokenLifetime,
		AccessTokenLifetime: DefaultAccessTokenLifetime,
	}
}

// DefaultUsers returns the users of `hoopd --dev` (see the package doc).
func DefaultUsers() []User {
	mk := func(name string, groups ...string) User {
		return User{Name: name, Password: name + "-dev", Email: name + "@example.com", Groups: groups}
	}
	return []User{
		mk("alice", "engineering"),
		mk("dana", "dba"),
		mk("ann", "analytics"),
		mk("carl", "contractors"),
		mk("eve"),
		mk("audrey", "auditors"),
	}
}

// Provider is an embedded OpenID Connect provider. It is safe for concurrent use.
type Provider struct {
	issuer   string // without a trailing slash
	basePath string // the issuer's path: "/oidc", or "" at the root
	store    *storage
	op       *op.Provider
	handler  http.Handler
}

// New validates cfg, loads or creates the signing key and builds the provider.
func New(cfg Config) (*Provider, error) {
	cfg = withDefaults(cfg)
	issuer, basePath, err := checkIssuer(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("devidp new: issuer %q: %w", cfg.Issuer, err)
	}
	users, err := checkUsers(cfg.Users)
	if err != nil {
		return nil, fmt.Errorf("devidp new: %w", err)
	}
	machines, err := checkMachines(cfg.Machines, cfg.ClientID, users)
	if err != nil {
		return nil, fmt.Errorf("devidp new: %w", err)
	}
	key, err := loadOrCreateKey(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("devidp new: %w", err)
	}
	p := &Provider{issuer: issuer, basePath: basePath}
	cl := &client{
		id:              cfg.ClientID,
		loginPath:       basePath + "/login",
		idTokenLifetime: cfg.IDTokenLifetime,
		jwtAccessToken:  cfg.JWTAccessTokens,
	}
	p.store = newStorage(cl, users, key, cfg.AccessTokenLifetime)
	p.store.machines = machines

	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		return nil, fmt.Errorf("devidp new: crypto key: %w", err)
	}
	opCfg := &op.Config{
		CryptoKey:             cryptoKey,
		CodeMethodS256:        true,
		AuthMethodPost:        false,
		GrantTypeRefreshToken: true,
		SupportedScopes:       slices.Clone(supportedScopes),
		SupportedClaims:       append(slices.Clone(op.DefaultSupportedClaims), "groups"),
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     deviceCodeLifetime,
			PollInterval: devicePollInterval,
			UserFormPath: basePath + "/device",
			UserCode:     op.UserCodeBase20,
		},
	}
	var opts []op.Option
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p.op, err = op.NewProvider(opCfg, p.store, op.StaticIssuer(issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("devidp new: %w", err)
	}
	p.handler = p.routes()
	return p, nil
}

// Issuer returns the issuer URL the tokens carry, without a trailing slash.
func (p *Provider) Issuer() string { return p.issuer }

// Handler serves the provider. It expects the full request path, issuer
// path included, and strips that prefix itself: with the issuer
// "http://127.0.0.1:8443/oidc" mount it as mux.Handle("/oidc/", p.Handler()).
func (p *Provider) Handler() http.Handler { return p.handler }

func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", p.loginPage)
	mux.HandleFunc("POST /login", p.loginSubmit)
	mux.HandleFunc("GET /device", p.devicePage)
	mux.HandleFunc("POST /device", p.deviceSubmit)
	mux.HandleFunc("POST /device/approve", p.deviceApprove)
	mux.Handle("/", p.op)
	if p.basePath == "" {
		return mux
	}
	return http.StripPrefix(p.basePath, mux)
}

var supportedScopes = []string{
	oidc.ScopeOpenID, oidc.ScopeEmail, oidc.ScopeProfile, ScopeGroups, oidc.ScopeOfflineAccess,
}

func withDefaults(cfg Config) Config {
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.Users == nil {
		cfg.Users = DefaultUsers()
	}
	if cfg.IDTokenLifetime <= 0 {
		cfg.IDTokenLifetime = DefaultIDTokenLifetime
	}
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = DefaultAccessTokenLifetime
	}
	return cfg
}

// checkIssuer returns the issuer without a trailing slash and its path.
func checkIssuer(raw string) (issuer, path string, err error) {
	if raw == "" {
		return "", "", ErrNoIssuer
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrBadIssuer, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", "", ErrBadIssuer
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", "", ErrInsecureIssuer
	}
	return u.String(), u.Path, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func checkUsers(list []User) (map[string]User, error) {
	users := make(map[string]User, len(list))
	for i, u := range list {
		switch {
		case u.Name == "":
			return nil, fmt.Errorf("user %d: %w: empty name", i, ErrBadUser)
		case u.Password == "":
			return nil, fmt.Errorf("user %q: %w: empty password", u.Name, ErrBadUser)
		}
		if _, dup := users[u.Name]; dup {
			return nil, fmt.Errorf("user %q: %w: name used twice", u.Name, ErrBadUser)
		}
		u.Groups = slices.Clone(u.Groups)
		users[u.Name] = u
	}
	return users, nil
}

// pages holds the HTML of the login and device pages.
var pages = template.Must(template.New("pages").Parse(pagesHTML))
