package tunnel

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hoopgw/hoop/api"
)

// TunnelPath is the gateway endpoint a client dials.
const TunnelPath = "/api/v1/tunnel"

// Session is the client side of a tunnel: it opens streams to the gateway and talks to it
// on the control stream. All methods are safe for concurrent use.
type Session struct {
	*core
	connection string // "db-prod", the connection named in the dial

	tokenSem chan struct{}         // one SendToken at a time
	waitMu   sync.Mutex            // guards waiter
	waiter   chan<- ControlMessage // the pending SendToken's answer, or nil
}

// Dial opens a tunnel to connection through the gateway at gatewayURL
// ("https://gw.example.com"), authenticating with the bearer token. It upgrades
// GET {gatewayURL}/api/v1/tunnel?connection=NAME to a WebSocket, starts a yamux client
// session over it and opens the control stream. ctx bounds the dial and the control
// stream's opening, not the session.
//
// When the gateway refuses the request before upgrading, the error is an *HTTPError;
// when it refuses the control stream, a *StreamError.
func Dial(ctx context.Context, gatewayURL, token, connection string, cfg *Config) (*Session, error) {
	cfg = cfg.withDefaults()
	u, err := tunnelURL(gatewayURL, connection)
	if err != nil {
		return nil, err
	}
	hdr := cfg.HTTPHeader.Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	hdr.Set("Authorization", "Bearer "+token)
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	d := websocket.Dialer{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10, HandshakeTimeout: 30 * time.Second}
	if t, ok := cfg.HTTPClient.Transport.(*http.Transport); ok && t != nil && cfg.HTTPClient != nil {
		d.TLSClientConfig = t.TLSClientConfig
		d.NetDialContext = t.DialContext
		d.Proxy = t.Proxy
	}
	wsURL := "ws" + strings.TrimPrefix(u, "http")
	ws, resp, err := d.DialContext(ctx, wsURL, hdr)
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, httpError(resp)
		}
		return nil, fmt.Errorf("tunnel dial %s: %w", u, err)
	}
	c, err := newCore(ws, cfg, true)
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("tunnel dial %s: %w", u, err)
	}
	s := &Session{core: c, connection: connection, tokenSem: make(chan struct{}, 1)}
	ctrl, err := s.open(ctx, Header{Kind: KindControl, Connection: connection})
	if err != nil {
		s.shutdown(ErrSessionClosed)
		return nil, fmt.Errorf("tunnel dial %s: control stream: %w", u, err)
	}
	s.setCtrl(ctrl)
	go s.readControl(ctrl, s.handle)
	return s, nil
}

// tunnelURL builds the tunnel endpoint's URL under the gateway's base URL.
func tunnelURL(gatewayURL, connection string) (string, error) {
	u, err := url.Parse(gatewayURL)
	if err != nil {
		return "", fmt.Errorf("tunnel dial: gateway URL: %w", err)
	}
	switch u.Scheme {
	case "http", "https", "ws", "wss":
	default:
		return "", fmt.Errorf("tunnel dial: gateway URL %q: scheme must be http or https", gatewayURL)
	}
	u = u.JoinPath(TunnelPath)
	u.RawQuery = url.Values{"connection": {connection}}.Encode()
	return u.String(), nil
}

// httpError builds the error for a refused upgrade from the answer's api.Error body.
func httpError(resp *http.Response) error {
	e := &HTTPError{StatusCode: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
	if resp.Body == nil {
		return e
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024)) // websocket.Dial keeps only 1 KiB
	var body api.Error
	if json.Unmarshal(b, &body) == nil && body.Error != "" {
		e.Message = body.Error
		e.Code = body.Code
	}
	return e
}

// handle dispatches one control message from the gateway.
func (s *Session) handle(m ControlMessage) {
	switch m.Type {
	case ControlClose:
		s.setErr(&CloseError{Reason: m.Reason})
	case ControlTokenOK, ControlTokenRejected:
		s.waitMu.Lock()
		w := s.waiter
		s.waiter = nil
		s.waitMu.Unlock()
		if w != nil {
			w <- m // buffered, read by SendToken
			return
		}
	}
	s.deliver(m)
}

