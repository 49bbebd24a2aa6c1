package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Event is one audit event as the store keeps it. Data is the JSON text the hash was
// computed over, kept byte for byte.
type Event struct {
	Seq        int64     // 1, 2, …: its place in the chain
	Time       time.Time //
	Kind       string    // "session.start", "statement", …
	Actor      string    // "alice@example.com"; "" for the gateway itself
	Connection string    // "db-prod"
	Session    string    // "s-01J…"
	Data       string    // `{"decision":"deny",…}`
	Prev       []byte    // the previous event's hash
	Hash       []byte    // this event's hash
}

// appendEvents seals and inserts events after the chain's head, inside tx.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, events []*Event, seal Sealer) error {
	if seal == nil {
		return errors.New("store: audit events without a sealer")
	}
	if s.postgres {
		// One chain, many gateways: appends take turns until their transaction ends.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7262830002)`); err != nil {
			return fmt.Errorf("store: audit chain lock: %w", err)
		}
	}
	var seq int64
	var prev []byte
	err := s.queryRow(ctx, tx, qHead).Scan(&seq, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.queryRow(ctx, tx, qLegacyHead).Scan(&seq, &prev)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit chain head: %w", err)
	}
	if prev == nil {
		prev = make([]byte, 32)
	}
	first := seq + 1
	buf := getBuffer()
	defer putBuffer(buf)
	data := (*buf)[:0]
	defer func() { *buf = data }()
	for _, e := range events {
		seq++
		e.Seq = seq
		e.Prev = prev
		e.Hash = seal(prev, e)
		if data, err = appendEventEntry(data, e); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		prev = e.Hash
	}
	if err := s.exec(ctx, tx, qInsertEvents, first, seq, prev, string(data)); err != nil {
		return fmt.Errorf("store: audit events %d…%d: %w", first, seq, err)
	}
	return nil
}

// Events calls fn for each audit event with Seq > after, in order, until fn returns false:
// the rows older gateways wrote, then the blocks of audit_log.
func (s *Store) Events(ctx context.Context, after int64, fn func(*Event) bool) error {
	more, err := s.legacyEvents(ctx, after, fn)
	if err != nil || !more {
		return err
	}
	// Every block is read when the whole chain is (after 0), whatever its columns say: the
	// events are what the entries say they are.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT first_seq, data FROM audit_log WHERE last_seq > ? OR ? = 0 ORDER BY first_seq`), after, after)
	if err != nil {
		return fmt.Errorf("audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var first int64
		var data string
		if err := rows.Scan(&first, &data); err != nil {
			return fmt.Errorf("audit events: %w", err)
		}
		more, err := decodeEvents(data, func(e *Event) bool { return e.Seq <= after || fn(e) })
		if err != nil {
			return fmt.Errorf("audit events: the block from event %d: %w", first, err)
		}
		if !more {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit events: %w", err)
	}
	return nil
}

// legacyEvents is Events for the audit_events table; more is false when fn stopped.
func (s *Store) legacyEvents(ctx context.Context, after int64, fn func(*Event) bool) (more bool, err error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, time, kind, actor, connection, session_id, data, prev, hash
		FROM audit_events WHERE seq > ? ORDER BY seq`), after)
	if err != nil {
		return false, fmt.Errorf("audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Kind, &e.Actor, &e.Connection, &e.Session, &e.Data, &e.Prev, &e.Hash); err != nil {
			return false, fmt.Errorf("audit events: %w", err)
		}
		e.Time = time.UnixMicro(t).UTC()
		if !fn(&e) {
			return false, nil
		}
	}
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("audit events: %w", err)
	}
	return true, nil
}

// DB returns the store's database, for tests that tamper with it as an attacker would.
func (s *Store) DB() *sql.DB { return s.db }
