package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/tunnel"
)

// TokenSource returns the current bearer token and when it expires, refreshing it when it
// can. Each call may return a newer token.
type TokenSource func(ctx context.Context) (token string, expiry time.Time, err error)

// ConnectOptions configure Connect.
type ConnectOptions struct {
	Gateway    string      // "http://127.0.0.1:8443"
	Connection string      // "db-prod"
	Addr       string      // local listen address; default "127.0.0.1:0"
	Token      TokenSource //
	Tunnel     *tunnel.Config
	// Status receives progress and notices (the CLI's stderr).
	Status io.Writer
	// Ready is called once the local port listens, with its address. The CLI prints the
	// connection string from it.
	Ready func(addr *net.TCPAddr)
	// MaxBackoff caps the wait between reconnection attempts; default 30s.
	MaxBackoff time.Duration
}

// Connect opens a tunnel for one connection and serves a local port through it until ctx
// is done. If the gateway goes away it reconnects with backoff; meanwhile local clients get
// a PostgreSQL error that says so. It returns an error only when the tunnel cannot be
// opened at first, or when the gateway refuses the identity (token rejected, access
// revoked): retrying would not help then.
func Connect(ctx context.Context, opts ConnectOptions) error {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 30 * time.Second
	}
	if opts.Status == nil {
		opts.Status = io.Discard
	}
	c := &connector{opts: opts}
	sess, err := c.dial(ctx)
	if err != nil {
		return err
	}
	c.sess.Store(sess)

	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		sess.Close()
		return fmt.Errorf("listen %s: %w", opts.Addr, err)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.maintain(ctx, cancel, sess)
	}()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	if opts.Ready != nil {
		opts.Ready(ln.Addr().(*net.TCPAddr))
	}
	for {
		conn, err := ln.Accept()
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.serve(ctx, conn)
		}()
	}
	cancel(nil)
	if s := c.sess.Load(); s != nil {
		s.Close()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

type connector struct {
	opts ConnectOptions
	sess atomic.Pointer[tunnel.Session] // nil while reconnecting
	down atomic.Value                   // string: why the tunnel is down
	try  atomic.Int32                   // reconnection attempt
}

func (c *connector) dial(ctx context.Context) (*tunnel.Session, error) {
	tok, _, err := c.opts.Token(ctx)
	if err != nil {
		return nil, err
	}
	return tunnel.Dial(ctx, c.opts.Gateway, tok, c.opts.Connection, c.opts.Tunnel)
}

func (c *connector) printf(format string, args ...any) {
	fmt.Fprintf(c.opts.Status, "hoop: "+format+"\n", args...)
}

// maintain watches the session: it shows the gateway's notices, sends fresh tokens before
// the old one expires, and reconnects when the session ends.
func (c *connector) maintain(ctx context.Context, stop context.CancelCauseFunc, sess *tunnel.Session) {
	for {
		c.watch(ctx, sess)
		if ctx.Err() != nil {
			return
		}
		why := "the tunnel to the gateway is down"
		if err := sess.Err(); err != nil {
			var ce *tunnel.CloseError
			if errors.As(err, &ce) {
				why = "the gateway closed the tunnel: " + ce.Reason
			} else {
				why = "lost the tunnel to the gateway"
			}
		}
		c.sess.Store(nil)
		c.down.Store(why)
		c.printf("%s; reconnecting", why)
		var err error
		sess, err = c.reconnect(ctx)
		if err != nil {
			stop(err)
			return
		}
		c.sess.Store(sess)
		c.printf("reconnected to %s", c.opts.Gateway)
	}
}

// watch returns when sess ends or ctx is done.
func (c *connector) watch(ctx context.Context, sess *tunnel.Session) {
	_, expiry, _ := c.opts.Token(ctx)
	refresh := time.NewTimer(refreshIn(expiry))
	defer refresh.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sess.Done():
			return
		case m := <-sess.Control():
			switch m.Type {
			case tunnel.ControlNotice:
				level := m.Level
				if level == "" {
					level = tunnel.LevelInfo
				}
				c.printf("%s: %s", level, m.Text)
			}
		case <-refresh.C:
			tok, exp, err := c.opts.Token(ctx)
			if err == nil {
				err = sess.SendToken(ctx, tok)
			}
			if err != nil {
				c.printf("warning: could not refresh the tunnel's token: %v", err)
				refresh.Reset(time.Minute)
				continue
			}
			refresh.Reset(refreshIn(exp))
		}
	}
}

