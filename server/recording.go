package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
	"github.com/hoopgw/hoop/store"
)

// recorder writes records to the store with group commit: whatever is queued when a
// commit starts goes into that one transaction. A statement's writer waits for the commit
// that holds its record (write-ahead); the outcomes, which nobody waits on, ride along with
// the next commit.
type recorder struct {
	st      *store.Store
	seal    store.Sealer
	log     *slog.Logger
	publish func([]*store.Event) // after each commit: the events it made durable

	commits atomic.Int64 // transactions committed, for measurements

	mu      sync.Mutex
	queue   []recItem
	closed  bool
	wake    chan struct{}
	stopped chan struct{}
}

type recItem struct {
	b    *store.Batch
	done chan error // nil: nobody waits
}

func newRecorder(st *store.Store, seal store.Sealer, log *slog.Logger, publish func([]*store.Event)) *recorder {
	r := &recorder{st: st, seal: seal, log: log, publish: publish, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	go r.run()
	return r
}

// errRecorderClosed is returned for a write after the gateway began to stop.
var errRecorderClosed = errors.New("the recorder is stopped")

// enqueue queues it; a write (it.done set) wakes the writer at once, a post waits for
// the next write or for the writer's tick, so that outcomes ride along with the next
// statement's commit instead of costing one of their own.
func (r *recorder) enqueue(it recItem) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	r.queue = append(r.queue, it)
	r.mu.Unlock()
	if it.done != nil {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// postDelay bounds how long a post waits for a write to ride with.
const postDelay = 20 * time.Millisecond

// write commits b and returns once it is durable, or why it is not.
func (r *recorder) write(b *store.Batch) error {
	done := make(chan error, 1)
	if !r.enqueue(recItem{b: b, done: done}) {
		return errRecorderClosed
	}
	return <-done
}

// post queues b for the next commit without waiting.
func (r *recorder) post(b *store.Batch) {
	if !r.enqueue(recItem{b: b}) {
		r.log.Error("record lost: the recorder is stopped", "sessions_ended", len(b.Ended), "statements", len(b.Finished), "events", len(b.Events))
	}
}

// close commits what is queued and stops.
func (r *recorder) close() {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.mu.Unlock()
	if !already {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	<-r.stopped
}

func (r *recorder) run() {
	defer close(r.stopped)
	tick := time.NewTicker(postDelay)
	defer tick.Stop()
	for {
		select {
		case <-r.wake:
		case <-tick.C:
		}
		r.mu.Lock()
		items := r.queue
		r.queue = nil
		closed := r.closed
		r.mu.Unlock()
		if len(items) > 0 {
			r.commit(items)
		}
		if closed {
			r.mu.Lock()
			rest := r.queue
			r.queue = nil
			r.mu.Unlock()
			if len(rest) > 0 {
				r.commit(rest)
			}
			return
		}
	}
}

// commit writes items in one transaction; when that fails, each on its own, so that one
// bad record does not sink the others.
func (r *recorder) commit(items []recItem) {
	var all store.Batch
	for _, it := range items {
		all.Opened = append(all.Opened, it.b.Opened...)
		all.Sent = append(all.Sent, it.b.Sent...)
		all.Finished = append(all.Finished, it.b.Finished...)
		all.Ended = append(all.Ended, it.b.Ended...)
		all.Events = append(all.Events, it.b.Events...)
	}
	err := r.commitOne(&all)
	if err == nil {
		for _, it := range items {
			if it.done != nil {
				it.done <- nil
			}
		}
		return
	}
	if len(items) == 1 {
		r.fail(items[0], err)
		return
	}
	for _, it := range items {
		for _, e := range it.b.Events {
			e.Seq, e.Prev, e.Hash = 0, nil, nil
		}
		if err := r.commitOne(it.b); err != nil {
			r.fail(it, err)
		} else if it.done != nil {
			it.done <- nil
		}
	}
}

func (r *recorder) commitOne(b *store.Batch) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := r.st.Commit(ctx, b, r.seal)
	observeStoreWrite(time.Since(start), err)
	r.commits.Add(1)
	if err == nil && len(b.Events) > 0 && r.publish != nil {
		r.publish(b.Events)
	}
	return err
}

func (r *recorder) fail(it recItem, err error) {
	if it.done != nil {
		it.done <- err
		return
	}
	r.log.Error("record lost: the store refused it", "err", err,
		"sessions_ended", len(it.b.Ended), "statements", len(it.b.Finished), "events", len(it.b.Events))
}

// event builds an audit event; data is marshalled once, and its text is what the chain
// hashes.
func event(kind, actor, connection, session string, data map[string]any) *store.Event {
	b, err := audit.Event{Data: data}.DataJSON()
	if err != nil {
		b, _ = audit.Event{Data: map[string]any{"marshal_error": err.Error()}}.DataJSON()
	}
	return &store.Event{Time: time.Now().UTC().Truncate(time.Microsecond), Kind: kind, Actor: actor, Connection: connection, Session: session, Data: string(b)}
}

// audit records a security event on its own; it is durable once the next commit is.
func (g *Gateway) audit(kind, actor, connection, session string, data map[string]any) {
	if g.rec == nil {
		return
	}
	g.rec.post(&store.Batch{Events: []*store.Event{event(kind, actor, connection, session, data)}})
}

// sessionRecorder records one database session; it implements postgres.Recorder.
type sessionRecorder struct {
	g      *Gateway
	id     string
	who    identity.Identity
	conn   string
	gate   *sessionGate   // how each statement was decided; nil without statement policy
	masker *sessionMasker // masks parameters and statement texts for the record; may be nil
	rows   int            // result rows kept per statement
	seq    int64          // the client side's statement counter
	ended  sync.Once      //
}

// openRecord records a session's start, durably, before its first statement.
func (g *Gateway) openRecord(who identity.Identity, tunnelID, remote string, c string, grant *postgres.Grant, info postgres.SessionInfo) (*sessionRecorder, error) {
	sr := &sessionRecorder{g: g, id: newID("s"), who: who, conn: c, rows: g.cfg.Recording.RowsPerStatement}
	sr.gate, _ = grant.Gate.(*sessionGate)
	sr.masker, _ = grant.Masker.(*sessionMasker)
	se := &store.Session{ID: sr.id, GatewayID: g.gatewayID, TunnelID: tunnelID, Subject: who.Subject, Email: who.Email,
		Groups: who.Groups, Connection: c, Access: grant.Level, DBUser: info.DBUser, Application: info.Application,
		SourceAddr: remote, StartedAt: time.Now()}
	ev := event("session.start", who.String(), c, sr.id, map[string]any{
		"tunnel": tunnelID, "access": grant.Level, "db_user": info.DBUser, "application": info.Application,
		"source": remote, "groups": nonNil(who.Groups), "rules": nonNil(grant.Rules)})
	if err := g.rec.write(&store.Batch{Opened: []*store.Session{se}, Events: []*store.Event{ev}}); err != nil {
		return nil, err
	}
	metrics.sessions.Inc()
	return sr, nil
}

// Statement implements postgres.Recorder.
func (sr *sessionRecorder) Statement(in postgres.StatementInfo) (postgres.Outcome, error) {
	sr.seq++
	st := &store.Statement{SessionID: sr.id, Seq: sr.seq, StartedAt: time.Now(), SQL: sr.text(in.SQL), Params: sr.params(in.Params),
		State: store.StateSent, ReviewID: in.ReviewID}
	d := decided{decision: "allow"}
	if sr.gate != nil {
		d = sr.gate.last
		if in.Execute {
			d = sr.gate.parsed[in.Prepared]
			if d.decision == "" {
				d = decided{decision: "allow", class: "unknown"}
			}
		}
	}
	st.Class, st.Decision, st.Rule, st.PolicyVersion = d.class, d.decision, d.rule, d.version
	if in.Refusal != nil {
		st.State, st.Error = store.StateRefused, sr.text(in.Refusal.Error())
		if st.Decision == "allow" {
			st.Decision = "deny"
		}
	}
	metrics.statements.WithLabelValues(st.Class, st.Decision).Inc()
	data := map[string]any{"seq": st.Seq, "class": st.Class, "decision": st.Decision, "rule": st.Rule,
		"policy_version": st.PolicyVersion, "sql": truncate(st.SQL, 1000)}
	if st.Error != "" {
		data["error"] = st.Error
	}
	b := &store.Batch{Sent: []*store.Statement{st}, Events: []*store.Event{event("statement", sr.who.String(), sr.conn, sr.id, data)}}
	if in.Refusal != nil {
		sr.g.rec.post(b)
		return nil, nil
	}
	if err := sr.g.rec.write(b); err != nil {
		metrics.recordFailures.Inc()
		return nil, err
	}
	return &outcome{sr: sr, st: st, sent: time.Now()}, nil
}

// text masks a statement text or message for the record, with the session's detectors.
func (sr *sessionRecorder) text(s string) string { return maskText(sr.masker, s) }

func maskText(masker *sessionMasker, s string) string {
	if masker == nil || s == "" {
		return s
	}
	return string(masker.scan([]byte(s), false, false))
}

func (sr *sessionRecorder) params(ps []postgres.Param) []*string { return maskParams(sr.masker, ps) }

// maskParams renders bind parameters for a record or a review: text ones masked, binary
// ones as hex (masked to a marker when a detector finds anything in their bytes).
func maskParams(masker *sessionMasker, ps []postgres.Param) []*string {
	if len(ps) == 0 {
		return nil
	}
	out := make([]*string, len(ps))
	for i, p := range ps {
		if p.Null {
			continue
		}
		var v string
		switch {
		case !p.Binary:
			v = maskText(masker, string(p.Value))
		case masker != nil && !sameBytes(masker.scan(p.Value, false, false), p.Value):
			v = "[REDACTED]"
		default:
			v = `\x` + hex.EncodeToString(p.Value)
		}
		out[i] = &v
	}
	return out
}

// End implements postgres.Recorder.
func (sr *sessionRecorder) End(reason string) {
	sr.ended.Do(func() {
		sr.g.rec.post(&store.Batch{
			Ended:  []store.SessionEnd{{ID: sr.id, At: time.Now(), Reason: reason}},
			Events: []*store.Event{event("session.end", sr.who.String(), sr.conn, sr.id, map[string]any{"reason": reason, "statements": sr.seq})},
		})
	})
}

// outcome collects one statement's answer; it implements postgres.Outcome.
type outcome struct {
	sr      *sessionRecorder
	st      *store.Statement
	sent    time.Time
	formats []int16
	tags    []string
	done    bool
}

func (o *outcome) Columns(fields []pgproto3.FieldDescription) {
	o.formats = o.formats[:0]
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = string(f.Name)
		o.formats = append(o.formats, f.Format)
	}
	if o.st.Columns == nil {
		o.st.Columns = cols
	}
}

func (o *outcome) Row(body []byte) {
	o.st.RowCount++
	if len(o.st.Rows) >= o.sr.rows {
		return
	}
	row, ok := decodeRow(body, o.formats)
	if ok {
		o.st.Rows = append(o.st.Rows, row)
	}
}

// decodeRow renders a DataRow's values as text: binary ones as \x hex.
func decodeRow(body []byte, formats []int16) ([]*string, bool) {
	if len(body) < 2 {
		return nil, false
	}
	n := int(binary.BigEndian.Uint16(body))
	row := make([]*string, n)
	p := 2
	for i := range n {
		if len(body) < p+4 {
			return nil, false
		}
		size := int(int32(binary.BigEndian.Uint32(body[p:])))
		p += 4
		if size < 0 {
			continue
		}
		if len(body) < p+size {
			return nil, false
		}
		v := string(body[p : p+size])
		if i < len(formats) && formats[i] == 1 {
			v = `\x` + hex.EncodeToString(body[p:p+size])
		}
		row[i] = &v
		p += size
	}
	return row, true
}

func (o *outcome) Complete(tag string) {
	o.tags = append(o.tags, tag)
}

func (o *outcome) Error(code, message string) {
	if o.st.Error == "" {
		o.st.Error = fmt.Sprintf("%s (SQLSTATE %s)", message, code)
	}
}

func (o *outcome) Done() {
	if o.done {
		return
	}
	o.done = true
	st := *o.st
	st.State = store.StateDone
	st.Duration = time.Since(o.sent)
	st.CommandTag = strings.Join(o.tags, "; ")
	if n, ok := affected(o.tags); ok && st.RowCount == 0 {
		st.RowCount = n
	}
	b := &store.Batch{Finished: []*store.Statement{&st}}
	if o.sr.masker != nil {
		st.Masking = o.sr.masker.takeStatement()
		var cols []string
		for k, n := range st.Masking {
			if c, ok := strings.CutPrefix(k, "column:"); ok {
				cols = append(cols, c)
			}
			metrics.masked.WithLabelValues(k).Add(float64(n))
		}
		if len(cols) > 0 {
			// A read of a column a rule masks: alert rules may watch for these.
			b.Events = append(b.Events, event("mask.column", o.sr.who.String(), o.sr.conn, o.sr.id,
				map[string]any{"seq": st.Seq, "columns": cols, "masking": st.Masking}))
		}
	}
	o.sr.g.rec.post(b)
}

// affected sums the row counts of command tags such as "UPDATE 3" or "INSERT 0 2".
func affected(tags []string) (int64, bool) {
	var n int64
	ok := false
	for _, t := range tags {
		f := strings.Fields(t)
		if len(f) < 2 {
			continue
		}
		var v int64
		if _, err := fmt.Sscan(f[len(f)-1], &v); err == nil {
			n += v
			ok = true
		}
	}
	return n, ok
}
