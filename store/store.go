// Package store keeps the gateway's state: the tunnels and sessions it served, each
// session's statements and result rows, and the audit trail. SQLite (modernc.org/sqlite,
// pure Go) is the default; PostgreSQL (pgx) when several gateways share one store. Both
// run the same SQL, the schema is versioned, and it is migrated at start-up.
//
// Statements and audit events are kept in blocks, a row per commit (see log.go): the
// gateway journals each record first (internal/journal) and commits them here in batches.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	_ "modernc.org/sqlite"             // the "sqlite" database/sql driver
)

// Store is the gateway's state.
type Store struct {
	db       *sql.DB
	postgres bool   // the SQL dialect: PostgreSQL, else SQLite
	name     string // for errors: the SQLite path or the URL without its password

	// wdb is where Commit writes: for SQLite, one connection of its own (SQLite has one
	// writer at a time) whose statements are prepared once; db otherwise.
	wdb    *sql.DB
	prepMu sync.Mutex
	prep   map[string]*sql.Stmt
}

// Sentinel errors.
var (
	// ErrUnsupported is returned for a store URL whose kind this build cannot open.
	ErrUnsupported = errors.New("unsupported store")
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("not found")
)

// Open opens the store a URL names: "sqlite://./hoop-data/hoop.db" (relative paths are
// relative to base), "sqlite::memory:", or "postgres://user:pw@host/db?sslmode=verify-full".
// The schema is migrated before Open returns.
func Open(ctx context.Context, url, base string) (*Store, error) {
	if strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://") {
		return openPostgres(ctx, url)
	}
	path, ok := strings.CutPrefix(url, "sqlite://")
	if !ok {
		return nil, fmt.Errorf("store %q: %w: want sqlite://PATH or postgres://…", redact(url), ErrUnsupported)
	}
	dsn := ":memory:"
	if path != ":memory:" {
		if !filepath.IsAbs(path) {
			path = filepath.Join(base, path)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		// WAL with synchronous=NORMAL: a committed transaction survives the gateway's
		// crash (it is in the WAL file the OS holds), not a power cut before the next
		// checkpoint.
		dsn = "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
		if err := createSQLite(path); err != nil {
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if path == ":memory:" {
		db.SetMaxOpenConns(1) // one connection holds the whole in-memory database
	}
	s := &Store{db: db, wdb: db, name: path, prep: make(map[string]*sql.Stmt)}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	if path != ":memory:" {
		// The writer does without foreign key checks: Commit writes a session before its
		// statements, and a multi-row INSERT that may abort on one needs a statement
		// journal, which costs more than the rows. Its INSERTs roll the whole
		// transaction back on a conflict instead (INSERT OR ROLLBACK), for the same reason.
		//
		// Its transactions take the write lock when they begin (BEGIN IMMEDIATE), waiting
		// for it up to busy_timeout: a deferred one reads (the audit chain's last hash)
		// before it writes, and fails with SQLITE_BUSY_SNAPSHOT, not waiting, when another
		// connection (a tunnel's or a review's row) wrote in between.
		wdsn := strings.Replace(dsn, "_pragma=foreign_keys(1)", "_pragma=foreign_keys(0)", 1) + "&_txlock=immediate"
		if s.wdb, err = sql.Open("sqlite", wdsn); err != nil {
			db.Close()
			return nil, fmt.Errorf("store %s: %w", path, err)
		}
		s.wdb.SetMaxOpenConns(1)
		s.wdb.SetMaxIdleConns(1)
		s.wdb.SetConnMaxLifetime(0)
	}
	return s, nil
}

// pageSize is the page size of a new SQLite store. The logs' blocks (log.go) are tens to
// hundreds of kilobytes, and SQLite writes a page at a time, twice (WAL, then checkpoint):
// bigger pages mean fewer writes.
const pageSize = 16384

// createSQLite makes a new, empty SQLite database at path with pageSize pages, before it
// is opened in WAL mode, which fixes the page size. An existing file is left as it is.
func createSQLite(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?_pragma=page_size(%d)", path, pageSize))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`CREATE TABLE schema_version (version INTEGER NOT NULL)`)
	return err
}

func openPostgres(ctx context.Context, url string) (*Store, error) {
	name := redact(url)
	db, err := sql.Open("pgx", url)
	if err != nil {
		return nil, fmt.Errorf("store %s: %s", name, scrub(err, url))
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db, wdb: db, postgres: true, name: name}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %s", name, scrub(err, url))
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store %s: %w", name, err)
	}
	return s, nil
}

// scrub keeps a URL's password out of an error text.
func scrub(err error, url string) string {
	msg := err.Error()
	if red := redact(url); red != url {
		msg = strings.ReplaceAll(msg, url, red)
	}
	return msg
}

func redact(url string) string {
	if i := strings.LastIndex(url, "@"); i >= 0 {
		if j := strings.Index(url, "://"); j >= 0 && j < i {
			return url[:j+3] + "…" + url[i:]
		}
	}
	return url
}

// InMemory reports whether the store lives in the process's memory ("sqlite::memory:").
func (s *Store) InMemory() bool { return s.name == ":memory:" }

// Close closes the store.
func (s *Store) Close() error {
	s.prepMu.Lock()
	for _, p := range s.prep {
		p.Close()
	}
	s.prep = nil
	s.prepMu.Unlock()
	var err error
	if s.wdb != s.db {
		err = s.wdb.Close()
	}
	return errors.Join(err, s.db.Close())
}

// exec runs a write of Commit's in tx: for SQLite through a statement prepared once (its
// parse is a good part of a small insert's cost), before tx took the one writer
// connection; PostgreSQL's driver keeps its own prepared statements.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) error {
	if s.postgres {
		_, err := tx.ExecContext(ctx, s.q(query), args...)
		return err
	}
	s.prepMu.Lock()
	p, ok := s.prep[query]
	s.prepMu.Unlock()
	if !ok {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	}
	_, err := tx.StmtContext(ctx, p).ExecContext(ctx, args...)
	return err
}

