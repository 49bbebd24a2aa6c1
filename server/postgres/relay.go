package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
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
	base   []expectation // expect's backing array while small, reused once expect drains

	// masker masks result values; nil when nothing is masked in this session. The engine
	// tracks every statement's and portal's columns (res), so each DataRow is masked by
	// its column's type and format.
	masker Masker
	res    *results

	// rec records the session's statements; nil when nothing is recorded.
	rec Recorder

	// names follows the session's prepared statements, portals and cursors from
	// PostgreSQL's answers: what each runs, how it was decided, and the one run an
	// approval allows a held statement.
	names *names

	// holder holds statements for review.
	holder   Holder
	holdOpts HoldOptions
	be       *backend
	ctx      context.Context
}

// An expectation is a response the engine is owed by upstream for a message it forwarded:
// a ParseComplete for each Parse, a ReadyForQuery for each Query or Sync, and, when results
// are masked, what Bind, Describe, Execute and Close yield. A refused statement is replaced
// by a harmless message that yields the same response (an empty unnamed Parse, or a Sync),
// and its ErrorResponse goes to the client in that response's place, so the client sees the
// refusal exactly where PostgreSQL would have put the error, after whatever came before it.
type expectation struct {
	kind    byte    // the message forwarded: 'P'arse, 'B'ind, 'D'escribe, 'E'xecute, 'C'lose, or 'Z' for Query and Sync
	refuse  error   // the refusal to send in the response's place, or nil
	target  byte    // Describe and Close: 'S' (statement) or 'P' (portal)
	name    string  // the statement or portal: "" for the unnamed one
	stmt    string  // Bind: the statement it binds
	formats []int16 // Bind: the result format codes
	own     bool    // a Describe the engine added itself: its answers are not the client's
	out     Outcome // Query and Execute: the recorded statement's outcome, or nil
	sql     string  // Query and Execute, when results are masked: the SQL text, for COPY
	// one is what a Parse, Bind or Close does to the session's names once PostgreSQL
	// confirms it; query what a Query's or an Execute's statements do, each once it has
	// run. (Pointers: an expectation is made per message.)
	one   *change
	query *queryRun
}

// queryRun follows the statements of a simple Query (or the one of an Execute) as they
// complete, to apply each one's changes to names when, and only if, it has run.
type queryRun struct {
	changes []*change
	stmts   []int // the statement of the text each change belongs to
	ran     int   // statements completed so far
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
	if c := cap(s.expect); c > cap(s.base) && c <= maxReusedExpect {
		s.base = s.expect[:0] // a new array: the queue starts at its start
	}
	s.mu.Unlock()
}

// maxReusedExpect bounds the expectation queue kept for reuse between cycles.
const maxReusedExpect = 64

// peek returns the oldest expectation without removing it.
func (s *session) peek() (expectation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.expect) == 0 {
		return expectation{}, false
	}
	return s.expect[0], true
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
		s.expect = s.base[:0] // drained: start again at the start of the small array, or let a big one go
	}
	return e, true
}

