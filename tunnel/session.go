package tunnel

import (
	"errors"
	"fmt"
	"log"
	"net"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hashicorp/yamux"
)

// core is what both ends of a session share: the yamux session over the WebSocket, the
// control stream and the end-of-session bookkeeping.
type core struct {
	cfg *Config
	log *log.Logger
	mux *yamux.Session

	ctrlMu  sync.Mutex    // serialises control writes and guards ctrl
	ctrl    net.Conn      // nil until the control stream is established
	ctrlSet chan struct{} // closed once ctrl is set (setCtrl)

	in chan ControlMessage // messages from the peer, for the user

	done     chan struct{}
	doneOnce sync.Once
	errMu    sync.Mutex
	err      error // why the session ended; first one wins
}

// newCore wraps an upgraded WebSocket into a yamux session.
func newCore(ws *websocket.Conn, cfg *Config, client bool) (*core, error) {
	nc := newWSConn(ws, cfg.readLimit())

	var (
		mux *yamux.Session
		err error
	)
	if client {
		mux, err = yamux.Client(newBatcher(nc, int(cfg.StreamWindow)), cfg.yamux())
	} else {
		mux, err = yamux.Server(newBatcher(nc, int(cfg.StreamWindow)), cfg.yamux())
	}
	if err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("yamux session: %w", err)
	}
	return &core{
		cfg:     cfg,
		log:     cfg.logger(),
		mux:     mux,
		in:      make(chan ControlMessage, cfg.ControlBacklog),
		ctrlSet: make(chan struct{}),
		done:    make(chan struct{}),
	}, nil
}

// setCtrl makes conn the control stream, once.
func (c *core) setCtrl(conn net.Conn) {
	c.ctrlMu.Lock()
	c.ctrl = conn
	c.ctrlMu.Unlock()
	close(c.ctrlSet)
}

// setErr records why the session ends, unless a reason is already known.
func (c *core) setErr(err error) {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// Err says why the session ended; nil while it is running.
func (c *core) Err() error {
	select {
	case <-c.done:
	default:
		return nil
	}
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// shutdown ends the session with err as its reason (unless one is already known).
func (c *core) shutdown(err error) {
	c.setErr(err)
	c.doneOnce.Do(func() {
		_ = c.mux.Close()
		close(c.done)
	})
}

// send writes one control message, bounded by the connection write timeout.
func (c *core) send(m ControlMessage) error {
	// The gateway may send as soon as it has the session, before the control stream the
	// client opens first has been read: it waits for it as it would for a write.
	select {
	case <-c.ctrlSet:
	case <-c.done:
		return c.errOrClosed()
	case <-time.After(c.cfg.ConnectionWriteTimeout):
		return errors.New("no control stream")
	}
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	if c.ctrl == nil {
		return errors.New("no control stream")
	}
	select {
	case <-c.done:
		return c.errOrClosed()
	default:
	}
	if err := c.ctrl.SetWriteDeadline(time.Now().Add(c.cfg.ConnectionWriteTimeout)); err != nil {
		return err
	}
	defer c.ctrl.SetWriteDeadline(time.Time{})
	return writeJSONFrame(c.ctrl, m, MaxControlFrame)
}

// errOrClosed is Err, or ErrSessionClosed when no reason was recorded.
func (c *core) errOrClosed() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err != nil {
		return c.err
	}
	return ErrSessionClosed
}

// deliver hands m to the user without ever blocking the control reader.
func (c *core) deliver(m ControlMessage) {
	select {
	case c.in <- m:
	default:
		c.log.Printf("control backlog full, dropped a %q message", m.Type)
	}
}

// readControl reads the control stream until it ends, passing each message to handle,
// then ends the session. A control stream that breaks its framing ends the session with
// that error; one that simply ends (EOF, reset, session closed) with ErrDisconnected.
func (c *core) readControl(ctrl net.Conn, handle func(ControlMessage)) {
	for {
		m, err := readControl(ctrl)
		if err != nil {
			if errors.Is(err, ErrBadControl) {
				c.shutdown(fmt.Errorf("tunnel: %w", err))
			} else {
				c.shutdown(ErrDisconnected)
			}
			return
		}
		handle(m)
	}
}
