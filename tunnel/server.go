package tunnel

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// ServerSession is the gateway side of a tunnel. It accepts the streams the client opens,
// reads and checks their header frames, and consumes the control stream. All methods are
// safe for concurrent use.
type ServerSession struct {
	*core
	streams chan *Stream // streams with a valid header, waiting for Accept
	hasCtrl atomic.Bool  // a control stream was claimed
}

// Accept upgrades an HTTP request to a tunnel and starts the yamux server on it. It only
// upgrades: the caller authenticates the request and authorises the connection first, and
// refuses with its own api.Error answer. After Accept the session lives on its own; it is
// not tied to r's context, and the handler may return.
//
// On failure Accept has already written an HTTP error answer.
func Accept(w http.ResponseWriter, r *http.Request, cfg *Config) (*ServerSession, error) {
	cfg = cfg.withDefaults()
	up := websocket.Upgrader{ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10, HandshakeTimeout: 30 * time.Second,
		CheckOrigin: func(r *http.Request) bool { return checkOrigin(r, cfg.OriginPatterns) }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("tunnel accept: %w", err)
	}
	c, err := newCore(ws, cfg, false)
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("tunnel accept: %w", err)
	}
	s := &ServerSession{core: c, streams: make(chan *Stream, cfg.AcceptBacklog)}
	go s.acceptLoop()
	// The client opens the control stream first, at once; a session without one can
	// never be told why it ends, so it does not get to live.
	timer := time.AfterFunc(cfg.HeaderTimeout, func() {
		if !s.hasCtrl.Load() {
			s.shutdown(fmt.Errorf("tunnel: no control stream within %v", cfg.HeaderTimeout))
		}
	})
	go func() {
		<-s.done
		timer.Stop()
	}()
	return s, nil
}

// acceptLoop accepts yamux streams and reads each header in its own goroutine, so a slow
// stream never delays another. At most AcceptBacklog headers are read at once.
func (s *ServerSession) acceptLoop() {
	pending := make(chan struct{}, s.cfg.AcceptBacklog)
	for {
		st, err := s.mux.AcceptStream()
		if err != nil {
			s.shutdown(ErrDisconnected)
			return
		}
		select {
		case pending <- struct{}{}:
		case <-s.done:
			_ = st.Close()
			return
		}
		go func() {
			defer func() { <-pending }()
			s.handshake(st)
		}()
	}
}

// handshake reads one stream's header and routes the stream: the control stream to the
// control reader, a valid stream to Accept, an invalid one back with an error reply.
func (s *ServerSession) handshake(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(s.cfg.HeaderTimeout))
	h, err := readHeader(conn)
	_ = conn.SetReadDeadline(time.Time{})
	st := &Stream{conn: conn, header: h, timeout: s.cfg.HeaderTimeout}
	if err != nil {
		s.log.Printf("refused stream: %v", err)
		_ = st.Reject(CodeBadHeader, err.Error())
		return
	}
	if h.Kind == KindControl {
		if !s.hasCtrl.CompareAndSwap(false, true) {
			_ = st.Reject(CodeBadHeader, badHeader(nil, "a session has exactly one control stream").Error())
			return
		}
		if err := st.Accept(); err != nil {
			s.shutdown(fmt.Errorf("tunnel: control stream: %w", err))
			return
		}
		s.setCtrl(conn)
		go s.readControl(conn, s.deliver)
		return
	}
	if !s.hasCtrl.Load() {
		_ = st.Reject(CodeBadHeader, badHeader(nil, "the control stream must be opened first").Error())
		return
	}
	select {
	case s.streams <- st:
	case <-s.done:
		_ = conn.Close()
	}
}

// Accept returns the next stream the client opened with a valid header, other than the
// control stream. The caller checks st.Header() (the connection it names must be one the
// tunnel's identity may reach) and answers with st.Accept or st.Reject.
func (s *ServerSession) Accept(ctx context.Context) (*Stream, error) {
	select {
	case st := <-s.streams:
		return st, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("tunnel: accept stream: %w", ctx.Err())
	case <-s.done:
		return nil, fmt.Errorf("tunnel: accept stream: %w", s.errOrClosed())
	}
}

// Control returns the messages the client sends (token refreshes). The channel is never
// closed; select on Done too. When it is full, new messages are dropped and logged.
func (s *ServerSession) Control() <-chan ControlMessage { return s.in }

