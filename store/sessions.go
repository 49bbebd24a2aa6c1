package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Session is one database session a client ran through a tunnel.
type Session struct {
	ID          string    // "s-01J…"
	GatewayID   string    // the gateway that served it
	TunnelID    string    // "t-01J…"
	Subject     string    // "alice"
	Email       string    // "alice@example.com"
	Groups      []string  // ["engineering"]
	Connection  string    // "db-prod"
	Access      string    // the granted level: "read", "write", "admin"
	DBUser      string    // the database role the gateway logged in as: "app_ro"
	Application string    // the client's application_name: "psql"
	SourceAddr  string    // the CLI's address as the gateway saw it
	StartedAt   time.Time //
	EndedAt     time.Time // zero while open
	EndReason   string    // "client closed", "token expired", "gateway-restart"
	Statements  int       // how many statements it recorded (List and Get fill it)
}

// Statement states.
const (
	StateSent        = "sent"        // forwarded to the database; its outcome is not recorded yet
	StateDone        = "done"        // the database answered: rows, command tag or error
	StateRefused     = "refused"     // the gateway refused it; it never reached the database
	StateInterrupted = "interrupted" // forwarded, but the gateway stopped before the answer
)

// Statement is one statement of a session: what was asked, what the gateway decided, and
// what came back (values masked as the client got them).
type Statement struct {
	SessionID     string         // "s-01J…"
	Seq           int64          // 1, 2, …: its order in the session
	StartedAt     time.Time      //
	SQL           string         // "SELECT * FROM customers WHERE id = $1"
	Params        []*string      // bind parameters, masked; nil for NULL
	Class         string         // "read"
	Decision      string         // "allow", "deny", "review"
	Rule          string         // the policy rule that decided: "engineers-read"
	PolicyVersion string         // "sha256:…"
	ReviewID      string         // the review that let it run, if any
	State         string         // StateSent, StateDone, …
	Duration      time.Duration  // from forwarding to the database's answer
	RowCount      int64          // rows returned or affected
	CommandTag    string         // "SELECT 3", "UPDATE 1"
	Error         string         // "ERROR: … (SQLSTATE 42501)"
	Masking       map[string]int // values masked, by detector ("email") or column rule ("column:customers.ssn")
	Columns       []string       // result column names
	Rows          [][]*string    // result rows as the client got them, up to the recording cap
}

