package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

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