// Send writes a message to the client on the control stream.
func (s *ServerSession) Send(m ControlMessage) error {
	if err := s.send(m); err != nil {
		return fmt.Errorf("tunnel: send %s: %w", m.Type, err)
	}
	return nil
}

// CloseWithReason tells the client why the session ends ("token expired"), then closes
// it. The client's Err becomes a *CloseError with reason.
func (s *ServerSession) CloseWithReason(reason string) error {
	err := s.Send(ControlMessage{Type: ControlClose, Reason: reason})
	s.shutdown(&CloseError{Reason: reason})
	return err
}

// Close ends the session and all its streams without a reason.
func (s *ServerSession) Close() error {
	s.shutdown(ErrSessionClosed)
	return nil
}

// Done is closed when the session has ended; Err then says why.
func (s *ServerSession) Done() <-chan struct{} { return s.done }

// Err says why the session ended: ErrSessionClosed after Close, a *CloseError after
// CloseWithReason, ErrDisconnected when the client or the network went away, or a
// protocol error. It is nil while the session runs.
func (s *ServerSession) Err() error { return s.core.Err() }

// RemoteAddr is the address the WebSocket connection came from.
func (s *ServerSession) RemoteAddr() net.Addr { return s.mux.RemoteAddr() }

// Stream is one stream a client opened, seen by the gateway. Until Accept it carries no
// data: Read and Write fail with ErrNotAccepted.
type Stream struct {
	conn    net.Conn
	header  Header
	timeout time.Duration // bounds writing the reply

	mu       sync.Mutex // serialises the reply
	replied  bool
	accepted atomic.Bool
}

// Header returns the stream's validated header frame.
func (st *Stream) Header() Header { return st.header }

// Accept writes the ok reply; from then on the stream carries raw protocol bytes.
func (st *Stream) Accept() error {
	if err := st.reply(reply{OK: true}); err != nil {
		return fmt.Errorf("tunnel: accept stream: %w", err)
	}
	st.accepted.Store(true)
	return nil
}

// Reject writes an error reply with code ("forbidden") and message (what a person reads:
// "no rule grants you access to connection db-prod"), then closes the stream.
func (st *Stream) Reject(code, message string) error {
	err := st.reply(reply{OK: false, Code: code, Error: message})
	if err == ErrReplied {
		return fmt.Errorf("tunnel: reject stream: %w", err)
	}
	cerr := st.conn.Close()
	if err != nil {
		return fmt.Errorf("tunnel: reject stream: %w", err)
	}
	return cerr
}

func (st *Stream) reply(r reply) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.replied {
		return ErrReplied
	}
	st.replied = true
	_ = st.conn.SetWriteDeadline(time.Now().Add(st.timeout))
	defer st.conn.SetWriteDeadline(time.Time{})
	return writeJSONFrame(st.conn, r, MaxHeaderFrame)
}

// Read reads raw protocol bytes from the client.
func (st *Stream) Read(b []byte) (int, error) {
	if !st.accepted.Load() {
		return 0, ErrNotAccepted
	}
	return st.conn.Read(b)
}

// Write writes raw protocol bytes to the client.
func (st *Stream) Write(b []byte) (int, error) {
	if !st.accepted.Load() {
		return 0, ErrNotAccepted
	}
	return st.conn.Write(b)
}

// Close closes the stream; the client reads EOF.
func (st *Stream) Close() error { return st.conn.Close() }

// LocalAddr is the gateway's end of the WebSocket connection.
func (st *Stream) LocalAddr() net.Addr { return st.conn.LocalAddr() }

// RemoteAddr is the client's end of the WebSocket connection; Header().ClientAddr is the
// local database client behind the stream.
func (st *Stream) RemoteAddr() net.Addr { return st.conn.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (st *Stream) SetDeadline(t time.Time) error { return st.conn.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (st *Stream) SetReadDeadline(t time.Time) error { return st.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (st *Stream) SetWriteDeadline(t time.Time) error { return st.conn.SetWriteDeadline(t) }

var _ net.Conn = (*Stream)(nil)

// checkOrigin allows requests without an Origin (the CLI), from the gateway's own host,
// and from hosts matching one of patterns (path.Match syntax).
func checkOrigin(r *http.Request, patterns []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(u.Host)); ok {
			return true
		}
	}
	return false
}