// fromClient reads client messages, passes each through the decision point and forwards
// it, or what stands in for it when it is refused.
func (s *session) fromClient() error {
	r := newReader(s.c.r, s.e.cfg.BufferSize, s.e.cfg.MaxMessageSize)
	for {
		typ, err := s.nextFromClient(r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				// The client hung up without Terminate: end the backend cleanly.
				s.clientDone.Store(true)
				_ = writeMessage(s.upW, msgTerminate, nil)
				_ = s.upW.Flush()
				return nil
			}
			if !errors.Is(err, errUpstreamWrite) {
				s.c.fatal(codeProtocolViolation, "hoop: "+err.Error(), "")
			}
			return fmt.Errorf("client: %w", err)
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

// nextFromClient reads one client message and passes it through decide. What no session
// may buffer whole, it never does: a statement over StatementBytes is read past in pieces
// and refused in place; COPY data larger than a read buffer streams through; any other
// message that large first takes its size from the engine's Budget, and is refused in
// place when the budget has no room for it in time.
func (s *session) nextFromClient(r *reader) (byte, error) {
	typ, n, err := r.header()
	if err != nil {
		return 0, err
	}
	// A Parse is skipped unread after an error anyway (below, or by decide).
	if (typ == msgQuery || typ == msgParse && !s.skipping) && n > s.e.cfg.StatementBytes {
		if err := r.discard(n); err != nil {
			return 0, err
		}
		return typ, s.refuseUnread(typ, n, &LimitError{Code: codeProgramLimitExceeded, Reason: fmt.Sprintf(
			"this statement is %s; the gateway analyses statements up to %s (limits.statement_bytes). Send large data as bind parameters or with COPY",
			sizeText(n), sizeText(s.e.cfg.StatementBytes))})
	}
	if n <= r.keep {
		body, err := r.body(n)
		if err != nil {
			return 0, err
		}
		return typ, s.decide(typ, body)
	}
	switch {
	case s.skipping && (typ == msgParse || typ == msgBind || typ == msgDescribe || typ == msgExecute || typ == msgClose):
		// Skipped up to Sync after an error, as decide would: no need to hold it.
		return typ, r.discard(n)
	case typ == msgCopyData || typ == msgCopyFail:
		// Forwarded as they are, never looked into: no need to hold them.
		var hdr [5]byte
		hdr[0] = typ
		binary.BigEndian.PutUint32(hdr[1:], uint32(n+4))
		if _, err := s.upW.Write(hdr[:]); err != nil {
			return 0, fmt.Errorf("%w: %v", errUpstreamWrite, err)
		}
		if err := r.copyBody(s.upW, n); errors.Is(err, errWrite) {
			return 0, fmt.Errorf("%w: %v", errUpstreamWrite, err)
		} else if err != nil {
			return 0, err
		}
		return typ, nil
	case typ == msgFunctionCall:
		// Refused whatever it holds.
		if err := r.discard(n); err != nil {
			return 0, err
		}
		return typ, s.decide(typ, nil)
	case n > s.e.cfg.MaxMessageSize:
		if err := r.discard(n); err != nil {
			return 0, err
		}
		return typ, s.refuseUnread(typ, n, &LimitError{Code: codeProgramLimitExceeded, Reason: fmt.Sprintf(
			"this %s message is %s; the gateway takes messages up to %s. Send large data with COPY", messageName(typ), sizeText(n), sizeText(s.e.cfg.MaxMessageSize))})
	}
	ctx, cancel := context.WithTimeoutCause(s.ctx, s.e.cfg.InflightWait, errors.New("timed out"))
	err = s.e.budget.Acquire(ctx, int64(n))
	cancel()
	if err != nil {
		s.log.Warn("client message refused: the gateway's in-flight budget has no room for it", "type", string(typ), "bytes", n, "err", err)
		if err := r.discard(n); err != nil {
			return 0, err
		}
		return typ, s.refuseUnread(typ, n, &LimitError{Code: codeOutOfMemory, Reason: fmt.Sprintf(
			"this %s message is %s, and the gateway has no room for it now: large messages of all sessions together may hold %s (limits.inflight_bytes); try again, or ask an admin to raise the limit",
			messageName(typ), sizeText(n), sizeText(int(s.e.budget.Limit())))})
	}
	defer s.e.budget.Release(int64(n))
	body, err := r.body(n)
	if err != nil {
		return 0, err
	}
	return typ, s.decide(typ, body)
}

// refuseUnread puts a refusal in the place of an n-byte message the engine did not read,
// as decide does for a refused statement: a Query's refusal takes its place and the
// session goes on; in the extended protocol the rest is skipped up to Sync.
func (s *session) refuseUnread(typ byte, n int, refusal error) error {
	switch typ {
	case msgQuery:
		s.record(StatementInfo{SQL: unreadText(n), Refusal: refusal, Unread: true})
		s.push(expectation{kind: 'Z', refuse: refusal})
		return s.forward(msgSync, nil)
	case msgParse:
		if s.skipping {
			return nil
		}
		s.record(StatementInfo{SQL: unreadText(n), Refusal: refusal, Unread: true})
		s.skipping = true
		s.push(expectation{kind: 'P', refuse: refusal})
		return s.forward(msgParse, markerParse)
	case msgBind, msgDescribe, msgExecute, msgClose:
		if s.skipping {
			return nil
		}
		s.skipping = true
		s.push(expectation{kind: 'C', target: 'S', name: "hoop.refused", refuse: refusal})
		return s.forward(msgClose, markerClose)
	}
	return fmt.Errorf("%s message of %d bytes: %w", messageName(typ), n, refusal)
}

// unreadText stands for the text of a statement refused unread, in its record.
func unreadText(n int) string {
	return fmt.Sprintf("[a statement of %d bytes, over limits.statement_bytes: not read]", n)
}

// messageName names a client message type in a refusal.
func messageName(typ byte) string {
	switch typ {
	case msgQuery:
		return "Query"
	case msgParse:
		return "Parse"
	case msgBind:
		return "Bind"
	case msgDescribe:
		return "Describe"
	case msgExecute:
		return "Execute"
	case msgClose:
		return "Close"
	}
	return fmt.Sprintf("%q", typ)
}

// sizeText writes a size for people: "40.0 MiB", "512 bytes".
func sizeText(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// decide is the one decision point every client message passes. It forwards the message,
// or what stands in for it, or nothing; its error is for a message the engine cannot
// accept at all.
func (s *session) decide(typ byte, body []byte) error {
	switch typ {
	case msgQuery:
		sql, err := cstring(body)
		if err != nil {
			return fmt.Errorf("malformed Query message: %w", err)
		}
		d, refusal := s.check(sql, false)
		var (
			held   *heldUse
			review string
		)
		if rr := (*ReviewRequired)(nil); errors.As(refusal, &rr) {
			if review, refusal = s.hold(HeldStatement{SQL: sql, Reason: rr.Reason, Class: d.Class}); refusal == nil {
				held = &heldUse{review: review, sql: sql}
			}
		}
		out, refusal := s.record(StatementInfo{SQL: sql, Refusal: refusal, ReviewID: review, Decision: d})
		if refusal != nil {
			s.push(expectation{kind: 'Z', refuse: refusal})
			return s.forward(msgSync, nil)
		}
		e := expectation{kind: 'Z', out: out}
		e.query = s.effects(d, held)
		if s.masker != nil {
			e.sql = sql
			if e.query == nil {
				e.query = &queryRun{} // counts the statements run, to tell whose result arrives
			}
		}
		s.push(e)
		return s.forward(typ, body)

	case msgParse:
		if s.skipping {
			return nil
		}
		var m pgproto3.Parse
		if err := m.Decode(body); err != nil {
			return fmt.Errorf("malformed Parse message: %w", err)
		}
		d, refusal := s.check(m.Query, true)
		var held *heldUse
		if rr := (*ReviewRequired)(nil); errors.As(refusal, &rr) {
			var review string
			if review, refusal = s.hold(HeldStatement{SQL: m.Query, Reason: rr.Reason, Class: d.Class}); refusal == nil {
				held = &heldUse{review: review, sql: m.Query}
			}
		}
		if refusal != nil {
			s.record(StatementInfo{SQL: m.Query, Refusal: refusal, Decision: d})
			s.skipping = true
			s.push(expectation{kind: 'P', refuse: refusal})
			return s.forward(msgParse, markerParse)
		}
		// The name is the new statement's once PostgreSQL answers ParseComplete; a Parse
		// of a name in use fails, and the name keeps its statement and its decision.
		c := s.names.propose(&change{name: m.Name, stmt: &stmtEntry{sql: m.Query, decision: d, held: held}})
		s.push(expectation{kind: 'P', name: m.Name, one: c})
		if err := s.forward(typ, body); err != nil || s.masker == nil {
			return err
		}
		// Learn the statement's columns even if the client never asks: its rows are
		// masked by them.
		s.push(expectation{kind: 'D', target: 'S', name: m.Name, own: true})
		return s.forward(msgDescribe, append([]byte{'S'}, append([]byte(m.Name), 0)...))

	case msgSync:
		s.skipping = false
		s.push(expectation{kind: 'Z'})
		return s.forward(typ, body)

	case msgFunctionCall:
		// The fast-path interface calls a function by OID, around every statement check.
		s.push(expectation{kind: 'Z', refuse: &DeniedError{Reason: "FunctionCall protocol messages are not allowed through the gateway"}})
		return s.forward(msgSync, nil)

	case msgFlush:
		// Even while skipping: a client that waits on Flush must get the refusal now.
		return s.forward(typ, body)

	case msgClose:
		if s.skipping {
			return nil
		}
		if len(body) < 2 || (body[0] != 'S' && body[0] != 'P') {
			return errors.New("malformed Close message")
		}
		name, err := cstring(body[1:])
		if err != nil {
			return fmt.Errorf("malformed Close message: %w", err)
		}
		// The name is dropped once PostgreSQL answers CloseComplete.
		c := s.names.propose(&change{portal: body[0] == 'P', name: name})
		s.push(expectation{kind: 'C', target: body[0], name: name, one: c})
		return s.forward(typ, body)

	case msgBind:
		if s.skipping {
			return nil
		}
		var m pgproto3.Bind
		if err := m.Decode(body); err != nil {
			return fmt.Errorf("malformed Bind message: %w", err)
		}
		if h := s.names.bindHeld(m.PreparedStatement); h != nil {
			// An approval's one run is spent: the client gets the refusal where the
			// Bind's answer would be, and the rest up to Sync is skipped.
			refusal := h.refusal()
			st := s.names.stmt(m.PreparedStatement)
			s.record(StatementInfo{SQL: h.sql, Execute: true, Prepared: m.PreparedStatement, ReviewID: h.review, Refusal: refusal, Decision: st.decisionOf()})
			s.skipping = true
			s.push(expectation{kind: 'C', target: 'S', name: "hoop.refused", refuse: refusal})
			return s.forward(msgClose, markerClose)
		}
		st := s.names.stmt(m.PreparedStatement)
		c := &change{portal: true, name: m.DestinationPortal, bound: portalEntry{stmtName: m.PreparedStatement, stmt: st}}
		c.port = &c.bound
		if st != nil {
			c.bound.class = st.decision.Class
		}
		if s.rec != nil {
			c.bound.params = params(m)
		}
		// The portal is made once PostgreSQL answers BindComplete.
		s.push(expectation{kind: 'B', name: m.DestinationPortal, stmt: m.PreparedStatement, formats: m.ResultFormatCodes, one: s.names.propose(c)})
		return s.forward(typ, body)

	case msgDescribe:
		if s.skipping {
			return nil
		}
		if len(body) < 2 || (body[0] != 'S' && body[0] != 'P') {
			return errors.New("malformed Describe message")
		}
		name, err := cstring(body[1:])
		if err != nil {
			return fmt.Errorf("malformed Describe message: %w", err)
		}
		s.push(expectation{kind: 'D', target: body[0], name: name})
		return s.forward(typ, body)

	case msgExecute:
		if s.skipping {
			return nil
		}
		name, err := cstring(body)
		if err != nil {
			return fmt.Errorf("malformed Execute message: %w", err)
		}
		p, unsure := s.names.portal(name)
		var refusal error
		if unsure && s.gate != nil {
			// A SQL cursor runs its query at each fetch, and a portal the gateway did not
			// see made runs what it cannot tell: FETCH is decided, an Execute of it is not.
			refusal = &DeniedError{Reason: fmt.Sprintf("portal %q is a SQL cursor or was not made through the gateway, so running it with a protocol-level Execute is refused; use FETCH", name)}
		}
		var (
			st   *stmtEntry
			info = StatementInfo{Execute: true}
		)
		if p != nil {
			st, info.Prepared, info.Params = p.stmt, p.stmtName, p.params
		}
		if st != nil {
			info.SQL, info.ReviewID, info.Decision = st.sql, st.held.id(), st.decision
		}
		info.Refusal = refusal
		out, refusal := s.record(info)
		if refusal != nil {
			// Nothing runs unrecorded or undecided: the client gets the refusal where the
			// Execute's answer would be, and the rest up to Sync is skipped.
			s.skipping = true
			s.push(expectation{kind: 'C', target: 'S', name: "hoop.refused", refuse: refusal})
			return s.forward(msgClose, markerClose)
		}
		e := expectation{kind: 'E', name: name, out: out}
		if s.masker != nil {
			e.sql = info.SQL
		}
		if st != nil {
			e.query = s.effects(st.decision, st.held)
		}
		s.push(e)
		return s.forward(typ, body)

	case msgCopyData, msgCopyDone, msgCopyFail, msgTerminate:
		return s.forward(typ, body)

	default:
		return fmt.Errorf("unexpected message type %q", typ)
	}
}

// effects proposes the changes a decided text's statements make once they run.
func (s *session) effects(d Decision, held *heldUse) *queryRun {
	if len(d.Effects) == 0 {
		return nil
	}
	q := &queryRun{changes: s.names.effectChanges(d, held), stmts: make([]int, len(d.Effects))}
	for i, ef := range d.Effects {
		q.stmts[i] = ef.Stmt
	}
	return q
}

// id is the review of an approval; "" for none.
func (h *heldUse) id() string {
	if h == nil {
		return ""
	}
	return h.review
}

// decisionOf is how a statement was decided; zero for an unknown one.
func (e *stmtEntry) decisionOf() Decision {
	if e == nil {
		return Decision{}
	}
	d := e.decision
	d.Effects = nil
	return d
}

// errUpstreamWrite marks a failure to write to the database, which is not the client's.
var errUpstreamWrite = errors.New("upstream write")

// forward writes one message upstream (buffered). A Sync or a Query, whatever stands in
// for what, ends the client's cycle: what it forwarded before may fail without the
// messages after it being skipped (names).
func (s *session) forward(typ byte, body []byte) error {
	if typ == msgSync || typ == msgQuery {
		defer s.names.endCycle()
	}
	if err := writeMessage(s.upW, typ, body); err != nil {
		return fmt.Errorf("%w: %v", errUpstreamWrite, err)
	}
	return nil
}

// hold holds a statement for review until it is decided: nil to forward it, or the
// refusal. A CancelRequest or the end of the session withdraws the review.
func (s *session) hold(st HeldStatement) (string, error) {
	if s.holder == nil {
		return "", &DeniedError{Reason: st.Reason + "; this gateway does not hold statements for approval, so it is refused"}
	}
	// What came before it runs meanwhile.
	if err := s.upW.Flush(); err != nil {
		return "", &DeniedError{Reason: "the database connection failed: " + err.Error()}
	}
	st.HoldOptions = s.holdOpts
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	s.be.holding(cancel)
	defer s.be.holding(nil)
	notice := func(text string) {
		_ = s.c.send(&pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "01000", Message: text})
	}
	return s.holder.Hold(ctx, st, notice)
}

// record records a statement, when the session is recorded. It returns the statement's
// outcome, and the refusal to send in its place: the gate's, or the failure to record it.
func (s *session) record(st StatementInfo) (Outcome, error) {
	if s.rec == nil {
		return nil, st.Refusal
	}
	out, err := s.rec.Statement(st)
	switch {
	case st.Refusal != nil:
		if err != nil {
			s.log.Error("recording a refused statement failed", "err", err)
		}
		return nil, st.Refusal
	case err != nil:
		s.log.Error("statement refused: recording it failed", "err", err)
		return nil, &RecordError{Err: err}
	}
	return out, nil
}

// Bind parameters are forwarded whole, whatever their size; what the record keeps of
// them is bounded, so that a large value costs the gateway its message and no more.
const (
	maxRecordedParam  = 64 << 10  // the largest value kept, bytes
	maxRecordedParams = 256 << 10 // the most kept of one Bind's values, bytes
)

// params copies a Bind's parameters out of the read buffer, for the record: a value over
// maxRecordedParam, or past maxRecordedParams in all, is kept as its size only.
func params(m pgproto3.Bind) []Param {
	if len(m.Parameters) == 0 {
		return nil
	}
	out := make([]Param, len(m.Parameters))
	left := maxRecordedParams
	for i, v := range m.Parameters {
		f := int16(0)
		switch {
		case len(m.ParameterFormatCodes) == 1:
			f = m.ParameterFormatCodes[0]
		case i < len(m.ParameterFormatCodes):
			f = m.ParameterFormatCodes[i]
		}
		out[i] = Param{Null: v == nil, Binary: f == 1}
		if len(v) > maxRecordedParam || len(v) > left {
			out[i].Omitted = len(v)
			continue
		}
		out[i].Value = append([]byte(nil), v...)
		left -= len(v)
	}
	return out
}

// check asks the gate about one SQL text: its decision, and nil to forward it.
func (s *session) check(sql string, parse bool) (Decision, error) {
	switch {
	case s.gate == nil:
		return Decision{}, nil
	case parse:
		return s.gate.Parse(sql, s.names)
	}
	return s.gate.Query(sql, s.names)
}

func cstring(b []byte) (string, error) {
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", errors.New("missing terminator")
	}
	return string(b[:i]), nil
}

// fromUpstream forwards server messages to the client, putting each refusal in the place
// of the response that stands in for the refused message, and masking results.
func (s *session) fromUpstream() error {
	r := newReader(s.upR, 1<<20, maxUpstreamMessage)
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
		out := reply{send: true, body: body}
		if err := s.response(typ, &out, &cycleErr); err != nil {
			s.c.fatal(codeInternal, "hoop: "+err.Error(), "")
			return fmt.Errorf("upstream: %w", err)
		}
		s.c.mu.Lock()
		if out.refusal != nil {
			err = s.c.writeError(out.refusal)
		}
		if err == nil && out.send {
			err = writeMessage(s.c.w, typ, out.body)
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

// reply is what the client gets for one server message: a refusal to put before it, and
// the message itself (send), its body masked where needed.
type reply struct {
	refusal error
	send    bool
	body    []byte
}

// response decides the reply to one server message. An error ends the session.
func (s *session) response(typ byte, out *reply, cycleErr *bool) error {
	res := s.res
	var err error
	switch typ {
	case 'E', 'N': // ErrorResponse, NoticeResponse
		if res != nil && res.m != nil {
			if out.body, err = res.maskNotice(out.body); err != nil {
				return err
			}
		}
		if typ == 'E' {
			*cycleErr = true
			if head, ok := s.peek(); ok && head.out != nil {
				var er pgproto3.ErrorResponse
				if err := er.Decode(out.body); err == nil {
					head.out.Error(er.Code, er.Message)
				}
			}
		}
		return nil
	case 'A': // NotificationResponse
		if res != nil && res.m != nil {
			out.body, err = res.maskNotification(out.body)
		}
		return err
	case '1': // ParseComplete
		e, ok := s.pop()
		if !ok || e.kind != 'P' {
			return errors.New("lost track of the protocol (an unexpected ParseComplete)")
		}
		if e.refuse != nil {
			out.send = false
			if !*cycleErr { // PostgreSQL reports only the first error of a cycle
				*cycleErr = true
				out.refusal = e.refuse
			}
		}
		s.names.settle(e.one, true)
		return nil
	case 'Z': // ReadyForQuery
		for {
			e, ok := s.pop()
			if !ok {
				return errors.New("lost track of the protocol (an unexpected ReadyForQuery)")
			}
			// Messages with no response were skipped by upstream after an error, or
			// failed: what they would have changed did not happen. So for the statements
			// of a Query after the one that failed.
			s.names.settle(e.one, false)
			if e.query != nil {
				for _, c := range e.query.changes {
					s.names.settle(c, false)
				}
			}
			if e.out != nil {
				e.out.Done()
			}
			if e.kind == 'Z' {
				if e.refuse != nil && !*cycleErr {
					out.refusal = e.refuse
				}
				break
			}
		}
		if len(out.body) > 0 {
			s.names.ready(out.body[0], *cycleErr)
		}
		*cycleErr = false
		if res != nil {
			res.cur, res.exec, res.copying, res.dropping, res.copies = nil, nil, nil, false, 0
		}
		return nil
	case '3': // CloseComplete: the answer to a refused Execute's stand-in
		if e, ok := s.peek(); ok && e.kind == 'C' && e.refuse != nil {
			s.pop()
			out.send = false
			if !*cycleErr {
				*cycleErr = true
				out.refusal = e.refuse
			}
			return nil
		}
	}
	if res == nil {
		return nil
	}
	return s.track(typ, out)
}

// track follows results when they are masked: which columns the rows now arriving have,
// and masks them.
func (s *session) track(typ byte, out *reply) error {
	res := s.res
	head, _ := s.peek()
	switch typ {
	case '2': // BindComplete
		e, ok := s.pop()
		if !ok || e.kind != 'B' {
			return errors.New("lost track of the protocol (an unexpected BindComplete)")
		}
		s.names.settle(e.one, true)
		fields := res.stmts[e.stmt]
		res.portals[e.name] = resultShape{fields: fields, formats: formatsFor(len(fields), e.formats)}
	case 't': // ParameterDescription: the first answer to a Describe of a statement
		if head.kind != 'D' {
			return errors.New("lost track of the protocol (an unexpected ParameterDescription)")
		}
		out.send = !head.own
	case 'T', 'n': // RowDescription, NoData
		if rs, ok := res.seen[string(out.body)]; ok && typ == 'T' && head.kind != 'D' {
			rs.ref = s.resultRef(head)
			res.cur = rs
			if head.out != nil {
				head.out.Columns(rs.shape.fields)
			}
			return nil
		}
		var fields []pgproto3.FieldDescription
		if typ == 'T' {
			f, err := decodeFields(out.body)
			if err != nil {
				return err
			}
			fields = f
		}
		if head.kind == 'D' {
			s.pop()
			if head.target == 'S' {
				res.stmts[head.name] = fields
			} else {
				res.portals[head.name] = resultShape{fields: fields, formats: fieldFormats(fields)}
			}
			out.send = !head.own
			return nil
		}
		// A simple Query's statement: its rows follow. The same query sends the same
		// description each time, so its rowSet (and masker) is kept by it (above).
		res.cur = &rowSet{shape: resultShape{fields: fields, formats: fieldFormats(fields)}, ref: s.resultRef(head)}
		if head.out != nil {
			head.out.Columns(fields)
		}
		if len(res.seen) >= maxSeenShapes {
			clear(res.seen)
		}
		res.seen[string(out.body)] = res.cur
	case 'D': // DataRow
		rs := res.cur
		if head.kind == 'E' {
			if res.exec == nil {
				shape, ok := res.portals[head.name]
				if !ok && res.m != nil {
					return errLostTrack
				}
				res.exec = &rowSet{shape: shape, ref: s.resultRef(head)}
				if head.out != nil {
					head.out.Columns(shape.fields)
				}
			}
			rs = res.exec
		}
		if res.m != nil {
			if rs == nil {
				return errLostTrack
			}
			var err error
			if out.body, err = res.maskRow(rs, out.body); err != nil {
				return err
			}
		}
		if head.out != nil {
			head.out.Row(out.body)
		}
		return nil
	case 'C', 'I', 's': // CommandComplete, EmptyQueryResponse, PortalSuspended
		out.send = !(res.dropping && typ == 'C')
		res.cur, res.dropping = nil, false
		if typ == 'C' {
			s.completed(head, out.body)
		}
		if head.out != nil && typ == 'C' && out.send {
			tag, _ := cstring(out.body)
			head.out.Complete(tag)
		}
		if head.kind == 'E' {
			s.pop()
			res.exec = nil
			if head.out != nil {
				head.out.Done()
			}
		}
	case '3': // CloseComplete
		e, ok := s.pop()
		if !ok || e.kind != 'C' {
			return errors.New("lost track of the protocol (an unexpected CloseComplete)")
		}
		s.names.settle(e.one, true)
		if e.target == 'S' {
			delete(res.stmts, e.name)
		} else {
			delete(res.portals, e.name)
		}
	case 'H': // CopyOutResponse
		if res.m == nil {
			return nil
		}
		var m pgproto3.CopyOutResponse
		if err := m.Decode(out.body); err != nil {
			return fmt.Errorf("copy out response: %w", err)
		}
		ref := CopyRef{SQL: head.sql, Binary: m.OverallFormat == 1}
		if head.kind == 'Z' {
			ref.Nth = res.copies
			res.copies++
		}
		rows, err := res.m.CopyOut(ref)
		if err != nil {
			res.dropping = true
			out.send, out.refusal = false, err
			return nil
		}
		res.copying = rows
	case 'd': // CopyData
		if res.m == nil {
			return nil
		}
		switch {
		case res.dropping:
			out.send = false
		case res.copying != nil:
			var err error
			if out.body, err = res.copying.Row(out.body); err != nil {
				return fmt.Errorf("mask COPY row: %w", err)
			}
			if head.out != nil {
				head.out.Row(nil)
			}
		}
	case 'c': // CopyDone
		res.copying = nil
		out.send = !res.dropping
	}
	return nil
}

// resultRef says which statement the result now arriving for head comes from: the
// statement of a Query's text that runs now (as many have completed before it), or the one
// an Execute runs.
func (s *session) resultRef(head expectation) ResultRef {
	ref := ResultRef{SQL: head.sql, Names: s.names}
	if head.kind == 'Z' && head.query != nil {
		ref.Nth = head.query.ran
	}
	return ref
}

// completed follows a CommandComplete: the next statement of the Query (or the Execute)
// at the head has run, and what it changes is done.
func (s *session) completed(head expectation, body []byte) {
	if bytes.Equal(body, tagRollback) {
		s.names.rolledBack()
	}
	q := head.query
	if q == nil || head.kind != 'Z' && head.kind != 'E' {
		return
	}
	for i, c := range q.changes {
		if q.stmts[i] == q.ran {
			s.names.settle(c, true)
		}
	}
	q.ran++
}

// tagRollback is the CommandComplete of ROLLBACK, and of a COMMIT that rolled back.
var tagRollback = []byte("ROLLBACK\x00")
