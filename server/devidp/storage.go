package devidp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// storage keeps users, the client, the key and every short-lived object of
// the flows in memory. It implements op.Storage and
// op.DeviceAuthorizationStorage. Getters hand out copies: op reads them
// after the lock is released.
type storage struct {
	client    *client
	users     map[string]User
	machines  map[string]Machine // by id; nil when there are none
	key       *signingKey
	accessTTL time.Duration
	now       func() time.Time // time.Now; tests move it

	mu            sync.Mutex
	authRequests  map[string]*authRequest    // by id
	codes         map[string]string          // code -> auth request id
	accessTokens  map[string]*accessToken    // by id
	refreshTokens map[string]*refreshToken   // by the token itself
	devices       map[string]*deviceGrant    // by device code
	userCodes     map[string]string          // normalised user code -> device code
	tickets       map[string]*approvalTicket // by ticket
	lastPrune     time.Time
}

var (
	_ op.Storage                    = (*storage)(nil)
	_ op.DeviceAuthorizationStorage = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest  = (*storage)(nil)
)

func newStorage(c *client, users map[string]User, key *signingKey, accessTTL time.Duration) *storage {
	return &storage{
		client:        c,
		users:         users,
		key:           key,
		accessTTL:     accessTTL,
		now:           time.Now,
		authRequests:  make(map[string]*authRequest),
		codes:         make(map[string]string),
		accessTokens:  make(map[string]*accessToken),
		refreshTokens: make(map[string]*refreshToken),
		devices:       make(map[string]*deviceGrant),
		userCodes:     make(map[string]string),
		tickets:       make(map[string]*approvalTicket),
	}
}

// authRequest implements op.AuthRequest.
type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	scopes       []string
	state        string
	nonce        string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	created      time.Time
	code         string // set when the code is issued

	subject  string // set by the login form
	authTime time.Time
	done     bool
}

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.challenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

type accessToken struct {
	id           string
	subject      string
	clientID     string
	audience     []string
	scopes       []string
	expires      time.Time
	refreshToken string // "" when none was issued with it
}

type refreshToken struct {
	token         string
	subject       string
	clientID      string
	audience      []string
	scopes        []string
	amr           []string
	authTime      time.Time
	expires       time.Time
	accessTokenID string
}

// refreshRequest implements op.RefreshTokenRequest; it is a copy, so
// SetCurrentScopes does not touch the stored token.
type refreshRequest struct {
	subject  string
	clientID string
	audience []string
	scopes   []string
	amr      []string
	authTime time.Time
}

func (r *refreshRequest) GetAMR() []string                 { return r.amr }
func (r *refreshRequest) GetAudience() []string            { return r.audience }
func (r *refreshRequest) GetAuthTime() time.Time           { return r.authTime }
func (r *refreshRequest) GetClientID() string              { return r.clientID }
func (r *refreshRequest) GetScopes() []string              { return r.scopes }
func (r *refreshRequest) GetSubject() string               { return r.subject }
func (r *refreshRequest) SetCurrentScopes(scopes []string) { r.scopes = scopes }

type deviceGrant struct {
	deviceCode string
	userCode   string // normalised
	state      op.DeviceAuthorizationState
}

// approvalTicket binds a device approval form to the user who logged in on
// the device page, so the approve button needs no second password.
type approvalTicket struct {
	userCode string
	subject  string
	expires  time.Time
}

