package server

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/internal/journal"
	"github.com/hoopgw/hoop/internal/jsonw"
	"github.com/hoopgw/hoop/server/identity"
	"github.com/hoopgw/hoop/server/postgres"
	"github.com/hoopgw/hoop/store"
)

// recorder keeps the record of every session. A write is appended to the journal, the
// write-ahead log in the data dir, before it returns: that is the statement's durable
// record, written before the statement is forwarded. The ingester then applies the
// journal's records to the store in large batches, one transaction each, sealing their
// audit events into the chain, and releases them; after a crash, the records the store
// lacks are replayed from the journal at start-up.
//
// When the store refuses a batch, the records stay in the journal and are retried, and
// writes are refused (fail closed) until it takes them: a statement is never forwarded
// with a record that may not reach the store.
type recorder struct {
	st      *store.Store
	j       *journal.Journal
	gateway string // this gateway's id, which its journal marks in the store are kept under
	seal    store.Sealer
	log     *slog.Logger
	publish func([]*store.Event) // after each commit: the events it made durable

	commits atomic.Int64 // transactions committed, for measurements

	mu       sync.Mutex
	pending  []pending     // journaled, not in the store yet, in LSN order
	applied  uint64        // the newest LSN in the store
	failure  error         // why the store refuses records, while it does; nil when it takes them
	closed   bool          //
	hurry    bool          // someone waits for the store: skip the gathering pause
	progress chan struct{} // closed, and replaced, when applied, failure or closed change
	wake     chan struct{}
	stopped  chan struct{}
}

// encodeBuffers hold batches' journal encodings while they are appended.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// pending is a journaled batch the store lacks.
type pending struct {
	lsn     uint64
	b       *store.Batch
	answers *store.Statement // for an outcome (b.Finished[0]): the statement it answers, as sent
}