// queryRow is exec for a query of one row.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if !s.postgres {
		s.prepMu.Lock()
		p, ok := s.prep[query]
		s.prepMu.Unlock()
		if ok {
			return tx.StmtContext(ctx, p).QueryRowContext(ctx, args...)
		}
	}
	return tx.QueryRowContext(ctx, s.q(query), args...)
}

// prepare prepares Commit's statements on the SQLite writer connection, once.
func (s *Store) prepare(ctx context.Context) error {
	if s.postgres {
		return nil
	}
	s.prepMu.Lock()
	defer s.prepMu.Unlock()
	if s.prep == nil {
		return errors.New("store closed")
	}
	for _, q := range commitQueries {
		if _, ok := s.prep[q]; ok {
			continue
		}
		p, err := s.wdb.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.prep[q] = p
	}
	return nil
}

// q rewrites a statement written for SQLite for the store's dialect: ? placeholders,
// BLOB, INTEGER PRIMARY KEY (SQLite's rowid), WITHOUT ROWID (a table kept in its primary
// key's order, one b-tree fewer to write).
func (s *Store) q(query string) string {
	if !s.postgres {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return strings.NewReplacer(" BLOB", " BYTEA", "rid INTEGER PRIMARY KEY", "rid BIGSERIAL PRIMARY KEY", "INTEGER PRIMARY KEY", "BIGINT PRIMARY KEY", "INSERT OR ROLLBACK INTO", "INSERT INTO", ") WITHOUT ROWID", ")").Replace(b.String())
}

// migrations are applied in order; the index+1 is the schema version. Never edit one that
// has shipped: add another. Each is written once, for SQLite; q adapts it. Times are
// microseconds since the Unix epoch.
var migrations = []string{
	`CREATE TABLE tunnels (
		id          TEXT PRIMARY KEY,
		subject     TEXT NOT NULL,
		issuer      TEXT NOT NULL,
		email       TEXT NOT NULL,
		groups_json TEXT NOT NULL,
		connection  TEXT NOT NULL,
		remote_addr TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		ended_at    BIGINT,
		end_reason  TEXT
	);
	CREATE INDEX tunnels_subject ON tunnels(subject, started_at);`,

	`ALTER TABLE tunnels ADD COLUMN gateway_id TEXT NOT NULL DEFAULT '';
	CREATE TABLE sessions (
		id          TEXT PRIMARY KEY,
		gateway_id  TEXT NOT NULL,
		tunnel_id   TEXT NOT NULL,
		subject     TEXT NOT NULL,
		email       TEXT NOT NULL,
		groups_json TEXT NOT NULL,
		connection  TEXT NOT NULL,
		access      TEXT NOT NULL,
		db_user     TEXT NOT NULL,
		application TEXT NOT NULL,
		source_addr TEXT NOT NULL,
		started_at  BIGINT NOT NULL,
		ended_at    BIGINT,
		end_reason  TEXT
	);
	CREATE INDEX sessions_started ON sessions(started_at);
	CREATE INDEX sessions_open ON sessions(gateway_id, ended_at);
	CREATE TABLE statements (
		session_id     TEXT NOT NULL REFERENCES sessions(id),
		seq            BIGINT NOT NULL,
		started_at     BIGINT NOT NULL,
		sql            TEXT NOT NULL,
		params_json    TEXT NOT NULL,
		class          TEXT NOT NULL,
		decision       TEXT NOT NULL,
		rule           TEXT NOT NULL,
		policy_version TEXT NOT NULL,
		review_id      TEXT NOT NULL,
		state          TEXT NOT NULL,
		duration_us    BIGINT,
		row_count      BIGINT,
		command_tag    TEXT,
		error          TEXT,
		masking_json   TEXT,
		columns_json   TEXT,
		rows_json      TEXT,
		PRIMARY KEY (session_id, seq)
	) WITHOUT ROWID;
	CREATE TABLE audit_events (
		seq        INTEGER PRIMARY KEY,
		time       BIGINT NOT NULL,
		kind       TEXT NOT NULL,
		actor      TEXT NOT NULL,
		connection TEXT NOT NULL,
		session_id TEXT NOT NULL,
		data       TEXT NOT NULL,
		prev       BLOB NOT NULL,
		hash       BLOB NOT NULL
	);`,

	`CREATE TABLE reviews (
		id         TEXT PRIMARY KEY,
		state      TEXT NOT NULL,
		requester  TEXT NOT NULL,
		connection TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		data       TEXT NOT NULL
	);
	CREATE INDEX reviews_state ON reviews(state, created_at);`,

	`CREATE TABLE journal_applied (
		gateway_id TEXT PRIMARY KEY,
		lsn        BIGINT NOT NULL
	);`,

	// The logs of blocks that replace the statements and audit_events tables (see log.go).
	`CREATE TABLE statement_log (
		rid INTEGER PRIMARY KEY,
		session_id TEXT NOT NULL,
		statements BIGINT NOT NULL,
		data       TEXT NOT NULL
	);
	CREATE INDEX statement_log_session ON statement_log(session_id, rid);
	CREATE TABLE audit_log (
		first_seq INTEGER PRIMARY KEY,
		last_seq  BIGINT NOT NULL,
		last_hash BLOB NOT NULL,
		data      TEXT NOT NULL
	);`,

	// Keys every gateway sharing the store must agree on (the masking hash key).
	`CREATE TABLE cluster_keys (
		name       TEXT PRIMARY KEY,
		value      TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);`,
}

func (s *Store) migrate(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback()
	if s.postgres {
		// Gateways sharing the store start one at a time through the migrations.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7262830001)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var v int
	err = tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (0)`); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
	case err != nil:
		return fmt.Errorf("migrate: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("migrate: the store is at schema version %d, newer than this gateway's %d", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		for _, stmt := range strings.Split(migrations[i], ";") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.q(stmt)); err != nil {
				return fmt.Errorf("migrate to %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE schema_version SET version = ?`), i+1); err != nil {
			return fmt.Errorf("migrate to %d: %w", i+1, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Tunnel is one tunnel a person or machine opened.
type Tunnel struct {
	ID         string    // "t-01J…"
	GatewayID  string    // the gateway that served it: "gw-5f3a…"
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