// Open opens a stream: it writes h as the stream's header frame and waits for the
// gateway's reply. An empty h.Connection means the connection named in Dial. On an
// error reply the stream is closed and the error is a *StreamError. After Open returns,
// the net.Conn carries the raw bytes of the kind's protocol. ctx bounds only the opening.
//
// The conn's Close is a half-close (yamux): it ends our writes, and reads go on until the
// gateway closes its side, which it does when it reads EOF.
func (s *Session) Open(ctx context.Context, h Header) (net.Conn, error) {
	if h.Kind == KindControl {
		return nil, fmt.Errorf("tunnel: open: %w", badHeader(nil, "a session has exactly one control stream"))
	}
	if h.Connection == "" {
		h.Connection = s.connection
	}
	return s.open(ctx, h)
}

func (s *Session) open(ctx context.Context, h Header) (net.Conn, error) {
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("tunnel: open: %w", err)
	}
	st, err := s.mux.OpenStream()
	if err != nil {
		select {
		case <-s.done:
			return nil, fmt.Errorf("tunnel: open %s stream: %w", h.Kind, s.errOrClosed())
		default:
		}
		return nil, fmt.Errorf("tunnel: open %s stream: %w", h.Kind, err)
	}
	deadline := time.Now().Add(s.cfg.HeaderTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = st.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = st.SetDeadline(time.Now()) })

	fail := func(err error) (net.Conn, error) {
		stop()
		_ = st.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("tunnel: open %s stream: %w", h.Kind, err)
	}
	if err := writeJSONFrame(st, h, MaxHeaderFrame); err != nil {
		return fail(err)
	}
	rep, err := readReply(st)
	if err != nil {
		return fail(err)
	}
	if !stop() {
		return fail(ctx.Err()) // ctx ended while we read; the deadline may be set
	}
	_ = st.SetDeadline(time.Time{})
	if !rep.OK {
		_ = st.Close()
		msg := rep.Error
		if msg == "" {
			msg = "refused without a reason"
		}
		return nil, &StreamError{Code: rep.Code, Message: msg}
	}
	return st, nil
}

// Control returns the messages the gateway sends: notices, close reasons, and token
// answers no SendToken is waiting for. The channel is never closed; select on Done too.
// When it is full, new messages are dropped (and logged), so drain it.
func (s *Session) Control() <-chan ControlMessage { return s.in }

// SendToken sends a fresh bearer token on the control stream and waits for the gateway's
// answer. A refusal is an error matching ErrTokenRejected; the gateway may then end the
// session when the old token expires.
func (s *Session) SendToken(ctx context.Context, token string) error {
	select {
	case s.tokenSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("tunnel: send token: %w", ctx.Err())
	}
	defer func() { <-s.tokenSem }()

	answer := make(chan ControlMessage, 1)
	s.waitMu.Lock()
	s.waiter = answer
	s.waitMu.Unlock()
	defer func() {
		s.waitMu.Lock()
		s.waiter = nil
		s.waitMu.Unlock()
	}()

	if err := s.send(ControlMessage{Type: ControlToken, Token: token}); err != nil {
		return fmt.Errorf("tunnel: send token: %w", err)
	}
	select {
	case m := <-answer:
		if m.Type == ControlTokenRejected {
			reason := m.Error
			if reason == "" {
				reason = "no reason given"
			}
			return fmt.Errorf("tunnel: send token: %w: %s", ErrTokenRejected, reason)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("tunnel: send token: %w", ctx.Err())
	case <-s.done:
		return fmt.Errorf("tunnel: send token: %w", s.errOrClosed())
	}
}

// Done is closed when the session has ended; Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended: a *CloseError with the gateway's reason if it sent one,
// ErrSessionClosed after Close, ErrDisconnected if the gateway or the network went away
// without a reason. It is nil while the session runs.
func (s *Session) Err() error { return s.core.Err() }

// Close ends the session and all its streams.
func (s *Session) Close() error {
	s.shutdown(ErrSessionClosed)
	return nil
}
