package audit

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"time"
)

// HashSize is the size of an event's Hash and Prev: HMAC-SHA256.
const HashSize = sha256.Size

// Genesis returns the Prev of a chain's first event: 32 zero bytes.
func Genesis() []byte { return make([]byte, HashSize) }

// Sum returns what e.Hash must be: HMAC-SHA256(key, the canonical encoding of e), which
// covers everything but Seq and Hash, Prev included (see spec.md).
func (e Event) Sum(key []byte) ([]byte, error) {
	b, err := e.canonicalBytes()
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil), nil
}

// SumText is Sum for an event whose Data is given as its canonical text (DataJSON's, as
// a store keeps it), which it hashes as it is, without decoding it: e.Data is not used. A
// text that is not canonical gives a hash that Verify, which re-encodes Data, reports.
func (e Event) SumText(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(e.canonicalWith(data))
	return m.Sum(nil)
}

// TextHasher is SumText for many events with one key, keeping its HMAC state and buffer
// from one event to the next: a store seals one event per statement. It is not safe for
// concurrent use.
type TextHasher struct {
	mac hash.Hash
	buf []byte
}

// NewTextHasher returns a TextHasher for key.
func NewTextHasher(key []byte) *TextHasher {
	return &TextHasher{mac: hmac.New(sha256.New, key)}
}

// Sum returns e.SumText(key, data).
func (h *TextHasher) Sum(e Event, data []byte) []byte {
	h.buf = e.appendCanonical(h.buf[:0], data)
	h.mac.Reset()
	h.mac.Write(h.buf)
	if cap(h.buf) > 1<<20 {
		h.buf = nil
	}
	return h.mac.Sum(nil)
}

// Chain seals events into a keyed hash chain: each event's Prev is the Hash of the one
// before, and its Hash an HMAC that only the key's holder can make, so that an event
// edited, inserted or removed afterwards breaks the chain where it happened (Verify).
//
// The store calls Seal inside the transaction that appends the event, one at a time. If
// that transaction rolls back, the head has moved on with it: make the chain again with
// NewChain(key, the last stored Hash). Its methods are safe for concurrent use.
type Chain struct {
	mu   sync.Mutex
	key  []byte
	head []byte
}

// NewChain returns a chain that goes on from head, the Hash of the last event sealed
// (from the store); an empty head starts a new chain at Genesis.
func NewChain(key, head []byte) *Chain {
	if len(head) == 0 {
		head = Genesis()
	}
	return &Chain{key: bytes.Clone(key), head: bytes.Clone(head)}
}

// Seal links e to the head of the chain: it sets e.Prev to the head and e.Hash to
// e.Sum(key), and e becomes the head. It sets e.Time to now when it is zero, and to UTC
// truncated to the microsecond otherwise, which is what a database keeps of it. Seal
// does not set e.Seq: the store numbers events, 1 for the first and then one more each.
func (c *Chain) Seal(e *Event) error {
	if e.Kind == "" {
		return errors.New("audit seal: event has no kind")
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond)
	c.mu.Lock()
	defer c.mu.Unlock()
	e.Prev = bytes.Clone(c.head)
	sum, err := e.Sum(c.key)
	if err != nil {
		return fmt.Errorf("audit seal %s: %w", e.Kind, err)
	}
	e.Hash = sum
	c.head = bytes.Clone(sum)
	return nil
}

// Head returns the Hash of the last event sealed (Genesis for a new chain).
func (c *Chain) Head() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.head)
}

// BreakKind says how a chain was found broken.
type BreakKind string

// The ways a chain breaks.
const (
	// BreakEdited: the event's hash does not match its content, and the next event
	// links to the hash it has: its content was changed in place.
	BreakEdited BreakKind = "edited"
	// BreakInserted: the event does not belong where it is, and the next event links to
	// the one before it: it was added (or a real event was copied or moved there).
	BreakInserted BreakKind = "inserted"
	// BreakMissing: the event verifies but does not link to the one before it, or its
	// Seq skips numbers: events were removed before it.
	BreakMissing BreakKind = "missing"
	// BreakEditedOrInserted: the last event does not match its hash, and there is no
	// next event to tell an edit from an insertion.
	BreakEditedOrInserted BreakKind = "edited or inserted"
)

// Report is the result of Verify.
type Report struct {
	OK      bool      // every event verified and linked to the one before
	Checked int64     // 1200: events read, up to and including the first break
	Seq     int64     // 7: the first broken event; 0 when OK
	Break   BreakKind // how it broke; "" when OK
	Reason  string    // a sentence a person can act on: "event 7 (statement …) was edited: …"
	Head    []byte    // the Hash of the last event read that verified and linked
}

// String returns the Reason, or "ok: N events verified".
func (r Report) String() string {
	if r.OK {
		return fmt.Sprintf("ok: %d events verified", r.Checked)
	}
	return r.Reason
}