// randomID returns 32 random bytes, base64url: unguessable ids and tokens.
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// normaliseUserCode lets "bcdf ghjk", "BCDF-GHJK" and "BCDFGHJK" name the same code.
func normaliseUserCode(code string) string {
	var b strings.Builder
	for _, r := range strings.ToUpper(code) {
		if r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// checkPassword compares in constant time, and compares even for an unknown
// user, so neither the answer nor its timing tells which names exist.
func (s *storage) checkPassword(name, password string) (User, error) {
	u, ok := s.users[name]
	want := u.Password
	if !ok {
		want = "\x00no such user"
	}
	match := subtle.ConstantTimeCompare([]byte(password), []byte(want)) == 1
	if !ok || !match {
		return User{}, errBadCredentials
	}
	return u, nil
}

// prune drops expired entries; called with s.mu held on every write, it
// does the work at most once per pruneInterval.
func (s *storage) prune(now time.Time) {
	if now.Sub(s.lastPrune) < pruneInterval {
		return
	}
	s.lastPrune = now
	for id, a := range s.authRequests {
		if now.Sub(a.created) > authRequestLifetime {
			delete(s.codes, a.code)
			delete(s.authRequests, id)
		}
	}
	for id, t := range s.accessTokens {
		if now.After(t.expires) {
			delete(s.accessTokens, id)
		}
	}
	for tok, t := range s.refreshTokens {
		if now.After(t.expires) {
			delete(s.refreshTokens, tok)
		}
	}
	for dc, d := range s.devices {
		if now.After(d.state.Expires.Add(pruneInterval)) { // a last poll still sees expired_token
			delete(s.userCodes, d.userCode)
			delete(s.devices, dc)
		}
	}
	for id, t := range s.tickets {
		if now.After(t.expires) {
			delete(s.tickets, id)
		}
	}
}

// --- auth requests and codes ---

// CreateAuthRequest stores a validated request. PKCE with S256 is required
// here because op alone would also accept "plain".
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	if req.CodeChallenge == "" || req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE with code_challenge_method=S256 is required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	a := &authRequest{
		id:           randomID(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		scopes:       slices.Clone(req.Scopes),
		state:        req.State,
		nonce:        req.Nonce,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		challenge:    &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		created:      now,
	}
	s.authRequests[a.id] = a
	c := *a
	return &c, nil
}

func (s *storage) authRequest(id string) (*authRequest, error) {
	a, ok := s.authRequests[id]
	if !ok || s.now().Sub(a.created) > authRequestLifetime {
		return nil, errUnknownRequest
	}
	return a, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	if err != nil {
		return nil, err
	}
	c := *a
	return &c, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(s.codes[code])
	if err != nil || !a.done || a.code != code {
		return nil, errUnknownRequest
	}
	c := *a
	return &c, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	if err != nil {
		return err
	}
	delete(s.codes, a.code) // one live code per request
	a.code = code
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest is called once the code is exchanged: the code is single use.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.authRequests[id]; ok {
		delete(s.codes, a.code)
		delete(s.authRequests, id)
	}
	return nil
}

// completeLogin records who logged in for the auth request id.
func (s *storage) completeLogin(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.authRequest(id)
	if err != nil {
		return err
	}
	if a.done {
		return errRequestDone
	}
	a.subject, a.authTime, a.done = subject, s.now(), true
	return nil
}

// --- tokens ---

func clientIDOf(req op.TokenRequest) string {
	if r, ok := req.(interface{ GetClientID() string }); ok {
		return r.GetClientID()
	}
	if aud := req.GetAudience(); len(aud) > 0 {
		return aud[0]
	}
	return ""
}

// newAccessToken stores an access token; s.mu must be held.
func (s *storage) newAccessToken(req op.TokenRequest, refresh string, now time.Time) *accessToken {
	t := &accessToken{
		id:           randomID(),
		subject:      req.GetSubject(),
		clientID:     clientIDOf(req),
		audience:     slices.Clone(req.GetAudience()),
		scopes:       slices.Clone(req.GetScopes()),
		expires:      now.Add(s.accessTTL),
		refreshToken: refresh,
	}
	s.accessTokens[t.id] = t
	return t
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	t := s.newAccessToken(req, "", now)
	return t.id, t.expires, nil
}

// CreateAccessAndRefreshTokens issues an access token and a new refresh
// token. With currentRefreshToken set (the refresh grant) the old refresh
// token and its access token are revoked: rotation, so a stolen refresh
// token that was already used is worthless.
func (s *storage) CreateAccessAndRefreshTokens(_ context.Context, req op.TokenRequest, currentRefreshToken string) (string, string, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)

	rt := &refreshToken{
		token:    randomID(),
		subject:  req.GetSubject(),
		clientID: clientIDOf(req),
		audience: slices.Clone(req.GetAudience()),
		scopes:   slices.Clone(req.GetScopes()),
		authTime: now,
		expires:  now.Add(refreshTokenLifetime),
	}
	if r, ok := req.(op.IDTokenRequest); ok {
		rt.amr, rt.authTime = slices.Clone(r.GetAMR()), r.GetAuthTime()
	}
	if currentRefreshToken != "" {
		old, ok := s.refreshTokens[currentRefreshToken]
		if !ok || now.After(old.expires) {
			return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("refresh token is unknown, expired or already used")
		}
		delete(s.refreshTokens, currentRefreshToken)
		delete(s.accessTokens, old.accessTokenID)
		rt.scopes = slices.Clone(old.scopes) // a narrowed refresh does not narrow the grant
	}
	at := s.newAccessToken(req, rt.token, now)
	rt.accessTokenID = at.id
	s.refreshTokens[rt.token] = rt
	return at.id, rt.token, at.expires, nil
}

func (s *storage) TokenRequestByRefreshToken(_ context.Context, token string) (op.RefreshTokenRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rt, ok := s.refreshTokens[token]
	if !ok || s.now().After(rt.expires) {
		return nil, errUnknownToken
	}
	return &refreshRequest{
		subject:  rt.subject,
		clientID: rt.clientID,
		audience: slices.Clone(rt.audience),
		scopes:   slices.Clone(rt.scopes),
		amr:      slices.Clone(rt.amr),
		authTime: rt.authTime,
	}, nil
}

func (s *storage) TerminateSession(_ context.Context, userID, clientID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, t := range s.accessTokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.accessTokens, id)
		}
	}
	for tok, t := range s.refreshTokens {
		if t.subject == userID && t.clientID == clientID {
			delete(s.refreshTokens, tok)
		}
	}
	return nil
}

