package tunnel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"

	"github.com/hoopgw/hoop/api"
)

// wait bounds every wait in these tests; it is a hang guard, never a timing assertion.
const wait = 10 * time.Second

const goodToken = "good-token"

// gateway is a test gateway: an httptest server on 127.0.0.1 whose handler refuses bad
// tokens and the connection "forbidden-db" before upgrading, like hoopd's.
type gateway struct {
	srv      *httptest.Server
	sessions chan *ServerSession
}

func newGateway(t testing.TB, cfg *Config) *gateway {
	t.Helper()
	g := &gateway{sessions: make(chan *ServerSession, 16)}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve(t, cfg)))
	g.srv.Start()
	t.Cleanup(g.srv.Close)
	return g
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Error{Error: msg, Code: code})
}

func (g *gateway) serve(t testing.TB, cfg *Config) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != TunnelPath {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+goodToken {
			writeAPIError(w, http.StatusUnauthorized, api.CodeUnauthenticated, "token expired; run hoop login")
			return
		}
		switch conn := r.URL.Query().Get("connection"); conn {
		case "forbidden-db":
			writeAPIError(w, http.StatusForbidden, api.CodeForbidden, "no rule grants you access to connection forbidden-db")
			return
		case "plain-error":
			http.Error(w, "upstream broke", http.StatusBadGateway)
			return
		}
		s, err := Accept(w, r, cfg)
		if err != nil {
			t.Errorf("accept: %v", err)
			return
		}
		t.Cleanup(func() { _ = s.Close() })
		g.sessions <- s
	}
}

// dial opens a client session to connection and returns both ends.
func (g *gateway) dial(t testing.TB, connection string, cfg *Config) (*Session, *ServerSession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Dial(ctx, g.srv.URL, goodToken, connection, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	select {
	case s := <-g.sessions:
		return c, s
	case <-ctx.Done():
		t.Fatal("gateway never got the session")
		return nil, nil
	}
}

// serveEcho accepts every stream on s and echoes it, recording the headers it saw.
func serveEcho(s *ServerSession) <-chan Header {
	headers := make(chan Header, 64)
	go func() {
		for {
			st, err := s.Accept(context.Background())
			if err != nil {
				return
			}
			headers <- st.Header()
			go func() {
				defer st.Close()
				if err := st.Accept(); err != nil {
					return
				}
				_, _ = io.Copy(st, st)
			}()
		}
	}()
	return headers
}

func waitClosed(t *testing.T, what string, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wait):
		t.Fatalf("%s: still open after %v", what, wait)
	}
}

// echoCheck sends data through conn and checks it comes back unchanged.
func echoCheck(conn net.Conn, data []byte) error {
	errc := make(chan error, 1)
	go func() {
		_, err := conn.Write(data)
		if err == nil {
			err = conn.Close() // half-close: the echo server sees EOF
		}
		errc <- err
	}()
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	got, err := io.ReadAll(conn)
	if err != nil {
		return fmt.Errorf("read echo: %w", err)
	}
	if err := <-errc; err != nil {
		return fmt.Errorf("write: %w", err)
	}
	if !bytes.Equal(got, data) {
		return fmt.Errorf("echo of %d bytes came back as %d different bytes", len(data), len(got))
	}
	return nil
}

