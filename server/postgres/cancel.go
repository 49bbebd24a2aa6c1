package postgres

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/server/identity"
)

// cancelKey is the BackendKeyData the gateway gives a client in place of the real one.
type cancelKey struct {
	pid    uint32
	secret [4]byte
}

// backend is a live upstream session, found by its cancel key.
type backend struct {
	id identity.Identity
	hc *pgconn.HijackedConn

	// held, while a statement of the session waits for its review, withdraws it: a
	// CancelRequest then ends the wait instead of reaching the database.
	mu   sync.Mutex
	held context.CancelFunc
}

// holding sets (or, with nil, clears) what a CancelRequest does while a statement waits.
func (b *backend) holding(cancel context.CancelFunc) {
	b.mu.Lock()
	b.held = cancel
	b.mu.Unlock()
}

func (e *Engine) register(b *backend) (cancelKey, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for range 8 {
		k, err := randomKey()
		if err != nil {
			return cancelKey{}, err
		}
		if _, taken := e.backends[k]; !taken {
			e.backends[k] = b
			return k, nil
		}
	}
	return cancelKey{}, errors.New("cancel key: no free key")
}

func (e *Engine) unregister(k cancelKey) {
	e.mu.Lock()
	delete(e.backends, k)
	e.mu.Unlock()
}

// cancel forwards a CancelRequest to the backend it names, only when the request comes
// from the identity that owns that backend. Like PostgreSQL, it answers nothing either way.
func (e *Engine) cancel(ctx context.Context, req *Request, m *pgproto3.CancelRequest) {
	log := e.cfg.Logger.With("user", req.Identity.String(), "client", req.ClientAddr)
	var k cancelKey
	if len(m.SecretKey) != len(k.secret) {
		log.Warn("postgres cancel refused: unknown key")
		return
	}
	k.pid = m.ProcessID
	copy(k.secret[:], m.SecretKey)
	e.mu.Lock()
	b := e.backends[k]
	e.mu.Unlock()
	switch {
	case b == nil:
		log.Warn("postgres cancel refused: unknown key")
		return
	case !b.id.Same(req.Identity):
		log.Warn("postgres cancel refused: the session belongs to another identity", "owner", b.id.String())
		return
	}
	b.mu.Lock()
	held := b.held
	b.mu.Unlock()
	if held != nil {
		held()
		log.Info("postgres cancel: the held statement's review is withdrawn")
		return
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sendCancel(cctx, b.hc); err != nil {
		log.Warn("postgres cancel", "err", err)
		return
	}
	log.Info("postgres cancel forwarded", "backend_pid", b.hc.PID)
}

// sendCancel opens a new connection to the backend's server, encrypted the same way as the
// session, and sends the real cancel key.
func sendCancel(ctx context.Context, hc *pgconn.HijackedConn) error {
	addr := hc.Conn.RemoteAddr()
	conn, err := hc.Config.DialFunc(ctx, addr.Network(), addr.String())
	if err != nil {
		return fmt.Errorf("cancel dial %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	if hc.TLSConfig != nil {
		var req [8]byte
		binary.BigEndian.PutUint32(req[0:4], 8)
		binary.BigEndian.PutUint32(req[4:8], 80877103)
		if _, err := conn.Write(req[:]); err != nil {
			return fmt.Errorf("cancel ssl request: %w", err)
		}
		var resp [1]byte
		if _, err := io.ReadFull(conn, resp[:]); err != nil {
			return fmt.Errorf("cancel ssl response: %w", err)
		}
		if resp[0] != 'S' {
			return errors.New("cancel: the server refused TLS")
		}
		tc := tls.Client(conn, hc.TLSConfig.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("cancel tls: %w", err)
		}
		conn = tc
	}
	msg, err := (&pgproto3.CancelRequest{ProcessID: hc.PID, SecretKey: hc.SecretKey}).Encode(nil)
	if err != nil {
		return err
	}
	if _, err := conn.Write(msg); err != nil {
		return fmt.Errorf("cancel write: %w", err)
	}
	// The server closes the connection when it has read the request.
	_, _ = io.Copy(io.Discard, conn)
	return nil
}