// RevokeToken gets an access token id, or a refresh token itself (see
// GetRefreshTokenInfo). Unknown tokens are not an error (RFC 7009).
func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.accessTokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.accessTokens, tokenOrID)
		return nil
	}
	if t, ok := s.refreshTokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued to this client")
		}
		delete(s.refreshTokens, tokenOrID)
		delete(s.accessTokens, t.accessTokenID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(_ context.Context, _ string, token string) (string, string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refreshTokens[token]
	if !ok {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.subject, t.token, nil
}

// --- keys ---

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// --- client and claims ---

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	if m, ok := s.machines[id]; ok {
		return machineClient{m}, nil
	}
	if id != s.client.id {
		return nil, errUnknownClient
	}
	return s.client, nil
}

// AuthorizeClientIDSecret authenticates a machine at the endpoints other than the
// token endpoint's client_credentials grant (revocation, introspection).
func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	if id == s.client.id {
		return errNoSecret
	}
	_, err := s.checkSecret(id, secret)
	return err
}

// SetUserinfoFromScopes is deprecated in op; SetUserinfoFromRequest does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	valid := ok && t.subject == subject && !s.now().After(t.expires)
	var scopes []string
	if valid {
		scopes = t.scopes
	}
	s.mu.Unlock()
	if !valid {
		return errUnknownToken
	}
	return s.setUserinfo(info, subject, scopes)
}

func (s *storage) SetIntrospectionFromToken(_ context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	s.mu.Lock()
	t, ok := s.accessTokens[tokenID]
	valid := ok && t.subject == subject && !s.now().After(t.expires) && slices.Contains(t.audience, clientID)
	var c accessToken
	if valid {
		c = *t
	}
	s.mu.Unlock()
	if !valid {
		return errUnknownToken
	}
	info := new(oidc.UserInfo)
	if err := s.setUserinfo(info, subject, c.scopes); err != nil {
		return err
	}
	resp.SetUserInfo(info)
	resp.Scope = c.scopes
	resp.ClientID = c.clientID
	resp.Expiration = oidc.FromTime(c.expires)
	return nil
}

