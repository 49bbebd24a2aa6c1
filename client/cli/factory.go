package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client/auth"
)

// factory gives commands what they share: streams, environment, the gateway URL, tokens.
type factory struct {
	io          IOStreams
	env         Env
	http        *http.Client
	gatewayFlag string
	debugAddr   string

	store *auth.Store

	machineMu sync.Mutex
	machine   *machineSource // HOOP_CLIENT_ID's tokens, cached for the process
}

// machineSource is the client_credentials token source for one gateway.
type machineSource struct {
	gateway string             // "https://hoop.example.com"
	issuer  string             // "https://idp.example.com": in messages
	src     oauth2.TokenSource // refetches when the token expires
}

func (f *factory) getenv(name string) string {
	v, _ := f.env(name)
	return v
}

func (f *factory) tokenStore() (*auth.Store, error) {
	if f.store != nil {
		return f.store, nil
	}
	dir := f.getenv("HOOP_CONFIG_DIR")
	var err error
	if dir != "" {
		f.store = auth.NewStore(dir)
	} else if f.store, err = auth.DefaultStore(); err != nil {
		return nil, err
	}
	f.store.HTTPClient = f.http
	return f.store, nil
}

// gateway is --gateway, else HOOP_GATEWAY, else what hoop login saved.
func (f *factory) gateway() (string, error) {
	gw := f.gatewayFlag
	if gw == "" {
		gw = f.getenv("HOOP_GATEWAY")
	}
	if gw == "" {
		s, err := f.tokenStore()
		if err != nil {
			return "", err
		}
		gw, _ = s.Gateway()
	}
	if gw == "" {
		return "", &usageError{errors.New("no gateway: pass --gateway URL, set HOOP_GATEWAY, or run hoop login --gateway URL")}
	}
	return normalizeGateway(gw)
}

func normalizeGateway(gw string) (string, error) {
	u, err := url.Parse(gw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &usageError{fmt.Errorf("gateway %q: want an http:// or https:// URL", gw)}
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// token returns the bearer for gateway: HOOP_TOKEN, else the saved one, refreshed when
// it is about to expire.
func (f *factory) token(ctx context.Context, gateway string) (string, time.Time, error) {
	if t := strings.TrimSpace(f.getenv("HOOP_TOKEN")); t != "" {
		return t, jwtExpiry(t), nil
	}
	id, secret := strings.TrimSpace(f.getenv("HOOP_CLIENT_ID")), f.getenv("HOOP_CLIENT_SECRET")
	switch {
	case id != "" && secret != "":
		return f.clientCredentials(ctx, gateway, id, secret)
	case id != "":
		return "", time.Time{}, &usageError{errors.New("HOOP_CLIENT_ID is set but HOOP_CLIENT_SECRET is not: set both, or neither")}
	case secret != "":
		return "", time.Time{}, &usageError{errors.New("HOOP_CLIENT_SECRET is set but HOOP_CLIENT_ID is not: set both, or neither")}
	}
	s, err := f.tokenStore()
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := s.Token(ctx, gateway, func() (*api.Info, error) { return auth.FetchInfo(ctx, f.http, gateway) })
	if err != nil {
		if errors.Is(err, auth.ErrNotLoggedIn) {
			return "", time.Time{}, fmt.Errorf("not logged in to %s (%w); run hoop login", gateway, err)
		}
		return "", time.Time{}, err
	}
	return tok.IDToken, tok.Expiry, nil
}

// clientCredentials gets a token for the machine client id from the token endpoint of the
// issuer the gateway names (client_credentials grant, client_secret_basic), with the
// scopes of HOOP_CLIENT_SCOPES. The token is reused until it expires. A refused client
// is ErrNotLoggedIn, with the identity provider's reason.
func (f *factory) clientCredentials(ctx context.Context, gateway, id, secret string) (string, time.Time, error) {
	hc := f.http
	if hc == nil {
		hc = http.DefaultClient
	}
	f.machineMu.Lock()
	defer f.machineMu.Unlock()
	if f.machine == nil || f.machine.gateway != gateway {
		info, err := auth.FetchInfo(ctx, hc, gateway)
		if err != nil {
			return "", time.Time{}, err
		}
		provider, err := oidc.NewProvider(oidc.ClientContext(ctx, hc), info.Issuer)
		if err != nil {
			return "", time.Time{}, fmt.Errorf("client credentials: discover %s: %w", info.Issuer, err)
		}
		cc := &clientcredentials.Config{
			ClientID:     id,
			ClientSecret: secret,
			TokenURL:     provider.Endpoint().TokenURL,
			Scopes:       strings.FieldsFunc(f.getenv("HOOP_CLIENT_SCOPES"), func(r rune) bool { return r == ' ' || r == ',' }),
			// RFC 6749 section 2.3.1: every server supports it. Auto-detection would send
			// a refused secret twice.
			AuthStyle: oauth2.AuthStyleInHeader,
		}
		// The source outlives this command's context: it fetches again on expiry.
		sctx := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, hc)
		f.machine = &machineSource{gateway: gateway, issuer: info.Issuer, src: cc.TokenSource(sctx)}
	}
	tok, err := f.machine.src.Token()
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
			reason := re.ErrorCode
			if re.ErrorDescription != "" {
				reason += ": " + re.ErrorDescription
			}
			if reason == "" {
				reason = re.Response.Status
			}
			return "", time.Time{}, fmt.Errorf("%w: %s refused client %s: %s", auth.ErrNotLoggedIn, f.machine.issuer, id, reason)
		}
		return "", time.Time{}, fmt.Errorf("client credentials at %s: %w", f.machine.issuer, err)
	}
	return tok.AccessToken, tok.Expiry, nil
}
