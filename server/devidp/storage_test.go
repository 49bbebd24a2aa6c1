package devidp

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

func TestNormaliseUserCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"BCDF-GHJK", "BCDFGHJK"},
		{"bcdf ghjk", "BCDFGHJK"},
		{" bcdfghjk\n", "BCDFGHJK"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := normaliseUserCode(tt.in); got != tt.want {
			t.Errorf("normaliseUserCode(%q): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// clock is a storage.now that tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestStorage(t *testing.T) (*storage, *clock) {
	t.Helper()
	users, err := checkUsers(DefaultUsers())
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newStorage(&client{id: DefaultClientID}, users, nil, time.Hour)
	s.now = c.now
	return s, c
}

func TestPruneExpiresState(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStorage(t)

	req, err := s.CreateAuthRequest(ctx, &oidc.AuthRequest{
		ClientID: DefaultClientID, Scopes: []string{"openid", "offline_access"}, ResponseType: oidc.ResponseTypeCode,
		RedirectURI: "http://127.0.0.1:1/callback", CodeChallenge: "x", CodeChallengeMethod: oidc.CodeChallengeMethodS256,
	}, "")
	if err != nil {
		t.Fatalf("CreateAuthRequest: %v", err)
	}
	if err := s.completeLogin(req.GetID(), "alice"); err != nil {
		t.Fatalf("completeLogin: %v", err)
	}
	if err := s.SaveAuthCode(ctx, req.GetID(), "code-1"); err != nil {
		t.Fatalf("SaveAuthCode: %v", err)
	}
	done, _ := s.AuthRequestByID(ctx, req.GetID())
	_, refresh, _, err := s.CreateAccessAndRefreshTokens(ctx, done, "")
	if err != nil {
		t.Fatalf("CreateAccessAndRefreshTokens: %v", err)
	}
	if err := s.StoreDeviceAuthorization(ctx, DefaultClientID, "dev-1", "BCDF-GHJK", c.t.Add(deviceCodeLifetime), []string{"openid"}); err != nil {
		t.Fatalf("StoreDeviceAuthorization: %v", err)
	}
	if err := s.StoreDeviceAuthorization(ctx, DefaultClientID, "dev-2", "bcdf ghjk", c.t.Add(deviceCodeLifetime), nil); !errors.Is(err, op.ErrDuplicateUserCode) {
		t.Errorf("same user code twice: got %v, want ErrDuplicateUserCode", err)
	}

	sizes := func() [5]int {
		s.mu.Lock()
		defer s.mu.Unlock()
		return [5]int{len(s.authRequests), len(s.codes), len(s.accessTokens), len(s.refreshTokens), len(s.devices)}
	}
	if got, want := sizes(), [5]int{1, 1, 1, 1, 1}; got != want {
		t.Fatalf("before expiry: got %v, want %v", got, want)
	}

	// Past every lifetime: lookups fail at once, and the next write prunes.
	c.t = c.t.Add(refreshTokenLifetime + time.Hour)
	if _, err := s.AuthRequestByCode(ctx, "code-1"); err == nil {
		t.Errorf("expired code still accepted")
	}
	if _, err := s.TokenRequestByRefreshToken(ctx, refresh); err == nil {
		t.Errorf("expired refresh token still accepted")
	}
	if _, _, err := s.CreateAccessToken(ctx, done); err != nil {
		t.Fatalf("CreateAccessToken: %v", err)
	}
	if got, want := sizes(), [5]int{0, 0, 1, 0, 0}; got != want { // the access token just made stays
		t.Errorf("after expiry: got %v, want %v", got, want)
	}
}

func TestDeviceTicket(t *testing.T) {
	ctx := context.Background()
	s, c := newTestStorage(t)
	if err := s.StoreDeviceAuthorization(ctx, DefaultClientID, "dev-1", "BCDF-GHJK", c.t.Add(deviceCodeLifetime), []string{"openid", "admin"}); err != nil {
		t.Fatalf("StoreDeviceAuthorization: %v", err)
	}
	ticket, clientID, scopes, err := s.deviceLogin("bcdf-ghjk", "dana")
	if err != nil {
		t.Fatalf("deviceLogin: %v", err)
	}
	if clientID != DefaultClientID || len(scopes) != 1 || scopes[0] != "openid" {
		t.Errorf("deviceLogin: got client %q scopes %q, want %q [openid] (unknown scopes dropped)", clientID, scopes, DefaultClientID)
	}
	if _, err := s.GetDeviceAuthorizatonState(ctx, "other-client", "dev-1"); err == nil {
		t.Errorf("another client could poll the device code")
	}
	if _, err := s.deviceDecide(ticket, true); err != nil {
		t.Fatalf("deviceDecide: %v", err)
	}
	if _, err := s.deviceDecide(ticket, true); !errors.Is(err, errUnknownTicket) {
		t.Errorf("ticket reused: got %v, want errUnknownTicket", err)
	}
	st, err := s.GetDeviceAuthorizatonState(ctx, DefaultClientID, "dev-1")
	if err != nil || !st.Done || st.Subject != "dana" {
		t.Fatalf("state after approval: got %+v, %v, want done for dana", st, err)
	}
	if _, err := s.GetDeviceAuthorizatonState(ctx, DefaultClientID, "dev-1"); err == nil {
		t.Errorf("device code answered twice after approval")
	}
}