const (
	// gatherFor is how long the ingester lets records pile up before a commit: at a
	// thousand statements a second, a commit takes fifty. Bigger commits cost the store
	// less per record; a reader of the store hurries the next one (sync).
	gatherFor = 50 * time.Millisecond
	// maxIngest is the most journal records one commit applies.
	maxIngest = 2048
	// maxPending is how many records may wait for the store before writes wait for it.
	maxPending = 100000
	// retryAfter is the first pause before the ingester retries a batch the store refused;
	// it doubles up to retryMax.
	retryAfter = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// errRecorderClosed is returned for a write after the gateway began to stop.
var errRecorderClosed = errors.New("the recorder is stopped")

// newRecorder opens the journal in dir ("" keeps it in memory only, for an in-memory
// store), applies to st what it holds that st lacks, and starts the ingester.
func newRecorder(ctx context.Context, st *store.Store, dir, gatewayID string, seal store.Sealer, log *slog.Logger, publish func([]*store.Event)) (*recorder, error) {
	j, err := journal.Open(dir, journal.Options{})
	if err != nil {
		return nil, err
	}
	if n := j.Cut(); n > 0 {
		log.Warn("journal: cut a torn record at its end (a write the last stop interrupted)", "bytes", n)
	}
	r := &recorder{st: st, j: j, gateway: gatewayID, seal: seal, log: log, publish: publish,
		progress: make(chan struct{}), wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	if err := r.recover(ctx); err != nil {
		j.Close()
		return nil, err
	}
	go r.run()
	return r, nil
}

// recover applies the journal's records after the store's mark for this gateway.
func (r *recorder) recover(ctx context.Context) error {
	applied, err := r.st.AppliedLSN(ctx, r.gateway)
	if err != nil {
		return err
	}
	r.j.Skip(applied)
	r.applied = applied
	var batch []pending
	replayed := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.commitOne(ctx, merge(batch, r.gateway)); err != nil {
			return fmt.Errorf("journal: replaying records %d…%d into the store: %w", batch[0].lsn, batch[len(batch)-1].lsn, err)
		}
		r.applied = batch[len(batch)-1].lsn
		replayed += len(batch)
		batch = batch[:0]
		return nil
	}
	err = r.j.Replay(applied, func(lsn uint64, p []byte) error {
		b, err := store.DecodeBatch(p)
		if err != nil {
			return fmt.Errorf("journal record %d: %w", lsn, err)
		}
		for _, e := range b.Events {
			e.Time = e.Time.UTC()
		}
		if batch = append(batch, pending{lsn: lsn, b: b}); len(batch) == maxIngest {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if replayed > 0 {
		r.log.Warn("journal: applied records the store lacked (the last stop was not clean)", "records", replayed)
	}
	return r.j.Release(r.applied)
}

// write journals b and returns once the journal holds it: b is the durable record of what
// is about to happen. It fails when the journal can't take b, or while the store refuses
// records.
func (r *recorder) write(b *store.Batch) error { return r.add(b, true, nil) }

// post journals b for the next write or the ingester's next commit, without waiting:
// outcomes, ends and events that don't hold anything up. They are kept while the store
// refuses records; it gets them once it takes records again.
func (r *recorder) post(b *store.Batch) { r.postAnswer(b, nil) }

// postAnswer is post for an outcome, b.Finished[0], of the statement sent as sent: the
// ingester finds it by that pointer rather than by session and seq.
func (r *recorder) postAnswer(b *store.Batch, sent *store.Statement) {
	if err := r.add(b, false, sent); err != nil {
		r.log.Error("record lost", "err", err, "sessions_ended", len(b.Ended), "statements", len(b.Sent)+len(b.Finished), "events", len(b.Events))
	}
}

func (r *recorder) add(b *store.Batch, sync bool, answers *store.Statement) error {
	// Encoded before the lock: the sessions' writers take turns for the append alone.
	buf := encodeBuffers.Get().(*[]byte)
	*buf = store.AppendBatch((*buf)[:0], b)
	defer func() {
		if cap(*buf) <= 1<<20 {
			encodeBuffers.Put(buf)
		}
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if sync {
		for r.failure == nil && !r.closed && len(r.pending) >= maxPending {
			// The store is behind by more than it should ever be: wait for it.
			r.hurry = true
			progress := r.progress
			r.mu.Unlock()
			select {
			case <-progress:
			case <-time.After(10 * time.Second):
				r.mu.Lock()
				return fmt.Errorf("the store is %d records behind", len(r.pending))
			}
			r.mu.Lock()
		}
		if r.failure != nil {
			return fmt.Errorf("the store refuses records: %w", r.failure)
		}
	}
	if r.closed {
		return errRecorderClosed
	}
	lsn, err := r.j.Append(*buf, sync)
	if err != nil {
		return err
	}
	r.pending = append(r.pending, pending{lsn: lsn, b: b, answers: answers})
	if len(r.pending) == 1 {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// sync waits until the store holds every record written or posted before it was called.
func (r *recorder) sync(ctx context.Context) error {
	r.mu.Lock()
	target := r.j.Last()
	for r.applied < target {
		if r.failure != nil {
			err := r.failure
			r.mu.Unlock()
			return fmt.Errorf("the store refuses records: %w", err)
		}
		if r.closed {
			r.mu.Unlock()
			return errRecorderClosed
		}
		r.hurry = true
		progress := r.progress
		r.mu.Unlock()
		select {
		case r.wake <- struct{}{}:
		default:
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		}
		r.mu.Lock()
	}
	r.mu.Unlock()
	return nil
}

// SyncRecords waits until the store holds every record the gateway wrote before the call.
func (g *Gateway) SyncRecords(ctx context.Context) error {
	if g.rec == nil {
		return nil
	}
	return g.rec.sync(ctx)
}

// changed wakes whoever waits for progress; r.mu is held.
func (r *recorder) changed() {
	close(r.progress)
	r.progress = make(chan struct{})
}

// close applies what is journaled, if the store takes it, and stops.
func (r *recorder) close() {
	r.mu.Lock()
	already := r.closed
	r.closed = true
	r.changed()
	r.mu.Unlock()
	if !already {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	<-r.stopped
}

// run is the ingester.
func (r *recorder) run() {
	defer close(r.stopped)
	backoff := time.Duration(0)
	for {
		r.mu.Lock()
		idle := len(r.pending) == 0 && !r.closed
		r.mu.Unlock()
		if idle {
			<-r.wake
		}
		pause := gatherFor
		if backoff > 0 {
			pause = backoff
		}
		r.mu.Lock()
		if r.hurry || r.closed || len(r.pending) >= maxIngest {
			if backoff == 0 {
				pause = 0
			}
		}
		r.mu.Unlock()
		if pause > 0 {
			select {
			case <-time.After(pause):
			case <-r.wake: // sync or close: apply now
			}
		}
		r.mu.Lock()
		r.hurry = false
		n := min(len(r.pending), maxIngest)
		items := r.pending[:n:n]
		closed := r.closed
		r.mu.Unlock()
		if n > 0 {
			// The posts in the batch go to the journal first, so that the store never
			// holds a record the journal may lose.
			err := r.j.Flush()
			if err == nil {
				err = r.commitOne(context.Background(), merge(items, r.gateway))
			}
			r.mu.Lock()
			if err == nil {
				r.pending = r.pending[n:]
				if len(r.pending) == 0 {
					r.pending = nil // let the backing array go
				}
				r.applied = items[n-1].lsn
				if r.failure != nil {
					r.log.Info("the store takes records again", "applied", len(items))
				}
				r.failure = nil
				backoff = 0
			} else {
				for _, it := range items {
					for _, e := range it.b.Events {
						e.Seq, e.Prev, e.Hash = 0, nil, nil
					}
				}
				if r.failure == nil {
					r.log.Error("the store refuses records: statements are refused until it takes them; they wait in the journal",
						"records", len(r.pending), "err", err)
				}
				r.failure = err
				backoff = min(max(2*backoff, retryAfter), retryMax)
			}
			metrics.recordsPending.Set(float64(len(r.pending)))
			r.changed()
			r.mu.Unlock()
			if err == nil {
				if err := r.j.Release(items[n-1].lsn); err != nil {
					r.log.Warn("journal: release", "err", err)
				}
			}
		}
		if closed {
			r.mu.Lock()
			left := len(r.pending)
			r.mu.Unlock()
			if left == 0 || backoff > 0 {
				if left > 0 {
					r.log.Error("stopped with records the store refused: they are in the journal, and the next start applies them", "records", left)
				}
				if err := r.j.Close(); err != nil {
					r.log.Error("journal: close", "err", err)
				}
				return
			}
		}
	}
}

// merge makes one store batch of journaled ones, marked as applying the journal up to
// the last. A statement sent and finished within it is written once, with its outcome.
func merge(items []pending, gateway string) *store.Batch {
	all := &store.Batch{Applied: &store.Applied{GatewayID: gateway, LSN: items[len(items)-1].lsn}}
	type key struct {
		session string
		seq     int64
	}
	sent := make(map[*store.Statement]int, len(items)) // by pointer: cheaper than by key
	var byKey map[key]int                              // made when an outcome comes without its pointer (replayed)
	for _, it := range items {
		b := it.b
		all.Opened = append(all.Opened, b.Opened...)
		for _, st := range b.Sent {
			sent[st] = len(all.Sent)
			if byKey != nil {
				byKey[key{st.SessionID, st.Seq}] = len(all.Sent)
			}
			all.Sent = append(all.Sent, st)
		}
		for j, st := range b.Finished {
			i, ok := -1, false
			if j == 0 && it.answers != nil {
				i, ok = sent[it.answers]
			} else {
				if byKey == nil {
					byKey = make(map[key]int, len(all.Sent))
					for i, st := range all.Sent {
						byKey[key{st.SessionID, st.Seq}] = i
					}
				}
				i, ok = byKey[key{st.SessionID, st.Seq}]
			}
			if ok {
				done := *all.Sent[i]
				done.ApplyOutcome(st)
				all.Sent[i] = &done
				continue
			}
			all.Finished = append(all.Finished, st)
		}
		all.Ended = append(all.Ended, b.Ended...)
		all.Events = append(all.Events, b.Events...)
	}
	return all
}

func (r *recorder) commitOne(ctx context.Context, b *store.Batch) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
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

// event builds an audit event; data is marshalled once, and its text is what the chain
// hashes.
func event(kind, actor, connection, session string, data map[string]any) *store.Event {
	b, err := audit.Event{Data: data}.DataJSON()
	if err != nil {
		b, _ = audit.Event{Data: map[string]any{"marshal_error": err.Error()}}.DataJSON()
	}
	return eventText(kind, actor, connection, session, string(b))
}

// validUTF8 replaces each byte of s that is not UTF-8 with U+FFFD, as a round trip of
// DataJSON through ParseData does (encoding/json would write the escape \ufffd instead).
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

// eventText builds an audit event whose data is given as its canonical text
// (audit.Event.DataJSON's).
func eventText(kind, actor, connection, session, data string) *store.Event {
	return &store.Event{Time: time.Now().UTC().Truncate(time.Microsecond), Kind: kind, Actor: actor, Connection: connection, Session: session, Data: data}
}

// statementData is a statement event's data, written as DataJSON writes the map
// {"class", "decision", "error" (when there is one), "policy_version", "rule", "seq",
// "sql"} but without reflection: one is written per statement. Class, decision, rule and
// policy version are the gateway's own UTF-8; the text and error may not be.
func statementData(st *store.Statement) string {
	b := make([]byte, 0, 96+len(st.Class)+len(st.Decision)+len(st.Error)+len(st.PolicyVersion)+len(st.Rule)+min(len(st.SQL), 1004))
	b = append(b, `{"class":`...)
	b = jsonw.String(b, st.Class)
	b = append(b, `,"decision":`...)
	b = jsonw.String(b, st.Decision)
	if st.Error != "" {
		b = append(b, `,"error":`...)
		b = jsonw.String(b, validUTF8(st.Error))
	}
	b = append(b, `,"policy_version":`...)
	b = jsonw.String(b, st.PolicyVersion)
	b = append(b, `,"rule":`...)
	b = jsonw.String(b, st.Rule)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, st.Seq, 10)
	b = append(b, `,"sql":`...)
	b = jsonw.String(b, validUTF8(truncate(st.SQL, 1000)))
	b = append(b, '}')
	return string(b)
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
	actor  string // who.String(): its events' actor
	conn   string
	masker *sessionMasker // masks parameters and statement texts for the record; may be nil
	rows   int            // result rows kept per statement
	seq    int64          // the client side's statement counter
	ended  sync.Once      //
}

// openRecord records a session's start, durably, before its first statement.
func (g *Gateway) openRecord(who identity.Identity, tunnelID, remote string, c string, grant *postgres.Grant, info postgres.SessionInfo) (*sessionRecorder, error) {
	sr := &sessionRecorder{g: g, id: newID("s"), who: who, actor: who.String(), conn: c, rows: g.cfg.Recording.RowsPerStatement}
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
	now := time.Now()
	// The record's parts in one allocation: one is made per statement.
	rec := &sentRecord{st: store.Statement{SessionID: sr.id, Seq: sr.seq, StartedAt: now, SQL: sr.sqlText(in.SQL), Params: sr.params(in.SQL, in.Params),
		State: store.StateSent, ReviewID: in.ReviewID}}
	st := &rec.st
	d := in.Decision // an Execute's: the statement's it runs
	switch {
	case in.Unread:
		// Refused before any decision.
		d = postgres.Decision{Class: "unknown", Verdict: "deny"}
	case d.Verdict == "":
		d.Verdict = "allow" // no gate, or an Execute of a statement the gateway does not know
		if in.Execute {
			d.Class = "unknown"
		}
	}
	st.Class, st.Decision, st.Rule, st.PolicyVersion = d.Class, d.Verdict, d.Rule, d.PolicyVersion
	if in.Refusal != nil {
		st.State, st.Error = store.StateRefused, sr.text(in.Refusal.Error())
		if st.Decision == "allow" {
			st.Decision = "deny"
		}
	}
	metrics.statements.WithLabelValues(st.Class, st.Decision).Inc()
	if st.Decision == "deny" {
		metrics.denials.WithLabelValues("statement").Inc()
	}
	rec.ev = store.Event{Time: now.UTC().Truncate(time.Microsecond), Kind: "statement", Actor: sr.actor, Connection: sr.conn, Session: sr.id,
		Data: statementData(st)}
	rec.sent[0], rec.events[0] = st, &rec.ev
	b := &rec.b
	b.Sent, b.Events = rec.sent[:], rec.events[:]
	if in.Refusal != nil {
		sr.g.rec.post(b)
		return nil, nil
	}
	if err := sr.g.rec.write(b); err != nil {
		metrics.recordFailures.Inc()
		// The refusal is recorded when the store takes records again (if the journal
		// takes it now).
		st.State, st.Error = store.StateRefused, "could not record it: "+err.Error()
		b.Events[0] = eventText("statement", sr.actor, sr.conn, sr.id, statementData(st))
		sr.g.rec.post(b)
		return nil, err
	}
	// The batch is the ingester's now: the outcome fills a record of its own.
	return &outcome{sr: sr, ans: store.Statement{SessionID: sr.id, Seq: st.Seq}, of: st, sent: now}, nil
}

// sentRecord is a statement's write-ahead record: the batch and what it points to.
type sentRecord struct {
	b      store.Batch
	st     store.Statement
	ev     store.Event
	sent   [1]*store.Statement
	events [1]*store.Event
}

// text masks a statement text or message for the record, with the session's detectors.
func (sr *sessionRecorder) text(s string) string { return maskText(sr.masker, s) }

// sqlText is text for a statement's text.
func (sr *sessionRecorder) sqlText(sql string) string { return sr.masker.statement(sql) }

// maskText masks s with the session's detectors: what every text the gateway keeps of a
// session goes through, statement texts, parameters and messages alike, in the recording,
// the log, the audit trail, reviews and notifications. A nil masker (no rule masks the
// session) returns s.
func maskText(masker *sessionMasker, s string) string {
	if masker == nil || s == "" {
		return s
	}
	return string(masker.scan([]byte(s), false, false))
}

func (sr *sessionRecorder) params(sql string, ps []postgres.Param) []*string {
	return maskParams(sr.masker, sql, ps)
}

// maskParams renders the bind parameters of statement sql for a record or a review: text
// ones masked, binary ones as hex (masked to a marker when a detector finds anything in
// their bytes); those that go into or are compared with a masked column masked whole.
func maskParams(masker *sessionMasker, sql string, ps []postgres.Param) []*string {
	if len(ps) == 0 {
		return nil
	}
	var whole []int
	if masker != nil {
		_, whole = masker.statementParams(sql)
	}
	out := make([]*string, len(ps))
	for i, p := range ps {
		if p.Null {
			continue
		}
		var v string
		switch {
		case slices.Contains(whole, i+1) && (p.Binary || p.Omitted > 0):
			v = "[REDACTED]" // a masked column's value
		case slices.Contains(whole, i+1):
			v = masker.literalValue(string(p.Value)) // a masked column's value, as its rule masks it
		case p.Omitted > 0:
			v = fmt.Sprintf("[%d bytes: too large to record]", p.Omitted)
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
			Events: []*store.Event{event("session.end", sr.actor, sr.conn, sr.id, map[string]any{"reason": reason, "statements": sr.seq})},
		})
	})
}

// outcome collects one statement's answer; it implements postgres.Outcome.
type outcome struct {
	sr      *sessionRecorder
	ans     store.Statement  // the outcome's fields, and the statement's session and seq
	of      *store.Statement // the statement as its record has it
	sent    time.Time
	formats []int16
	tags    []string
	kept    int // bytes of the rows kept
	done    bool
}

func (o *outcome) Columns(fields []pgproto3.FieldDescription) {
	o.formats = o.formats[:0]
	cols := make([]string, len(fields))
	for i, f := range fields {
		cols[i] = string(f.Name)
		o.formats = append(o.formats, f.Format)
	}
	if o.ans.Columns == nil {
		o.ans.Columns = cols
	}
}

// What the record keeps of a statement's result rows is bounded in bytes as well as in
// rows: a value over maxRecordedValue is kept as its size, and rows stop being kept once
// maxRecordedRowBytes of them are.
const (
	maxRecordedValue    = 64 << 10
	maxRecordedRowBytes = 4 << 20
)

func (o *outcome) Row(body []byte) {
	o.ans.RowCount++
	if len(o.ans.Rows) >= o.sr.rows || o.kept >= maxRecordedRowBytes {
		return
	}
	row, ok := decodeRow(body, o.formats)
	if ok {
		o.ans.Rows = append(o.ans.Rows, row)
		for _, v := range row {
			if v != nil {
				o.kept += len(*v)
			}
		}
	}
}

// decodeRow renders a DataRow's values as text: binary ones as \x hex, one over
// maxRecordedValue as its size.
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
		var v string
		switch {
		case size > maxRecordedValue:
			v = fmt.Sprintf("[%d bytes: too large to record]", size)
		case i < len(formats) && formats[i] == 1:
			v = `\x` + hex.EncodeToString(body[p:p+size])
		default:
			v = string(body[p : p+size])
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
	if o.ans.Error == "" {
		o.ans.Error = fmt.Sprintf("%s (SQLSTATE %s)", message, code)
	}
}

func (o *outcome) Done() {
	if o.done {
		return
	}
	o.done = true
	// The outcome alone: the statement's record has the rest.
	st := &o.ans
	st.State, st.Duration, st.CommandTag = store.StateDone, time.Since(o.sent), strings.Join(o.tags, "; ")
	if n, ok := affected(o.tags); ok && st.RowCount == 0 {
		st.RowCount = n
	}
	b := &store.Batch{Finished: []*store.Statement{st}}
	if o.sr.masker != nil {
		st.Masking = o.sr.masker.takeStatement()
		var cols []string
		for k, n := range st.Masking {
			if c, ok := strings.CutPrefix(k, "column:"); ok {
				cols = append(cols, c)
			} else if strings.HasPrefix(k, "opaque: ") {
				cols = append(cols, k) // masked whole, its lineage not traced: maybe an evasion
			}
			metrics.masked.WithLabelValues(k).Add(float64(n))
		}
		if len(cols) > 0 {
			// A read of a column a rule masks: alert rules may watch for these.
			b.Events = append(b.Events, event("mask.column", o.sr.actor, o.sr.conn, o.sr.id,
				map[string]any{"seq": st.Seq, "columns": cols, "masking": st.Masking}))
		}
	}
	o.sr.g.rec.postAnswer(b, o.of)
}

// affected sums the row counts of command tags such as "UPDATE 3" or "INSERT 0 2".
func affected(tags []string) (int64, bool) {
	var n int64
	ok := false
	for _, t := range tags {
		i := strings.LastIndexByte(t, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseInt(t[i+1:], 10, 64); err == nil {
			n += v
			ok = true
		}
	}
	return n, ok
}