// Commit's statements, prepared once for SQLite.
const (
	qInsertSession = `INSERT INTO sessions (id, gateway_id, tunnel_id, subject, email, groups_json, connection, access, db_user, application, source_addr, started_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertStatements = `INSERT OR ROLLBACK INTO statement_log (session_id, statements, data) VALUES (?, ?, ?)`
	qEndSession       = `UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ? AND ended_at IS NULL`
	qInsertEvents     = `INSERT OR ROLLBACK INTO audit_log (first_seq, last_seq, last_hash, data) VALUES (?, ?, ?, ?)`
	qApplied          = `INSERT INTO journal_applied (gateway_id, lsn) VALUES (?, ?)
			ON CONFLICT (gateway_id) DO UPDATE SET lsn = excluded.lsn`
)

// qHead reads the head of the audit chain: the last block's, or the last row's of the
// table older gateways wrote.
const (
	qHead       = `SELECT last_seq, last_hash FROM audit_log ORDER BY first_seq DESC LIMIT 1`
	qLegacyHead = `SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1`
)

var commitQueries = []string{qInsertSession, qInsertStatements, qEndSession, qInsertEvents, qApplied, qHead, qLegacyHead}

// ApplyOutcome sets st's outcome fields from o's: State, Duration, RowCount, CommandTag,
// Masking, Columns, Rows, and Error when o has one.
func (st *Statement) ApplyOutcome(o *Statement) {
	st.State, st.Duration, st.RowCount, st.CommandTag = o.State, o.Duration, o.RowCount, o.CommandTag
	st.Masking, st.Columns, st.Rows = o.Masking, o.Columns, o.Rows
	if o.Error != "" {
		st.Error = o.Error
	}
}

// SessionEnd closes a session record.
type SessionEnd struct {
	ID     string
	At     time.Time
	Reason string
}

// Batch is what one commit writes: the store applies it in one transaction, so a
// statement's record and its audit event are durable together.
type Batch struct {
	Opened   []*Session   // sessions that started
	Ended    []SessionEnd // sessions that ended
	Sent     []*Statement // statements about to be forwarded or refused, or done already
	Finished []*Statement // outcomes of statements sent in an earlier batch: SessionID, Seq and the outcome fields (ApplyOutcome)
	Events   []*Event     // audit events, appended to the chain in order
	Applied  *Applied     // when set, recorded with the rest: the journal's record the batch ends with
}

// Applied says that a gateway's journal is in the store up to a record: its log sequence
// number (see internal/journal). On restart, the gateway replays its records after it.
type Applied struct {
	GatewayID string
	LSN       uint64
}

// Empty reports whether the batch writes nothing.
func (b *Batch) Empty() bool {
	return len(b.Opened)+len(b.Ended)+len(b.Sent)+len(b.Finished)+len(b.Events) == 0
}

// Sealer computes an audit event's hash from the previous event's hash; Commit calls it for
// each event, in chain order, while it holds the chain.
type Sealer func(prev []byte, e *Event) (hash []byte)

// Commit writes a batch in one transaction. Events are sealed with seal and appended
// after the chain's head; with PostgreSQL, gateways sharing the store take turns.
func (s *Store) Commit(ctx context.Context, b *Batch, seal Sealer) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store commit: %w", err)
	}
	defer tx.Rollback()
	for _, se := range b.Opened {
		groups, _ := json.Marshal(nonNil(se.Groups))
		if err := s.exec(ctx, tx, qInsertSession,
			se.ID, se.GatewayID, se.TunnelID, se.Subject, se.Email, string(groups), se.Connection, se.Access, se.DBUser, se.Application, se.SourceAddr, se.StartedAt.UnixMicro()); err != nil {
			return fmt.Errorf("store: session %s: %w", se.ID, err)
		}
	}
	if err := s.appendStatements(ctx, tx, b.Sent, b.Finished); err != nil {
		return err
	}
	for _, e := range b.Ended {
		if err := s.exec(ctx, tx, qEndSession,
			e.At.UnixMicro(), e.Reason, e.ID); err != nil {
			return fmt.Errorf("store: end session %s: %w", e.ID, err)
		}
	}
	if len(b.Events) > 0 {
		if err := s.appendEvents(ctx, tx, b.Events, seal); err != nil {
			return err
		}
	}
	if a := b.Applied; a != nil {
		if err := s.exec(ctx, tx, qApplied, a.GatewayID, int64(a.LSN)); err != nil {
			return fmt.Errorf("store: journal mark %s %d: %w", a.GatewayID, a.LSN, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store commit: %w", err)
	}
	return nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// appendStatements writes sent, then the outcomes finished, to statement_log: a block
// per session, its entries in the order given.
func (s *Store) appendStatements(ctx context.Context, tx *sql.Tx, sent, finished []*Statement) error {
	if len(sent)+len(finished) == 0 {
		return nil
	}
	type block struct {
		session string
		n       int64 // statements new to the session: the sent ones
		sts     []*Statement
	}
	var blocks []*block
	by := make(map[string]*block)
	for i, st := range slices.Concat(sent, finished) {
		bl := by[st.SessionID]
		if bl == nil {
			bl = &block{session: st.SessionID}
			by[st.SessionID] = bl
			blocks = append(blocks, bl)
		}
		if i < len(sent) {
			bl.n++
		}
		bl.sts = append(bl.sts, st)
	}
	buf := getBuffer()
	defer putBuffer(buf)
	for _, bl := range blocks {
		data := (*buf)[:0]
		for i, st := range bl.sts {
			if i < int(bl.n) {
				data = appendStatementEntry(data, st)
			} else {
				data = appendOutcomeEntry(data, st)
			}
		}
		*buf = data
		if err := s.exec(ctx, tx, qInsertStatements, bl.session, bl.n, string(data)); err != nil {
			return fmt.Errorf("store: statements of session %s: %w", bl.session, err)
		}
	}
	return nil
}

// buffers are the scratch space blocks are written in before they go to the database: a
// block is tens to hundreds of kilobytes, and growing a new one each time cost more than
// writing it.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuffer() *[]byte { return buffers.Get().(*[]byte) }

func putBuffer(b *[]byte) {
	if cap(*b) <= 8<<20 {
		buffers.Put(b)
	}
}

// AppliedLSN returns how far a gateway's journal is in the store (Batch.Applied), 0 for
// none.
func (s *Store) AppliedLSN(ctx context.Context, gatewayID string) (uint64, error) {
	var lsn int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT lsn FROM journal_applied WHERE gateway_id = ?`), gatewayID).Scan(&lsn)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: journal mark of %s: %w", gatewayID, err)
	}
	return uint64(lsn), nil
}

