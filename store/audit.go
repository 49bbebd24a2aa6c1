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
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit chain head: %w", err)
	}
	if prev == nil {
		prev = make([]byte, 32)
	}
	for _, e := range events {
		seq++
		e.Seq = seq
		e.Prev = prev
		e.Hash = seal(prev, e)
		if err := s.exec(ctx, tx, qInsertEvent,
			e.Seq, e.Time.UnixMicro(), e.Kind, e.Actor, e.Connection, e.Session, e.Data, e.Prev, e.Hash); err != nil {
			return fmt.Errorf("store: audit event %d: %w", e.Seq, err)
		}
		prev = e.Hash
	}
	return nil
}

// Events calls fn for each audit event with Seq > after, in order, until fn returns false.
func (s *Store) Events(ctx context.Context, after int64, fn func(*Event) bool) error {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, time, kind, actor, connection, session_id, data, prev, hash
		FROM audit_events WHERE seq > ? ORDER BY seq`), after)
	if err != nil {
		return fmt.Errorf("audit events: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e Event
		var t int64
		if err := rows.Scan(&e.Seq, &t, &e.Kind, &e.Actor, &e.Connection, &e.Session, &e.Data, &e.Prev, &e.Hash); err != nil {
			return fmt.Errorf("audit events: %w", err)
		}
		e.Time = time.UnixMicro(t).UTC()
		if !fn(&e) {
			return nil
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit events: %w", err)
	}
	return nil
}

// DB returns the store's database, for tests that tamper with it as an attacker would.
func (s *Store) DB() *sql.DB { return s.db }