// refreshIn is when to send a fresh token: a minute before expiry, at least 10s from now.
func refreshIn(expiry time.Time) time.Duration {
	if expiry.IsZero() {
		return 24 * time.Hour
	}
	return max(time.Until(expiry)-time.Minute, 10*time.Second)
}

// reconnect dials until it succeeds, with exponential backoff. A refusal of the identity
// (401, 403, 404) ends it: retrying would not help.
func (c *connector) reconnect(ctx context.Context) (*tunnel.Session, error) {
	backoff := time.Second
	for attempt := 1; ; attempt++ {
		c.try.Store(int32(attempt))
		sess, err := c.dial(ctx)
		if err == nil {
			return sess, nil
		}
		var he *tunnel.HTTPError
		if errors.As(err, &he) && he.StatusCode >= 400 && he.StatusCode < 500 {
			c.printf("the gateway refused to reconnect: %s", he.Message)
			return nil, err
		}
		c.down.Store(fmt.Sprintf("the tunnel to the gateway is down (%v)", err))
		c.printf("reconnect attempt %d failed: %v; next in %s", attempt, err, backoff)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

// serve carries one local client over its own stream.
func (c *connector) serve(ctx context.Context, local net.Conn) {
	defer local.Close()
	sess := c.sess.Load()
	if sess == nil {
		why, _ := c.down.Load().(string)
		refuse(local, fmt.Sprintf("hoop: %s; reconnecting (attempt %d), try again shortly", why, c.try.Load()))
		return
	}
	octx, cancel := context.WithTimeout(ctx, 15*time.Second)
	stream, err := sess.Open(octx, tunnel.Header{Kind: tunnel.KindPostgres, Connection: c.opts.Connection, ClientAddr: local.RemoteAddr().String()})
	cancel()
	if err != nil {
		c.printf("could not open a stream for %s: %v", local.RemoteAddr(), err)
		refuse(local, "hoop: could not reach the gateway through the tunnel: "+err.Error())
		return
	}
	defer stream.Close()
	pipe(local, stream)
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(a, b)
	go cp(b, a)
	<-done
	a.Close()
	b.Close()
	<-done
}

// refuse answers a local PostgreSQL client with an error, since it cannot be served: it
// declines TLS and GSS encryption, reads the startup message and sends a FATAL error.
func refuse(conn net.Conn, msg string) {
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	be := pgproto3.NewBackend(conn, conn)
	for range 3 {
		m, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch m.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte{'N'}); err != nil {
				return
			}
		case *pgproto3.StartupMessage:
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: "08006", Message: msg})
			_ = be.Flush()
			return
		default: // CancelRequest: nothing to cancel
			return
		}
	}
}

// ConnString is the libpq URL and keyword string for a local port. The user and database
// names are escaped for each form: a user name is often an e-mail address, whose '@'
// would end a URL's user part ("sub-user@example.com" is written sub-user%40example.com).
func ConnString(addr *net.TCPAddr, user, dbname string) (uri, keywords string) {
	host := addr.IP.String()
	port := strconv.Itoa(addr.Port)
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: net.JoinHostPort(host, port),
		Path: "/" + dbname, RawQuery: "sslmode=disable"}
	keywords = fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", host, port, keywordValue(user), keywordValue(dbname))
	return u.String(), keywords
}

// keywordValue writes a value for libpq's keyword=value form: as it is when it holds
// nothing that needs quoting, else in single quotes with ' and \ escaped.
func keywordValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\n\r'\\=") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
