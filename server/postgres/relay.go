package postgres

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
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

	// skipping is set after a refused Parse: like PostgreSQL after an error, the engine
	// discards the client's extended-protocol messages until Sync. Only fromClient uses it.
	skipping bool

	// expect lists, oldest first, the responses the engine waits for from upstream to put
	// a refusal in its place in the client's stream (see expectation).
	mu     sync.Mutex
	expect []expectation
}

// An expectation is a response the engine is owed by upstream: a ParseComplete for each
// Parse forwarded, a ReadyForQuery for each Query or Sync. A refused statement is replaced
// by a harmless message that yields the same response (an empty unnamed Parse, or a Sync),
// and its ErrorResponse goes to the client in that response's place, so the client sees the
// refusal exactly where PostgreSQL would have put the error, after whatever came before.
type expectation struct {
	ready  bool  // a ReadyForQuery (end of a Query or Sync cycle); else a ParseComplete
	refuse error // the refusal to send in its place, or nil
}

// markerParse is the body of Parse("" , "", no types): an empty unnamed statement.
var markerParse = []byte{0, 0, 0, 0}

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

func (s *session) push(e expectation) {
	s.mu.Lock()
	s.expect = append(s.expect, e)
	s.mu.Unlock()
}

// pop removes the oldest expectation; ok is false when none is pending.
func (s *session) pop() (expectation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expect) == 0 {
		return expectation{}, false
	}
	e := s.expect[0]
	s.expect[0] = expectation{}
	s.expect = s.expect[1:]
	if len(s.expect) == 0 {
		s.expect = s.expect[:0:0] // let the backing array go once drained
	}
	return e, true
}

// fromClient reads client messages, passes each through the decision point and forwards
// it, or what stands in for it when it is refused.
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
		fwdTyp, fwdBody, err := s.decide(typ, body)
		if err != nil {
			s.c.fatal(codeProtocolViolation, "hoop: "+err.Error(), "")
			return fmt.Errorf("client: %w", err)
		}
		if fwdTyp != 0 {
			if err := writeMessage(s.upW, fwdTyp, fwdBody); err != nil {
				return fmt.Errorf("upstream write: %w", err)
			}
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

// decide is the one decision point every client message passes. It returns the message
// to forward (type 0: nothing), or an error for a message the engine cannot accept at all.
func (s *session) decide(typ byte, body []byte) (byte, []byte, error) {
	switch typ {
	case msgQuery:
		sql, err := cstring(body)
		if err != nil {
			return 0, nil, fmt.Errorf("malformed Query message: %w", err)
		}
		if refusal := s.check("", sql, false); refusal != nil {
			s.push(expectation{ready: true, refuse: refusal})
			return msgSync, nil, nil
		}
		s.push(expectation{ready: true})
		return typ, body, nil

	case msgParse:
		if s.skipping {
			return 0, nil, nil
		}
		var m pgproto3.Parse
		if err := m.Decode(body); err != nil {
			return 0, nil, fmt.Errorf("malformed Parse message: %w", err)
		}
		if refusal := s.check(m.Name, m.Query, true); refusal != nil {
			s.skipping = true
			s.push(expectation{refuse: refusal})
			return msgParse, markerParse, nil
		}
		s.push(expectation{})
		return typ, body, nil

	case msgSync:
		s.skipping = false
		s.push(expectation{ready: true})
		return typ, body, nil

	case msgFunctionCall:
		// The fast-path interface calls a function by OID, around every statement check.
		s.push(expectation{ready: true, refuse: &DeniedError{Reason: "FunctionCall protocol messages are not allowed through the gateway"}})
		return msgSync, nil, nil

	case msgFlush:
		// Even while skipping: a client that waits on Flush must get the refusal now.
		return typ, body, nil

	case msgClose:
		if s.skipping {
			return 0, nil, nil
		}
		if len(body) >= 2 && body[0] == 'S' && s.gate != nil {
			name, err := cstring(body[1:])
			if err != nil {
				return 0, nil, fmt.Errorf("malformed Close message: %w", err)
			}
			s.gate.Close(name)
		}
		return typ, body, nil

	case msgBind, msgExecute, msgDescribe:
		if s.skipping {
			return 0, nil, nil
		}
		return typ, body, nil

	case msgCopyData, msgCopyDone, msgCopyFail, msgTerminate:
		return typ, body, nil

	default:
		return 0, nil, fmt.Errorf("unexpected message type %q", typ)
	}
}

// check asks the gate about one SQL text; nil means forward it.
func (s *session) check(name, sql string, parse bool) error {
	switch {
	case s.gate == nil:
		return nil
	case parse:
		return s.gate.Parse(name, sql)
	}
	return s.gate.Query(sql)
}

func cstring(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", errors.New("missing terminator")
	}
	return string(b[:i]), nil
}

// fromUpstream forwards server messages to the client, putting each refusal in the place
// of the response that stands in for the refused message.
func (s *session) fromUpstream() error {
	r := newReader(s.upR, maxUpstreamMessage)
	cycleErr := false // an ErrorResponse was sent since the last ReadyForQuery
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
		var refusal error
		switch typ {
		case 'E':
			cycleErr = true
		case '1': // ParseComplete
			e, ok := s.pop()
			if !ok || e.ready {
				s.c.fatal(codeInternal, "hoop: lost track of the protocol (an unexpected ParseComplete)", "")
				return errors.New("upstream: unexpected ParseComplete")
			}
			if e.refuse != nil {
				if cycleErr {
					continue // PostgreSQL reports only the first error of a cycle
				}
				refusal, typ = e.refuse, 0
				cycleErr = true
			}
		case 'Z': // ReadyForQuery
			for {
				e, ok := s.pop()
				if !ok {
					s.c.fatal(codeInternal, "hoop: lost track of the protocol (an unexpected ReadyForQuery)", "")
					return errors.New("upstream: unexpected ReadyForQuery")
				}
				// A Parse with no ParseComplete was skipped by upstream after an error.
				if e.ready {
					if e.refuse != nil && !cycleErr {
						refusal = e.refuse
					}
					break
				}
			}
			cycleErr = false
		}
		s.c.mu.Lock()
		if refusal != nil {
			err = s.c.writeError(refusal)
		}
		if err == nil && typ != 0 {
			err = writeMessage(s.c.w, typ, body)
		}
		if err == nil && !r.buffered() {
			err = s.c.w.Flush()
		}
		s.c.mu.Unlock()
		if err != nil {
			return fmt.Errorf("client write: %w", err)
		}
	}
}