func TestConcurrentStreamsRoundTrip(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", nil)
	headers := serveEcho(s)

	const streams = 16
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := range streams {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			addr := fmt.Sprintf("127.0.0.1:%d", 50000+i)
			conn, err := c.Open(ctx, Header{Kind: KindPostgres, ClientAddr: addr})
			if err != nil {
				errs <- fmt.Errorf("stream %d: open: %w", i, err)
				return
			}
			data := make([]byte, 128<<10+i*1000) // sizes differ so mixed-up streams show
			r := rand.New(rand.NewPCG(uint64(i), 1))
			for j := range data {
				data[j] = byte(r.Uint32())
			}
			if err := echoCheck(conn, data); err != nil {
				errs <- fmt.Errorf("stream %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	seen := map[string]bool{}
	for range streams {
		h := <-headers
		if h.Kind != KindPostgres || h.Connection != "db-prod" {
			t.Errorf("got header %+v, want kind %q and connection %q (from Dial)", h, KindPostgres, "db-prod")
		}
		seen[h.ClientAddr] = true
	}
	if len(seen) != streams {
		t.Errorf("got %d distinct client_addr values, want %d", len(seen), streams)
	}
}

func TestDialRefusedBeforeUpgrade(t *testing.T) {
	g := newGateway(t, nil)
	tests := []struct {
		name, token, connection string
		want                    HTTPError
	}{
		{
			name: "bad token", token: "stale", connection: "db-prod",
			want: HTTPError{StatusCode: 401, Code: api.CodeUnauthenticated, Message: "token expired; run hoop login"},
		},
		{
			name: "forbidden connection", token: goodToken, connection: "forbidden-db",
			want: HTTPError{StatusCode: 403, Code: api.CodeForbidden, Message: "no rule grants you access to connection forbidden-db"},
		},
		{
			name: "body not an api.Error", token: goodToken, connection: "plain-error",
			want: HTTPError{StatusCode: 502, Message: "Bad Gateway"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			s, err := Dial(ctx, g.srv.URL, tt.token, tt.connection, nil)
			if err == nil {
				s.Close()
				t.Fatal("dial succeeded, want an *HTTPError")
			}
			var he *HTTPError
			if !errors.As(err, &he) {
				t.Fatalf("got error %v (%T), want an *HTTPError", err, err)
			}
			if *he != tt.want {
				t.Errorf("got %+v, want %+v", *he, tt.want)
			}
		})
	}
}

func TestDialBadURL(t *testing.T) {
	tests := []string{"ftp://gw.example.com", "://nope"}
	for _, u := range tests {
		_, err := Dial(context.Background(), u, goodToken, "db-prod", nil)
		if err == nil {
			t.Errorf("dial %q: got no error, want one", u)
		}
	}
}

func TestDialUnderPathPrefixAndTLS(t *testing.T) {
	var g gateway
	g.sessions = make(chan *ServerSession, 1)
	mux := http.NewServeMux()
	mux.Handle("/hoop/", http.StripPrefix("/hoop", g.serve(t, nil)))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true // the upgrade must still go over HTTP/1.1
	srv.StartTLS()
	t.Cleanup(srv.Close)
	g.srv = srv

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	c, err := Dial(ctx, srv.URL+"/hoop/", goodToken, "db-prod", &Config{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	s := <-g.sessions
	serveEcho(s)
	conn, err := c.Open(ctx, Header{Kind: KindPostgres})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	if err := echoCheck(conn, []byte("SELECT 1")); err != nil {
		t.Error(err)
	}
}

// rawStream opens a yamux stream on c without the header handshake, to send anything.
func rawStream(t *testing.T, c *Session) *yamux.Stream {
	t.Helper()
	st, err := c.mux.OpenStream()
	if err != nil {
		t.Fatalf("open raw stream: %v", err)
	}
	_ = st.SetDeadline(time.Now().Add(wait))
	return st
}

func TestBadHeaderFramesAnsweredAndIsolated(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", nil)
	serveEcho(s)

	// A good stream opened before the bad ones must survive them too.
	before, err := c.Open(context.Background(), Header{Kind: KindPostgres})
	if err != nil {
		t.Fatalf("open: %v", err)
	}

	tests := []struct {
		name string
		send []byte
		want string
	}{
		{"garbage", []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), "stream header: frame of 369295618 bytes exceeds the 8192-byte limit"},
		{"oversized", append(prefix(1<<20), bytes.Repeat([]byte("A"), 64<<10)...), "stream header: frame of 1048576 bytes exceeds the 8192-byte limit"},
		{"zero length", prefix(0), "stream header: empty frame"},
		{"bad JSON", frame(`{"kind":"postgres",`), "stream header: invalid JSON: unexpected EOF"},
		{"unknown field", frame(`{"kind":"postgres","connection":"db-prod","role":"admin"}`), `stream header: unknown field "role"`},
		{"unknown kind", frame(`{"kind":"ssh","connection":"db-prod"}`), `stream header: unknown kind "ssh"`},
		{"missing connection", frame(`{"kind":"postgres"}`), `stream header: missing connection for kind "postgres"`},
		{"second control stream", frame(`{"kind":"control"}`), "stream header: a session has exactly one control stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := rawStream(t, c)
			defer st.Close()
			if _, err := st.Write(tt.send); err != nil {
				t.Fatalf("write: %v", err)
			}
			rep, err := readReply(st)
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if rep.OK || rep.Code != CodeBadHeader || rep.Error != tt.want {
				t.Errorf("got reply %+v, want error %q with code %q", rep, tt.want, CodeBadHeader)
			}
			if n, err := st.Read(make([]byte, 1)); err != io.EOF {
				t.Errorf("after the error reply got read (%d, %v), want EOF: the acceptor closes the stream", n, err)
			}
		})
	}

	if err := echoCheck(before, []byte("still here")); err != nil {
		t.Errorf("stream opened before the bad ones: %v", err)
	}
	after, err := c.Open(context.Background(), Header{Kind: KindPostgres})
	if err != nil {
		t.Fatalf("open after bad streams: %v", err)
	}
	if err := echoCheck(after, []byte("SELECT 1")); err != nil {
		t.Errorf("stream opened after the bad ones: %v", err)
	}
	if c.Err() != nil || s.Err() != nil {
		t.Errorf("got session errors %v / %v, want both sessions running", c.Err(), s.Err())
	}
}

func TestSilentStreamTimesOut(t *testing.T) {
	cfg := &Config{HeaderTimeout: 200 * time.Millisecond}
	g := newGateway(t, cfg)
	c, s := g.dial(t, "db-prod", nil)
	serveEcho(s)

	st := rawStream(t, c)
	defer st.Close()
	if _, err := st.Write([]byte{0, 0}); err != nil { // half a length prefix, then nothing
		t.Fatalf("write: %v", err)
	}
	rep, err := readReply(st)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	want := "stream header: read frame length: i/o deadline reached"
	if rep.OK || rep.Error != want {
		t.Errorf("got reply %+v, want error %q", rep, want)
	}
	conn, err := c.Open(context.Background(), Header{Kind: KindPostgres})
	if err != nil {
		t.Fatalf("open after a silent stream: %v", err)
	}
	if err := echoCheck(conn, []byte("x")); err != nil {
		t.Error(err)
	}
}

func TestGatewayRejectsStream(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", nil)
	go func() {
		st, err := s.Accept(context.Background())
		if err != nil {
			return
		}
		_ = st.Reject(api.CodeForbidden, "no rule grants you access to connection db-other")
	}()
	_, err := c.Open(context.Background(), Header{Kind: KindPostgres, Connection: "db-other"})
	var se *StreamError
	if !errors.As(err, &se) {
		t.Fatalf("got error %v, want a *StreamError", err)
	}
	want := StreamError{Code: api.CodeForbidden, Message: "no rule grants you access to connection db-other"}
	if *se != want {
		t.Errorf("got %+v, want %+v", *se, want)
	}
}

func TestStreamReplyOnce(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", nil)
	got := make(chan *Stream, 1)
	go func() {
		st, err := s.Accept(context.Background())
		if err == nil {
			got <- st
		}
	}()
	opened := make(chan error, 1)
	go func() {
		conn, err := c.Open(context.Background(), Header{Kind: KindPostgres})
		if err == nil {
			conn.Close()
		}
		opened <- err
	}()
	var st *Stream
	select {
	case st = <-got:
	case <-time.After(wait):
		t.Fatal("no stream accepted")
	}
	if _, err := st.Write([]byte("x")); !errors.Is(err, ErrNotAccepted) {
		t.Errorf("write before Accept: got %v, want ErrNotAccepted", err)
	}
	if _, err := st.Read(make([]byte, 1)); !errors.Is(err, ErrNotAccepted) {
		t.Errorf("read before Accept: got %v, want ErrNotAccepted", err)
	}
	if err := st.Accept(); err != nil {
		t.Fatalf("accept: %v", err)
	}
	if err := st.Accept(); !errors.Is(err, ErrReplied) {
		t.Errorf("second Accept: got %v, want ErrReplied", err)
	}
	if err := st.Reject("x", "y"); !errors.Is(err, ErrReplied) {
		t.Errorf("Reject after Accept: got %v, want ErrReplied", err)
	}
	if err := <-opened; err != nil {
		t.Errorf("open: %v", err)
	}
}

func TestOpenRefusedLocally(t *testing.T) {
	g := newGateway(t, nil)
	c, _ := g.dial(t, "", nil) // no default connection

	if _, err := c.Open(context.Background(), Header{Kind: KindControl}); !errors.Is(err, ErrBadHeader) {
		t.Errorf("open control: got %v, want ErrBadHeader", err)
	}
	if _, err := c.Open(context.Background(), Header{Kind: KindPostgres}); !errors.Is(err, ErrBadHeader) {
		t.Errorf("open postgres without connection: got %v, want ErrBadHeader", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Open(ctx, Header{Kind: KindPostgres, Connection: "db-prod"}); !errors.Is(err, context.Canceled) {
		t.Errorf("open with a cancelled context: got %v, want context.Canceled", err)
	}
	c.Close()
	if _, err := c.Open(context.Background(), Header{Kind: KindPostgres, Connection: "db-prod"}); !errors.Is(err, ErrSessionClosed) {
		t.Errorf("open after Close: got %v, want ErrSessionClosed", err)
	}
}

func TestControlMessagesBothWays(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", nil)

	// gateway → client: a notice.
	notice := ControlMessage{Type: ControlNotice, Level: LevelWarning, Text: "statement held for review r-17"}
	if err := s.Send(notice); err != nil {
		t.Fatalf("send notice: %v", err)
	}
	select {
	case got := <-c.Control():
		if got != notice {
			t.Errorf("got %+v, want %+v", got, notice)
		}
	case <-time.After(wait):
		t.Fatal("notice never arrived")
	}

	// client → gateway: token refreshes, answered by a fake verifier.
	expires := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	go func() {
		for m := range s.Control() {
			if m.Type != ControlToken {
				continue
			}
			if m.Token == "fresh" {
				_ = s.Send(ControlMessage{Type: ControlTokenOK, ExpiresAt: expires})
			} else {
				_ = s.Send(ControlMessage{Type: ControlTokenRejected, Error: "signature invalid"})
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if err := c.SendToken(ctx, "fresh"); err != nil {
		t.Errorf("send good token: %v", err)
	}
	err := c.SendToken(ctx, "forged")
	if !errors.Is(err, ErrTokenRejected) {
		t.Errorf("send bad token: got %v, want ErrTokenRejected", err)
	}
	if want := "tunnel: send token: token rejected: signature invalid"; err == nil || err.Error() != want {
		t.Errorf("got error %q, want %q", err, want)
	}

	// gateway ends the session with a reason.
	if err := s.CloseWithReason("token expired"); err != nil {
		t.Errorf("close with reason: %v", err)
	}
	waitClosed(t, "client session", c.Done())
	var ce *CloseError
	if !errors.As(c.Err(), &ce) || ce.Reason != "token expired" {
		t.Errorf("got client Err %v, want a *CloseError with reason %q", c.Err(), "token expired")
	}
	select {
	case m := <-c.Control():
		if m.Type != ControlClose || m.Reason != "token expired" {
			t.Errorf("got %+v, want the close message", m)
		}
	default:
		t.Error("the close message was not delivered on Control()")
	}
	if err := c.SendToken(ctx, "fresh"); err == nil {
		t.Error("SendToken after the end: got no error")
	}
}

func TestUndrainedControlStillCarriesCloseReason(t *testing.T) {
	g := newGateway(t, nil)
	c, s := g.dial(t, "db-prod", &Config{ControlBacklog: 1})
	for i := range 5 { // nobody reads c.Control(): all but one are dropped
		if err := s.Send(ControlMessage{Type: ControlNotice, Level: LevelInfo, Text: fmt.Sprint(i)}); err != nil {
			t.Fatalf("send notice %d: %v", i, err)
		}
	}
	if err := s.CloseWithReason("revoked by admin"); err != nil {
		t.Fatalf("close with reason: %v", err)
	}
	waitClosed(t, "client session", c.Done())
	var ce *CloseError
	if !errors.As(c.Err(), &ce) || ce.Reason != "revoked by admin" {
		t.Errorf("got client Err %v, want a *CloseError with reason %q", c.Err(), "revoked by admin")
	}
	if want := "tunnel: closed by the gateway: revoked by admin"; c.Err().Error() != want {
		t.Errorf("got %q, want %q", c.Err(), want)
	}
}

func TestServerRemoteAddr(t *testing.T) {
	g := newGateway(t, nil)
	_, s := g.dial(t, "db-prod", nil)
	host, _, err := net.SplitHostPort(s.RemoteAddr().String())
	if err != nil || host != "127.0.0.1" {
		t.Errorf("got remote address %v, want 127.0.0.1:port", s.RemoteAddr())
	}
}

func TestSessionEnds(t *testing.T) {
	t.Run("gateway closes without a reason", func(t *testing.T) {
		g := newGateway(t, nil)
		c, s := g.dial(t, "db-prod", nil)
		s.Close()
		waitClosed(t, "client session", c.Done())
		if !errors.Is(c.Err(), ErrDisconnected) {
			t.Errorf("got client Err %v, want ErrDisconnected", c.Err())
		}
		if !errors.Is(s.Err(), ErrSessionClosed) {
			t.Errorf("got gateway Err %v, want ErrSessionClosed", s.Err())
		}
	})
	t.Run("client closes", func(t *testing.T) {
		g := newGateway(t, nil)
		c, s := g.dial(t, "db-prod", nil)
		if c.Err() != nil {
			t.Errorf("got Err %v on a live session, want nil", c.Err())
		}
		c.Close()
		waitClosed(t, "gateway session", s.Done())
		if !errors.Is(s.Err(), ErrDisconnected) {
			t.Errorf("got gateway Err %v, want ErrDisconnected", s.Err())
		}
		if _, err := s.Accept(context.Background()); !errors.Is(err, ErrDisconnected) {
			t.Errorf("accept after the end: got %v, want ErrDisconnected", err)
		}
		if !errors.Is(c.Err(), ErrSessionClosed) {
			t.Errorf("got client Err %v, want ErrSessionClosed", c.Err())
		}
	})
	t.Run("network cut", func(t *testing.T) {
		g := newGateway(t, nil)
		p := newProxy(t, g.srv.Listener.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		c, err := Dial(ctx, "http://"+p.addr(), goodToken, "db-prod", nil)
		if err != nil {
			t.Fatalf("dial: %v", err)
		}
		defer c.Close()
		s := <-g.sessions
		p.cut()
		waitClosed(t, "client session", c.Done())
		waitClosed(t, "gateway session", s.Done())
		if !errors.Is(c.Err(), ErrDisconnected) {
			t.Errorf("got client Err %v, want ErrDisconnected", c.Err())
		}
	})
}

// proxy forwards one TCP connection to target until cut.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	t.Cleanup(p.cut)
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				in.Close()
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, in, out)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

// rawClient upgrades to a WebSocket and runs a bare yamux client, skipping Dial's control
// stream, to test what the gateway does with a client that breaks the rules.
func rawClient(t *testing.T, g *gateway) (*yamux.Session, *ServerSession) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws"+strings.TrimPrefix(g.srv.URL, "http")+TunnelPath+"?connection=db-prod",
		http.Header{"Authorization": {"Bearer " + goodToken}})
	if err != nil {
		t.Fatalf("websocket dial: %v", err)
	}
	cfg := DefaultConfig().withDefaults()
	mux, err := yamux.Client(newWSConn(ws, cfg.readLimit()), cfg.yamux())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mux.Close() })
	return mux, <-g.sessions
}

func TestControlStreamRequiredFirst(t *testing.T) {
	g := newGateway(t, &Config{HeaderTimeout: 300 * time.Millisecond})
	mux, s := rawClient(t, g)

	st, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = st.SetDeadline(time.Now().Add(wait))
	if err := WriteFrame(st, []byte(`{"kind":"postgres","connection":"db-prod"}`)); err != nil {
		t.Fatal(err)
	}
	rep, err := readReply(st)
	if err != nil {
		t.Fatalf("read reply: %v", err)
	}
	want := "stream header: the control stream must be opened first"
	if rep.OK || rep.Error != want {
		t.Errorf("got reply %+v, want error %q", rep, want)
	}

	// With no control stream at all, the gateway ends the session after HeaderTimeout.
	waitClosed(t, "gateway session without a control stream", s.Done())
	if s.Err() == nil {
		t.Error("got nil Err after the session ended")
	}
}

func TestMalformedControlFrameEndsSession(t *testing.T) {
	g := newGateway(t, nil)
	mux, s := rawClient(t, g)
	ctrl, err := mux.OpenStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = ctrl.SetDeadline(time.Now().Add(wait))
	if err := WriteFrame(ctrl, []byte(`{"kind":"control"}`)); err != nil {
		t.Fatal(err)
	}
	if rep, err := readReply(ctrl); err != nil || !rep.OK {
		t.Fatalf("control stream: got reply %+v, %v; want ok", rep, err)
	}
	// The gateway may end the session before yamux reports the write done.
	if _, err := ctrl.Write(prefix(MaxControlFrame + 1)); err != nil && !errors.Is(err, yamux.ErrSessionShutdown) {
		t.Fatal(err)
	}
	waitClosed(t, "gateway session", s.Done())
	if !errors.Is(s.Err(), ErrBadControl) || !errors.Is(s.Err(), ErrFrameTooLarge) {
		t.Errorf("got Err %v, want ErrBadControl and ErrFrameTooLarge", s.Err())
	}
}

func TestConfigDefaults(t *testing.T) {
	got := (&Config{StreamWindow: 1, HeaderTimeout: time.Second}).withDefaults()
	if got.StreamWindow != minStreamWindow {
		t.Errorf("got StreamWindow %d, want the minimum %d", got.StreamWindow, minStreamWindow)
	}
	if got.HeaderTimeout != time.Second {
		t.Errorf("got HeaderTimeout %v, want the value set, %v", got.HeaderTimeout, time.Second)
	}
	if got.KeepAliveInterval != DefaultKeepAliveInterval {
		t.Errorf("got KeepAliveInterval %v, want default %v", got.KeepAliveInterval, DefaultKeepAliveInterval)
	}
	if err := yamux.VerifyConfig((*Config)(nil).withDefaults().yamux()); err != nil {
		t.Errorf("default yamux config: %v", err)
	}
	if got, want := (*Config)(nil).withDefaults().readLimit(), int64(DefaultStreamWindow+readLimitSlack); got != want {
		t.Errorf("got read limit %d, want %d", got, want)
	}
}
