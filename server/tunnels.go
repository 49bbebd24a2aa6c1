package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/policy"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
	"github.com/hoopgw/hoop/store"
	"github.com/hoopgw/hoop/tunnel"
)

// liveTunnel is one open tunnel: an identity, the connection it was opened for, and the
// yamux session. It lives no longer than its token unless the client sends a fresh one.
type liveTunnel struct {
	id         string
	connection string
	remote     string // the CLI's address as the gateway saw it
	sess       *tunnel.ServerSession

	stop context.CancelCauseFunc // ends the tunnel's database sessions, with the reason

	mu     sync.Mutex
	who    identity.Identity
	expiry *time.Timer
	reason string // why the gateway ended it
}

func (t *liveTunnel) identity() identity.Identity {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.who
}

// end closes the tunnel, telling the client why: the tunnel's handler ends each database
// session first, in its own protocol, then the tunnel itself.
func (t *liveTunnel) end(reason string) {
	t.mu.Lock()
	if t.reason == "" {
		t.reason = reason
	}
	t.mu.Unlock()
	t.stop(errors.New(reason))
}

func (g *Gateway) handleTunnel(w http.ResponseWriter, r *http.Request, id identity.Identity) {
	name := r.URL.Query().Get("connection")
	if name == "" {
		writeError(w, http.StatusBadRequest, api.CodeBadRequest, "missing ?connection=NAME")
		return
	}
	if _, _, err := g.access(id, name); err != nil {
		var ae *apiError
		errors.As(err, &ae)
		g.log.Info("tunnel refused", "user", id.String(), "connection", name, "reason", ae.msg)
		metrics.denials.WithLabelValues("tunnel").Inc()
		g.audit("tunnel.refused", id.String(), name, "", map[string]any{"reason": ae.msg, "source": r.RemoteAddr})
		writeError(w, ae.status, ae.code, ae.msg)
		return
	}
	g.running.Add(1)
	defer g.running.Done()
	sess, err := tunnel.Accept(w, r, g.tcfg)
	if err != nil {
		g.log.Warn("tunnel upgrade", "user", id.String(), "err", err)
		return
	}
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(r.Context()))
	defer cancel(nil)
	t := &liveTunnel{id: newID("t"), connection: name, remote: r.RemoteAddr, sess: sess, who: id, stop: cancel}
	log := g.log.With("tunnel", t.id, "user", id.String(), "connection", name)
	if g.store != nil {
		err := g.store.OpenTunnel(r.Context(), &store.Tunnel{
			ID: t.id, GatewayID: g.gatewayID, Subject: id.Subject, Issuer: id.Issuer, Email: id.Email, Groups: id.Groups,
			Connection: name, RemoteAddr: r.RemoteAddr, StartedAt: time.Now(),
		})
		if err != nil {
			log.Error("tunnel refused: the store cannot record it", "err", err)
			_ = sess.CloseWithReason("the gateway cannot record this tunnel; try again later")
			return
		}
	}
	g.mu.Lock()
	g.tunnels[t.id] = t
	g.mu.Unlock()
	t.mu.Lock()
	t.expiry = time.AfterFunc(time.Until(id.Expiry), func() { t.end("your token expired; run hoop login") })
	t.mu.Unlock()
	// A tunnel that only a just-in-time grant allows ends with the grant.
	if p := g.Policy(); !p.Access(policy.Identity{Subject: id.Subject, Email: id.Email, Groups: id.Groups}, name).Allowed {
		if until, review := g.grants.end(id, name); !until.IsZero() {
			grantEnd := time.AfterFunc(time.Until(until), func() {
				t.end(fmt.Sprintf("your just-in-time access to %s (review %s) ended at %s", name, review, until.UTC().Format(time.RFC3339)))
			})
			defer grantEnd.Stop()
		}
	}
	log.Info("tunnel opened", "remote", r.RemoteAddr, "expires", id.Expiry.UTC().Format(time.RFC3339))
	metrics.tunnels.Inc()
	defer metrics.tunnels.Dec()
	g.audit("tunnel.open", id.String(), name, "", map[string]any{"tunnel": t.id, "source": r.RemoteAddr,
		"groups": nonNil(id.Groups), "issuer": id.Issuer, "expires": id.Expiry.UTC().Format(time.RFC3339)})

	go g.controlLoop(ctx, t)
	var wg sync.WaitGroup
	for {
		st, err := sess.Accept(ctx)
		if err != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			g.serveStream(ctx, t, st)
		}()
	}
	t.mu.Lock()
	t.expiry.Stop()
	reason := t.reason
	t.mu.Unlock()
	ended := reason != "" // by the gateway: tell the client why once the sessions are told
	if !ended {
		reason = "client closed"
		if err := sess.Err(); err != nil && !errors.Is(err, tunnel.ErrSessionClosed) && !errors.Is(err, tunnel.ErrDisconnected) {
			reason = err.Error()
		}
	}
	cancel(errors.New(reason))
	wg.Wait()
	if ended {
		_ = sess.CloseWithReason(reason)
	} else {
		_ = sess.Close()
	}
	g.mu.Lock()
	delete(g.tunnels, t.id)
	g.mu.Unlock()
	if g.store != nil {
		if err := g.store.CloseTunnel(context.Background(), t.id, time.Now(), reason); err != nil {
			log.Error("tunnel close record", "err", err)
		}
	}
	log.Info("tunnel closed", "reason", reason)
	g.audit("tunnel.close", id.String(), name, "", map[string]any{"tunnel": t.id, "reason": reason})
}