// setUserinfo fills the claims the scopes ask for.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.users[subject]
	if !ok {
		return errUnknownToken
	}
	info.Subject = u.Name
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			if u.Email != "" {
				info.Email, info.EmailVerified = u.Email, true
			}
		case oidc.ScopeProfile:
			info.Name, info.PreferredUsername = u.Name, u.Name
		case ScopeGroups:
			groups := make([]string, len(u.Groups)) // [] rather than null for no groups
			copy(groups, u.Groups)
			info.AppendClaims("groups", groups)
		}
	}
	return nil
}

// GetPrivateClaimsFromScopes is only used for JWT access tokens, which only machines
// get: their configured claims.
func (s *storage) GetPrivateClaimsFromScopes(_ context.Context, _, clientID string, _ []string) (map[string]any, error) {
	m, ok := s.machines[clientID]
	if !ok {
		return nil, nil
	}
	return maps.Clone(m.Claims), nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errNotSupported
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errNotSupported
}

func (s *storage) Health(context.Context) error { return nil }

// --- device authorization (RFC 8628) ---

func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	if clientID != s.client.id {
		return errUnknownClient
	}
	var allowed []string
	for _, sc := range scopes {
		if slices.Contains(supportedScopes, sc) && !slices.Contains(allowed, sc) {
			allowed = append(allowed, sc)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.prune(s.now())
	uc := normaliseUserCode(userCode)
	if _, dup := s.userCodes[uc]; dup {
		return op.ErrDuplicateUserCode
	}
	s.devices[deviceCode] = &deviceGrant{
		deviceCode: deviceCode,
		userCode:   uc,
		state: op.DeviceAuthorizationState{
			ClientID: clientID,
			Audience: []string{clientID},
			Scopes:   allowed,
			Expires:  expires,
		},
	}
	s.userCodes[uc] = deviceCode
	return nil
}

// GetDeviceAuthorizatonState answers a poll. A finished grant (approved or
// denied) is answered once and then forgotten: the device code is single use.
func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCode]
	if !ok || d.state.ClientID != clientID {
		return nil, errUnknownDevice
	}
	st := d.state
	st.Audience, st.Scopes, st.AMR = slices.Clone(st.Audience), slices.Clone(st.Scopes), slices.Clone(st.AMR)
	if st.Done || st.Denied {
		delete(s.devices, deviceCode)
		delete(s.userCodes, d.userCode)
	}
	return &st, nil
}

// pendingDevice finds a device grant still waiting for a person; s.mu must be held.
func (s *storage) pendingDevice(userCode string) (*deviceGrant, error) {
	d, ok := s.devices[s.userCodes[normaliseUserCode(userCode)]]
	if !ok || d.state.Done || d.state.Denied || s.now().After(d.state.Expires) {
		return nil, errUnknownDevice
	}
	return d, nil
}

// deviceLogin checks that userCode is pending and issues the ticket the
// approval form carries. It returns the client id and scopes to show.
func (s *storage) deviceLogin(userCode, subject string) (ticket, clientID string, scopes []string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.prune(now)
	d, err := s.pendingDevice(userCode)
	if err != nil {
		return "", "", nil, err
	}
	ticket = randomID()
	s.tickets[ticket] = &approvalTicket{userCode: d.userCode, subject: subject, expires: now.Add(ticketLifetime)}
	return ticket, d.state.ClientID, slices.Clone(d.state.Scopes), nil
}

// deviceDecide spends a ticket: approve or deny its device grant.
func (s *storage) deviceDecide(ticket string, approve bool) (subject string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	t, ok := s.tickets[ticket]
	delete(s.tickets, ticket)
	if !ok || now.After(t.expires) {
		return "", errUnknownTicket
	}
	d, err := s.pendingDevice(t.userCode)
	if err != nil {
		return "", err
	}
	if approve {
		d.state.Done, d.state.Subject, d.state.AuthTime, d.state.AMR = true, t.subject, now, []string{"pwd"}
	} else {
		d.state.Denied = true
	}
	return t.subject, nil
}