// CloseInterrupted ends what a gateway left open when it stopped without closing them (a
// crash, SIGKILL): its sessions and tunnels get the reason, and statements it forwarded
// but never saw answered become StateInterrupted. It returns the sessions it closed.
func (s *Store) CloseInterrupted(ctx context.Context, gatewayID string, at time.Time, reason string) ([]string, error) {
	if err := s.prepare(ctx); err != nil {
		return nil, err
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("close interrupted sessions: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id FROM sessions WHERE gateway_id = ? AND ended_at IS NULL ORDER BY started_at`), gatewayID)
	if err != nil {
		return nil, fmt.Errorf("close interrupted sessions: %w", err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("close interrupted sessions: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("close interrupted sessions: %w", err)
	}
	for _, id := range ids {
		msg := "the gateway stopped before the database answered (" + reason + ")"
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE statements SET state = ?, error = ? WHERE session_id = ? AND state = ?`),
			StateInterrupted, msg, id, StateSent); err != nil {
			return nil, fmt.Errorf("close interrupted sessions: %w", err)
		}
		last := make(map[int64]*Statement)
		if err := s.loggedStatements(ctx, tx, id, last); err != nil {
			return nil, fmt.Errorf("close interrupted sessions: %w", err)
		}
		var cut []*Statement
		for _, st := range last {
			if st.State == StateSent {
				cut = append(cut, &Statement{SessionID: id, Seq: st.Seq, State: StateInterrupted, Error: msg})
			}
		}
		slices.SortFunc(cut, func(a, b *Statement) int { return cmp.Compare(a.Seq, b.Seq) })
		if err := s.appendStatements(ctx, tx, nil, cut); err != nil {
			return nil, fmt.Errorf("close interrupted sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE sessions SET ended_at = ?, end_reason = ? WHERE id = ?`), at.UnixMicro(), reason, id); err != nil {
			return nil, fmt.Errorf("close interrupted sessions: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE tunnels SET ended_at = ?, end_reason = ? WHERE ended_at IS NULL AND gateway_id = ?`), at.UnixMicro(), reason, gatewayID); err != nil {
		return nil, fmt.Errorf("close interrupted tunnels: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("close interrupted sessions: %w", err)
	}
	return ids, nil
}

// SessionFilter narrows ListSessions; zero fields match everything.
type SessionFilter struct {
	User       string    // subject or e-mail
	Connection string    // "db-prod"
	Since      time.Time // sessions started at or after
	Limit      int       // at most this many, newest first (default 100)
}

const sessionColumns = `s.id, s.gateway_id, s.tunnel_id, s.subject, s.email, s.groups_json, s.connection, s.access, s.db_user,
	s.application, s.source_addr, s.started_at, s.ended_at, s.end_reason,
	(SELECT count(*) FROM statements st WHERE st.session_id = s.id) +
	COALESCE((SELECT sum(l.statements) FROM statement_log l WHERE l.session_id = s.id), 0)`

// ListSessions returns sessions, newest first.
func (s *Store) ListSessions(ctx context.Context, f SessionFilter) ([]*Session, error) {
	var where []string
	var args []any
	if f.User != "" {
		where = append(where, "(s.subject = ? OR s.email = ?)")
		args = append(args, f.User, f.User)
	}
	if f.Connection != "" {
		where = append(where, "s.connection = ?")
		args = append(args, f.Connection)
	}
	if !f.Since.IsZero() {
		where = append(where, "s.started_at >= ?")
		args = append(args, f.Since.UnixMicro())
	}
	query := `SELECT ` + sessionColumns + ` FROM sessions s`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	query += " ORDER BY s.started_at DESC, s.id LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*Session
	for rows.Next() {
		se, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, se)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanSession(r scanner) (*Session, error) {
	var (
		se      Session
		groups  string
		started int64
		ended   sql.NullInt64
		reason  sql.NullString
		count   int64
	)
	if err := r.Scan(&se.ID, &se.GatewayID, &se.TunnelID, &se.Subject, &se.Email, &groups, &se.Connection, &se.Access, &se.DBUser,
		&se.Application, &se.SourceAddr, &started, &ended, &reason, &count); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(groups), &se.Groups); err != nil {
		return nil, fmt.Errorf("session %s: groups: %w", se.ID, err)
	}
	se.StartedAt = time.UnixMicro(started)
	if ended.Valid {
		se.EndedAt = time.UnixMicro(ended.Int64)
	}
	se.EndReason = reason.String
	se.Statements = int(count)
	return &se, nil
}

// GetSession returns one session and its statements, in order.
func (s *Store) GetSession(ctx context.Context, id string) (*Session, []*Statement, error) {
	se, err := scanSession(s.db.QueryRowContext(ctx, s.q(`SELECT `+sessionColumns+` FROM sessions s WHERE s.id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("session %s: %w", id, err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, started_at, sql, params_json, class, decision, rule, policy_version, review_id, state,
		duration_us, row_count, command_tag, error, masking_json, columns_json, rows_json
		FROM statements WHERE session_id = ? ORDER BY seq`), id)
	if err != nil {
		return nil, nil, fmt.Errorf("session %s: statements: %w", id, err)
	}
	defer rows.Close()
	var sts []*Statement
	for rows.Next() {
		st := &Statement{SessionID: id}
		var (
			started                         int64
			params                          string
			duration, count                 sql.NullInt64
			tag, errText, masking, cols, rs sql.NullString
		)
		if err := rows.Scan(&st.Seq, &started, &st.SQL, &params, &st.Class, &st.Decision, &st.Rule, &st.PolicyVersion, &st.ReviewID, &st.State,
			&duration, &count, &tag, &errText, &masking, &cols, &rs); err != nil {
			return nil, nil, fmt.Errorf("session %s: statements: %w", id, err)
		}
		st.StartedAt = time.UnixMicro(started)
		st.Duration = time.Duration(duration.Int64) * time.Microsecond
		st.RowCount, st.CommandTag, st.Error = count.Int64, tag.String, errText.String
		for _, f := range []struct {
			src sql.NullString
			dst any
		}{{sql.NullString{String: params, Valid: true}, &st.Params}, {masking, &st.Masking}, {cols, &st.Columns}, {rs, &st.Rows}} {
			if f.src.Valid && f.src.String != "" {
				if err := json.Unmarshal([]byte(f.src.String), f.dst); err != nil {
					return nil, nil, fmt.Errorf("session %s: statement %d: %w", id, st.Seq, err)
				}
			}
		}
		sts = append(sts, st)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("session %s: statements: %w", id, err)
	}
	rows.Close()
	by := make(map[int64]*Statement, len(sts))
	for _, st := range sts {
		by[st.Seq] = st
	}
	if err := s.loggedStatements(ctx, s.db, id, by); err != nil {
		return nil, nil, fmt.Errorf("session %s: %w", id, err)
	}
	sts = slices.SortedFunc(maps.Values(by), func(a, b *Statement) int { return cmp.Compare(a.Seq, b.Seq) })
	return se, sts, nil
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// loggedStatements applies a session's statement_log to sts, its statements by seq.
func (s *Store) loggedStatements(ctx context.Context, q querier, session string, out map[int64]*Statement) error {
	rows, err := q.QueryContext(ctx, s.q(`SELECT rid, data FROM statement_log WHERE session_id = ? ORDER BY rid`), session)
	if err != nil {
		return fmt.Errorf("statement log: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rid int64
		var data string
		if err := rows.Scan(&rid, &data); err != nil {
			return fmt.Errorf("statement log: %w", err)
		}
		if err := decodeStatements(data, func(e *stmtEntry) { e.apply(session, out) }); err != nil {
			return fmt.Errorf("statement log block %d: %w", rid, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("statement log: %w", err)
	}
	return nil
}