// controlLoop handles the client's control messages: token refresh.
func (g *Gateway) controlLoop(ctx context.Context, t *liveTunnel) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.sess.Done():
			return
		case m := <-t.sess.Control():
			if m.Type != tunnel.ControlToken {
				continue
			}
			g.refreshToken(ctx, t, m.Token)
		}
	}
}

func (g *Gateway) refreshToken(ctx context.Context, t *liveTunnel, raw string) {
	reject := func(msg string) {
		_ = t.sess.Send(tunnel.ControlMessage{Type: tunnel.ControlTokenRejected, Error: msg})
	}
	id, err := g.verifier.Verify(ctx, raw)
	if err != nil {
		reject(err.Error())
		return
	}
	old := t.identity()
	if !id.Same(old) {
		reject(fmt.Sprintf("the token is for %s, this tunnel belongs to %s", id, old))
		return
	}
	if _, _, err := g.access(id, t.connection); err != nil {
		reject(err.Error())
		t.end(err.Error())
		return
	}
	t.mu.Lock()
	t.who = id
	t.expiry.Reset(time.Until(id.Expiry))
	t.mu.Unlock()
	_ = t.sess.Send(tunnel.ControlMessage{Type: tunnel.ControlTokenOK, ExpiresAt: id.Expiry})
}

// serveStream checks a stream against the policy in force and hands it to its engine.
func (g *Gateway) serveStream(ctx context.Context, t *liveTunnel, st *tunnel.Stream) {
	h := st.Header()
	if h.Kind != tunnel.KindPostgres {
		st.Reject(api.CodeBadRequest, fmt.Sprintf("stream kind %q is not served by this gateway", h.Kind))
		return
	}
	if err := st.Accept(); err != nil {
		return
	}
	who := t.identity()
	notify := func(level, text string) {
		_ = t.sess.Send(tunnel.ControlMessage{Type: tunnel.ControlNotice, Level: level, Text: text})
	}
	// The session counts against its limits from its authorization to its end, whatever
	// ends it: Serve returns only then, and calls Authorize on its own goroutine.
	release := func() {}
	defer func() { release() }()
	req := postgres.Request{
		Identity:   who,
		Connection: h.Connection,
		ClientAddr: h.ClientAddr,
		Authorize: func(ctx context.Context) (*postgres.Grant, error) {
			c, _, err := g.access(who, h.Connection)
			if err != nil {
				return nil, &postgres.DeniedError{Reason: err.Error()}
			}
			rel, err := g.limits.acquire(who, h.Connection)
			if err != nil {
				metrics.denials.WithLabelValues("session_limit").Inc()
				g.audit(audit.KindSessionRefused, who.String(), h.Connection, "", map[string]any{"tunnel": t.id, "reason": err.Error()})
				return nil, err
			}
			grant, err := g.grant(who, c, t.id, t.remote, notify)
			if err != nil {
				rel()
				return nil, err
			}
			release = rel
			return grant, nil
		},
		Notify: notify,
	}
	_ = g.engine.Serve(ctx, countingConn{Conn: st}, req)
}

// countingConn counts the bytes of a tunnel stream for /metrics.
type countingConn struct{ net.Conn }

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		bytesIn.Add(float64(n))
	}
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	if n > 0 {
		bytesOut.Add(float64(n))
	}
	return n, err
}

// liveTunnels returns the tunnels open now, to act on without holding g.mu.
func (g *Gateway) liveTunnels() []*liveTunnel {
	g.mu.Lock()
	defer g.mu.Unlock()
	live := make([]*liveTunnel, 0, len(g.tunnels))
	for _, t := range g.tunnels {
		live = append(live, t)
	}
	return live
}

// CloseTunnels ends every live tunnel with a reason the clients show.
func (g *Gateway) CloseTunnels(reason string) {
	for _, t := range g.liveTunnels() {
		t.end(reason)
	}
}
