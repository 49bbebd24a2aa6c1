package postgres

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync/atomic"
	"time"
)

// session relays one established client session.
type session struct {
	e     *Engine
	req   *Request
	gate  Gate
	c     *clientConn
	up    net.Conn
	upR   *bufio.Reader
	upW   *bufio.Writer
	log   *slog.Logger
	start time.Time

	clientDone atomic.Bool // the client sent Terminate or hung up
}

// maxUpstreamMessage bounds what the engine buffers of one server message: PostgreSQL's
// own limit for a field is 1 GiB.
const maxUpstreamMessage = 1<<30 + 1<<20

func (s *session) relay(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		msg := "hoop: the gateway ended this session"
		if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
			msg += ": " + cause.Error()
		}
		s.c.fatal("57P01", msg, "")
		s.c.conn.Close()
		s.up.Close()
	})
	defer stop()
	errc := make(chan error, 2)
	go func() { errc <- s.fromClient() }()
	go func() { errc <- s.fromUpstream() }()
	err := <-errc
	s.c.conn.Close()
	s.up.Close()
	<-errc
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// fromClient reads client messages, passes each through the decision point and forwards it.
func (s *session) fromClient() error {
	r := newReader(s.c.r, s.e.cfg.MaxMessageSize)
	for {
		typ, body, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				// The client hung up without Terminate: end the backend cleanly.
				s.clientDone.Store(true)
				_ = writeMessage(s.upW, msgTerminate, nil)
				_ = s.upW.Flush()
				return nil
			}
			s.c.fatal(codeProtocolViolation, "hoop: "+err.Error(), "")
			return fmt.Errorf("client: %w", err)
		}
		if err := s.decide(typ, body); err != nil {
			var denied *DeniedError
			if errors.As(err, &denied) {
				s.c.fatal(codeInsufficientPrivilege, "hoop: "+denied.Reason, "")
			} else {
				s.c.fatal(codeInternal, "hoop: "+err.Error(), "")
			}
			return err
		}
		if err := writeMessage(s.upW, typ, body); err != nil {
			return fmt.Errorf("upstream write: %w", err)
		}
		if typ == msgTerminate {
			s.clientDone.Store(true)
			return s.upW.Flush()
		}
		if !r.buffered() {
			if err := s.upW.Flush(); err != nil {
				return fmt.Errorf("upstream write: %w", err)
			}
		}
	}
}

// decide is the one decision point every client message passes.
func (s *session) decide(typ byte, body []byte) error {
	if s.gate != nil {
		return s.gate.Check(typ, body)
	}
	if typ == msgFunctionCall {
		return &DeniedError{Reason: "FunctionCall protocol messages are not allowed through the gateway"}
	}
	return nil
}

// fromUpstream forwards server messages to the client.
func (s *session) fromUpstream() error {
	r := newReader(s.upR, maxUpstreamMessage)
	for {
		typ, body, err := r.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				if !s.clientDone.Load() {
					s.c.fatal(codeConnectionFailure, "hoop: the database closed the connection", "")
				}
				return nil
			}
			return fmt.Errorf("upstream: %w", err)
		}
		s.c.mu.Lock()
		err = writeMessage(s.c.w, typ, body)
		if err == nil && !r.buffered() {
			err = s.c.w.Flush()
		}
		s.c.mu.Unlock()
		if err != nil {
			return fmt.Errorf("client write: %w", err)
		}
	}
}
