// Package store keeps the gateway's state: the tunnels and sessions it served, and later
// recordings, reviews and the audit trail. SQLite (modernc.org/sqlite, pure Go) is the
// default; the schema is versioned and migrated at start-up.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Store is the gateway's state.
type Store struct {
	db *sql.DB
}

// Sentinel errors.
var (
	// ErrUnsupported is returned for a store URL whose kind this build cannot open.
	ErrUnsupported = errors.New("unsupported store")
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("not found")
)

// Open opens the store a URL names: "sqlite://./hoop-data/hoop.db" (relative paths are
// relative to base) or "sqlite::memory:". The schema is migrated before Open returns.
func Open(ctx context.Context, url, base string) (*Store, error) {
	path, ok := strings.CutPrefix(url, "sqlite://")
	if !ok {
		if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
			return nil, fmt.Errorf("store %s: %w: the PostgreSQL store is not built yet; use sqlite://", redact(url), ErrUnsupported)
		}
		return nil, fmt.Errorf("store %q: %w: want sqlite://PATH", url, ErrUnsupported)
	}
	dsn := ":memory:"
	if path != ":memory:" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // one connection holds the whole in-memory database
	}
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	return s, nil
}

func redact(url string) string {
	if i := strings.Index(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			return url[:j+3] + "…" + url[i:]
		}
	}
	return url
}

// Close closes the store.
func (s *Store) Close() error { return s.db.Close() }

// migrations are applied in order; the index+1 is the schema version. Never edit one that
// has shipped: add another.
var migrations = []string{
	`CREATE TABLE tunnels (
		id          TEXT PRIMARY KEY,
		subject     TEXT NOT NULL,
		issuer      TEXT NOT NULL,
		email       TEXT NOT NULL,
		groups_json TEXT NOT NULL,
		connection  TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		started_at  INTEGER NOT NULL,
		ended_at    INTEGER,
		end_reason  TEXT
	);
	CREATE INDEX tunnels_subject ON tunnels(subject, started_at);`,
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate: the store is at schema version %d, newer than this gateway's %d", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE schema_version SET version = ?`, i+1); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
	}
	return nil
}

// Tunnel is one tunnel a person or machine opened.
type Tunnel struct {
	ID         string    // "t-01J…"
	Subject    string    // "alice"
	Issuer     string    // "http://127.0.0.1:8443/oidc"
	Email      string    // "alice@example.com"
	Groups     []string  // ["engineering"]
	Connection string    // "db-prod"
	RemoteAddr string    // the CLI's address as the gateway saw it
	StartedAt  time.Time //
	EndedAt    time.Time // zero while open
	EndReason  string    // "client closed", "token expired", "gateway-restart"
}