// Verify recomputes the chain from its first event, reading events in Seq order from
// next (which returns false at the end), and reports the first break. A Seq is not
// hashed (the links give the order), but a gap in the Seq is reported as missing events.
//
// A chain whose newest events were removed still verifies: compare Report.Head with the
// last hash a sink received (every event it gets carries its Hash) to find that. An
// error is next's, or an event's Data that will not encode.
func Verify(key []byte, next func() (Event, bool, error)) (Report, error) {
	var r Report
	prevHash := Genesis()
	var prevSeq int64 // 0: the first event is 1
	first := true

	cur, ok, err := next()
	if err != nil {
		return r, fmt.Errorf("audit verify: %w", err)
	}
	for ok {
		r.Checked++
		nxt, more, err := next()
		if err != nil {
			return r, fmt.Errorf("audit verify after event %d: %w", cur.Seq, err)
		}
		sum, err := cur.Sum(key)
		if err != nil {
			return r, fmt.Errorf("audit verify event %d: %w", cur.Seq, err)
		}
		valid := hmac.Equal(sum, cur.Hash)
		linked := bytes.Equal(cur.Prev, prevHash)
		before := fmt.Sprintf("event %d", prevSeq)
		if first {
			before = "the start of the chain"
		}
		brk := func(kind BreakKind, format string, args ...any) (Report, error) {
			r.Seq, r.Break, r.Reason = cur.Seq, kind, fmt.Sprintf(format, args...)
			return r, nil
		}
		switch {
		case !valid && !more:
			return brk(BreakEditedOrInserted, "%s, the last one, does not match its hash: it was edited or inserted (no later event tells which)%s",
				describe(cur), keyHint(first))
		case !valid && len(cur.Hash) > 0 && bytes.Equal(nxt.Prev, cur.Hash):
			return brk(BreakEdited, "%s was edited: it does not match its hash, and event %d still links to it%s",
				describe(cur), nxt.Seq, keyHint(first))
		case !valid && bytes.Equal(nxt.Prev, prevHash):
			return brk(BreakInserted, "%s was inserted: it does not match its hash, and event %d links to %s, the one before it",
				describe(cur), nxt.Seq, before)
		case !valid:
			return brk(BreakEdited, "%s was edited: it does not match its hash, and event %d links neither to it nor to %s (events around it may be missing or edited too)%s",
				describe(cur), nxt.Seq, before, keyHint(first))
		case !linked && more && bytes.Equal(nxt.Prev, prevHash):
			return brk(BreakInserted, "%s is out of place: it does not link to %s and event %d does; it was copied or moved here",
				describe(cur), before, nxt.Seq)
		case !linked:
			return brk(BreakMissing, "events are missing before %s: it does not link to %s", describe(cur), before)
		case cur.Seq != prevSeq+1:
			if first {
				return brk(BreakMissing, "events are missing before %s: the first event is 1 (its links are intact, so sequence numbers were changed)", describe(cur))
			}
			return brk(BreakMissing, "events are missing: %s follows event %d (its links are intact, so sequence numbers were changed)", describe(cur), prevSeq)
		}
		prevHash, prevSeq, first = cur.Hash, cur.Seq, false
		r.Head = bytes.Clone(cur.Hash)
		cur, ok = nxt, more
	}
	r.OK = true
	return r, nil
}

// describe names an event in a break's reason: "event 7 (statement by ana@example.com at
// 2025-05-01T10:00:00Z)".
func describe(e Event) string {
	by := ""
	if e.Actor != "" {
		by = " by " + e.Actor
	}
	return fmt.Sprintf("event %d (%s%s at %s)", e.Seq, e.Kind, by, e.Time.UTC().Format(time.RFC3339))
}

// keyHint is added when the very first event fails: the likeliest cause is the key.
func keyHint(first bool) string {
	if first {
		return "; if every event fails, the chain key is not the one the events were sealed with"
	}
	return ""
}

// Events returns an iterator over events for Verify.
func Events(events []Event) func() (Event, bool, error) {
	i := 0
	return func() (Event, bool, error) {
		if i == len(events) {
			return Event{}, false, nil
		}
		i++
		return events[i-1], true, nil
	}
}

// DecodeLines returns an iterator over JSON lines, as a file sink writes them, for
// Verify: a copy of the trail kept elsewhere can be verified too. Blank lines are
// skipped; a line that does not decode is an error naming its line number.
func DecodeLines(r io.Reader) func() (Event, bool, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	line := 0
	return func() (Event, bool, error) {
		for sc.Scan() {
			line++
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			var e Event
			if err := json.Unmarshal(b, &e); err != nil {
				return Event{}, false, fmt.Errorf("line %d: %w", line, err)
			}
			return e, true, nil
		}
		return Event{}, false, sc.Err()
	}
}
