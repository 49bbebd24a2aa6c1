package postgres

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/server/identity"
)

// Grant is what the gateway allows one session: where and as whom it logs in upstream.
type Grant struct {
	Upstream *pgconn.Config // parsed upstream config holding the stored credential for Level
	Level    string         // the highest statement class the session may run: "read"
	ReadOnly bool           // start the session with default_transaction_read_only = on
	Rules    []string       // the policy rules that granted it: ["engineers-read-prod"]
	Gate     Gate           // decides every statement; nil allows all (FunctionCall is always refused)
	Masker   Masker         // masks results; nil when nothing is masked for this session
	// Record opens the session's record once the database has accepted the login; nil
	// records nothing. Its error ends the session before any statement runs.
	Record func(info SessionInfo) (Recorder, error)
	// Holder holds the statements the gate answers with *ReviewRequired until approvers
	// decide; nil refuses them.
	Holder Holder
}

// ReviewRequired is the gate's answer for a statement that may run only once approved.
type ReviewRequired struct {
	Reason string // "held by rule engineers-read-prod: write statements on db-prod need an approval"
}

func (e *ReviewRequired) Error() string { return e.Reason }

// Holder holds a statement for review.
type Holder interface {
	// Hold opens a review of the statement and waits for its decision; notice shows the
	// client a message meanwhile (psql prints it while it waits). It returns the review's
	// id, and nil when the statement is approved to run once, or the refusal (denied,
	// expired, withdrawn when ctx ends: a CancelRequest, the session's end).
	Hold(ctx context.Context, st HeldStatement, notice func(text string)) (reviewID string, err error)
}

// HeldStatement is what a review holds, and how the client wants to wait.
type HeldStatement struct {
	SQL    string
	Params []Param
	Reason string // the gate's: which rule asks for the review
	Class  string // the gate's: the statement's class, "write"
	HoldOptions
}

// HoldOptions are how a client (hoop exec) asks to be held, with startup parameters:
// hoop.review=r-… runs a statement under that approved review; hoop.wait=10m waits that
// long, then leaves the review pending; hoop.wait=0 does not wait at all.
type HoldOptions struct {
	Review string        // an earlier review of this statement
	Detach bool          // do not wait: answer ReviewPendingError at once
	Wait   time.Duration // wait at most this long, then answer ReviewPendingError
}

// ParseHoldOptions reads the hold options of a startup message.
func ParseHoldOptions(params map[string]string) (HoldOptions, error) {
	var o HoldOptions
	o.Review = params["hoop.review"]
	if w, ok := params["hoop.wait"]; ok {
		d, err := time.ParseDuration(w)
		if err != nil || d < 0 {
			return o, fmt.Errorf("hoop.wait %q: want a duration such as 10m, or 0 not to wait", w)
		}
		o.Wait, o.Detach = d, d == 0
	}
	return o, nil
}

// ReviewPendingError answers a held statement whose client does not wait (hoop exec): the
// review stays open; SQLSTATE HR001.
type ReviewPendingError struct {
	ID, URL string
	Why     string // "is waiting for an approver", "timed out after 10m waiting"
}

func (e *ReviewPendingError) Error() string {
	return fmt.Sprintf("review %s %s: %s; once approved, run the same statement again with hoop exec --review %s", e.ID, e.Why, e.URL, e.ID)
}

// SessionInfo is what the engine learns of a session at its start.
type SessionInfo struct {
	Application string // the client's application_name: "psql"
	DBUser      string // the role the gateway logged in as: "app_ro"
	BackendPID  uint32
}

// Gate decides the statements of one session. The engine asks it about the SQL text of
// every Query and every Parse before forwarding it. A Gate keeps no state about prepared
// statements or cursors: the engine follows them from PostgreSQL's answers and gives the
// gate its view (names) to find what an EXECUTE or a FETCH runs; the gate tells the engine,
// in the Decision's Effects, what each statement will do to them once it has run. A Gate is
// made per session and called from one goroutine.
type Gate interface {
	// Query decides a simple Query's text: its Decision, and nil to forward it, or the
	// refusal (a *DeniedError for a policy decision, a *ReviewRequired to hold it) that the
	// client gets in its place.
	Query(sql string, names Names) (Decision, error)
	// Parse decides an extended-protocol Parse's text, as Query does. The Decision goes with
	// the prepared statement to each of its runs (Bind, SQL-level EXECUTE).
	Parse(sql string, names Names) (Decision, error)
}

// Names is the engine's view of the session's prepared statements and portals (SQL cursors
// included), as PostgreSQL's answers have confirmed them. It may be used only during the
// Gate call it is passed to.
type Names interface {
	// Statement returns the class of each state prepared statement name may be in when
	// the statement being decided runs: several while a change to it waits for
	// PostgreSQL's answer, none when the gateway does not know the name (decide it as the
	// highest class: fail closed).
	Statement(name string) []string
	// Portal is Statement for a portal or cursor: the class of what FETCH or MOVE of it runs
	// (its DECLARE's query, or the statement a Bind made it from).
	Portal(name string) []string
}

// Decision is how the gate decided a SQL text. It travels with the statement: to its
// record, to its review, and with a prepared statement to each run of it.
type Decision struct {
	Class         string   // the highest class of its statements: "write"
	Verdict       string   // "allow", "review" or "deny"; "" when there is no gate
	Rule          string   // the rule that decided: "engineers-read-prod"
	PolicyVersion string   // the version of the policy that decided
	Effects       []Effect // what its statements do to prepared statements and cursors once run
}

// Effect is what one statement of a decided text does, once PostgreSQL has run it, to the
// session's prepared statements or cursors. Nothing changes for a statement that fails or
// never runs (after an earlier error): the engine applies an Effect on the statement's
// CommandComplete.
type Effect struct {
	Stmt  int        // the statement of the text: 0 for the first
	Kind  EffectKind //
	Name  string     // the statement or cursor: "get_user"
	All   bool       // EffectDeallocate, EffectClose: every one (DEALLOCATE ALL, CLOSE ALL, DISCARD ALL)
	Class string     // EffectPrepare, EffectDeclare: the class of what it prepares or declares: "read"
	SQL   string     // EffectPrepare, EffectDeclare: the statement's text, for the record of each run and to mask a cursor's rows
	Hold  bool       // EffectDeclare: WITH HOLD, the cursor outlives its transaction
}

// EffectKind says what an Effect does.
type EffectKind uint8

// Effect kinds.
const (
	EffectPrepare    EffectKind = iota + 1 // PREPARE name AS ...
	EffectDeallocate                       // DEALLOCATE name, DEALLOCATE ALL
	EffectDeclare                          // DECLARE name CURSOR FOR ...
	EffectClose                            // CLOSE name, CLOSE ALL
)

// DeniedError is a refusal by policy. The client sees it as insufficient_privilege (42501).
type DeniedError struct {
	Reason string // "no rule grants alice@example.com access to connection db-prod"
}

func (e *DeniedError) Error() string { return e.Reason }

// Request is one client connection that arrived through a tunnel.
type Request struct {
	Identity   identity.Identity
	Connection string // "db-prod"
	ClientAddr string // the local client's address on the CLI's host: "127.0.0.1:51234"
	// Authorize decides whether the identity may open a session on the connection, and how.
	// It is called after the client's startup message, so its refusal reaches the client as
	// a PostgreSQL error.
	Authorize func(ctx context.Context) (*Grant, error)
	// Notify shows a message on the CLI's stderr (the tunnel's control stream); may be nil.
	// Used when the local client cannot be told in its own protocol.
	Notify func(level, text string)
}

func (r *Request) notify(level, format string, args ...any) {
	if r.Notify != nil {
		r.Notify(level, fmt.Sprintf(format, args...))
	}
}

// Config tunes an Engine. The zero value of a field means its default.
type Config struct {
	StartupTimeout time.Duration // client startup and upstream login; default 30s
	MaxMessageSize int           // largest client message body buffered, bytes; default 64 MiB
	BufferSize     int           // read and write buffer per direction, bytes; default 64 KiB
	Logger         *slog.Logger  // default slog.Default()
	// StatementBytes is the largest Query or Parse the engine reads (the gateway config's
	// limits.statement_bytes); a larger one is read past in pieces and refused with
	// program_limit_exceeded (54000), and the session goes on. Default 1 MiB.
	StatementBytes int
	// InflightBytes bounds what client messages larger than BufferSize hold buffered at
	// once, over all sessions (limits.inflight_bytes). COPY data is never buffered: it
	// streams. Default 256 MiB.
	InflightBytes int64
	// InflightWait is how long a large message waits for room in InflightBytes before it
	// is refused with out_of_memory (53200). Default 30s.
	InflightWait time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() *Config {
	return &Config{
		StartupTimeout: 30 * time.Second,
		MaxMessageSize: 64 << 20,
		BufferSize:     64 << 10,
		Logger:         slog.Default(),
		StatementBytes: 1 << 20,
		InflightBytes:  256 << 20,
		InflightWait:   30 * time.Second,
	}
}

// Engine serves PostgreSQL sessions. One Engine serves all tunnels of a gateway, so that a
// CancelRequest arriving on any stream can find its session.
type Engine struct {
	cfg    Config
	budget *Budget // what large client messages may hold buffered at once

	mu       sync.Mutex
	backends map[cancelKey]*backend
}

// New returns an Engine; a nil cfg means DefaultConfig.
func New(cfg *Config) *Engine {
	d := DefaultConfig()
	if cfg != nil {
		if cfg.StartupTimeout > 0 {
			d.StartupTimeout = cfg.StartupTimeout
		}
		if cfg.MaxMessageSize > 0 {
			d.MaxMessageSize = cfg.MaxMessageSize
		}
		if cfg.BufferSize > 0 {
			d.BufferSize = cfg.BufferSize
		}
		if cfg.Logger != nil {
			d.Logger = cfg.Logger
		}
		if cfg.StatementBytes > 0 {
			d.StatementBytes = cfg.StatementBytes
		}
		if cfg.InflightBytes > 0 {
			d.InflightBytes = cfg.InflightBytes
		}
		if cfg.InflightWait > 0 {
			d.InflightWait = cfg.InflightWait
		}
	}
	return &Engine{cfg: *d, budget: NewBudget(d.InflightBytes), backends: make(map[cancelKey]*backend)}
}

// Inflight returns the bytes large client messages hold buffered now, over all sessions.
func (e *Engine) Inflight() int64 { return e.budget.Used() }

// SQLSTATE codes the engine sends.
const (
	codeProtocolViolation     = "08P01"
	codeCannotConnect         = "08001"
	codeConnectionRejected    = "08004"
	codeConnectionFailure     = "08006"
	codeInsufficientPrivilege = "42501"
	codeStatementTooComplex   = "54001"
	codeInternal              = "XX000"
	codeSystemError           = "58000"
	codeReviewPending         = "HR001" // hoop's own: the statement waits for a review
	codeInvalidParameter      = "22023"
	codeLimitExceeded         = "53400" // configuration_limit_exceeded
	codeTooManyConnections    = "53300"
	codeOutOfMemory           = "53200"
	codeProgramLimitExceeded  = "54000"
)

// LimitError is a refusal because a limit of the gateway is reached: too many sessions
// (SQLSTATE 53300, too_many_connections), too many reviews (53400,
// configuration_limit_exceeded), a statement too large (54000,
// program_limit_exceeded), no room to buffer a message (53200, out_of_memory). Reason
// names the limit and what to do.
type LimitError struct {
	Code   string // "53300"
	Reason string // "alice@example.com already has 20 database sessions open through the gateway (limits.sessions_per_identity); …"
}

func (e *LimitError) Error() string { return e.Reason }

// TooManyReviews returns the refusal of a statement that needs a review when its identity
// has opened as many as the gateway allows (53400, configuration_limit_exceeded).
func TooManyReviews(reason string) *LimitError {
	return &LimitError{Code: codeLimitExceeded, Reason: reason}
}

// TooComplex returns the refusal of a statement the gateway cannot analyse safely (nested
// too deeply for the parser): SQLSTATE 54001, statement_too_complex.
func TooComplex(reason string) *LimitError {
	return &LimitError{Code: codeStatementTooComplex, Reason: reason}
}

// TooManySessions returns the refusal of a session over a session limit.
func TooManySessions(reason string) *LimitError {
	return &LimitError{Code: codeTooManyConnections, Reason: reason}
}

// startupParams are the client's startup parameters passed on to PostgreSQL. Anything else
// (options, replication, standard_conforming_strings, role, ...) could change how the
// gateway's decisions apply, so it is dropped and the client is told.
var startupParams = map[string]bool{
	"application_name":   true,
	"client_encoding":    true,
	"DateStyle":          true,
	"IntervalStyle":      true,
	"TimeZone":           true,
	"extra_float_digits": true,
	"search_path":        true,
	"bytea_output":       true,
}

// Serve runs one client session on conn until either side ends it or ctx is done.
// It always closes conn.
func (e *Engine) Serve(ctx context.Context, conn net.Conn, req Request) error {
	defer conn.Close()
	log := e.cfg.Logger.With("user", req.Identity.String(), "connection", req.Connection, "client", req.ClientAddr)
	c := &clientConn{
		conn: conn,
		r:    bufio.NewReaderSize(conn, e.cfg.BufferSize),
		w:    bufio.NewWriterSize(conn, e.cfg.BufferSize),
	}
	_ = conn.SetDeadline(time.Now().Add(e.cfg.StartupTimeout))
	// Until the relay takes over, ending ctx just drops the connection.
	stopEarly := context.AfterFunc(ctx, func() { conn.Close() })
	defer stopEarly()
	startup, err := e.startup(ctx, c, &req)
	if err != nil || startup == nil {
		if err != nil {
			log.Info("postgres startup refused", "err", err)
		}
		return err
	}

	holdOpts, err := ParseHoldOptions(startup.Parameters)
	if err != nil {
		c.fatal(codeInvalidParameter, "hoop: "+err.Error(), "")
		return err
	}
	grant, err := req.Authorize(ctx)
	if err != nil {
		var denied *DeniedError
		if errors.As(err, &denied) {
			log.Info("postgres session denied", "reason", denied.Reason)
			c.fatal(codeInsufficientPrivilege, "hoop: "+denied.Reason, "")
			return err
		}
		if limit := (*LimitError)(nil); errors.As(err, &limit) {
			log.Warn("postgres session refused: a limit is reached", "reason", limit.Reason)
			c.fatal(limit.Code, "hoop: "+limit.Reason, "")
			return err
		}
		log.Error("postgres session authorize", "err", err)
		c.fatal(codeInternal, "hoop: the gateway could not authorize this session: "+err.Error(), "")
		return err
	}

	up, ignored, err := e.connectUpstream(ctx, startup, grant, &req)
	if denied := (*DeniedError)(nil); errors.As(err, &denied) {
		log.Info("postgres session refused", "reason", denied.Reason)
		c.fatal(codeInsufficientPrivilege, "hoop: "+denied.Reason, "")
		return err
	}
	if err != nil {
		log.Warn("postgres upstream login failed", "err", err)
		code, msg := describeUpstreamError(req.Connection, err)
		c.fatal(code, msg, "")
		return err
	}
	_ = conn.SetDeadline(time.Time{})
	if !stopEarly() {
		up.Conn.Close()
		return ctx.Err()
	}

	be := &backend{id: req.Identity, hc: up}
	key, err := e.register(be)
	if err != nil {
		up.Conn.Close()
		c.fatal(codeInternal, "hoop: "+err.Error(), "")
		return err
	}
	defer e.unregister(key)

	if err := c.greet(up, key, ignored, grant); err != nil {
		up.Conn.Close()
		return fmt.Errorf("postgres greet client: %w", err)
	}
	log.Info("postgres session started", "level", grant.Level, "read_only", grant.ReadOnly, "backend_pid", up.PID)
	s := &session{
		e:        e,
		req:      &req,
		gate:     grant.Gate,
		c:        c,
		up:       up.Conn,
		upR:      bufio.NewReaderSize(up.Conn, e.cfg.BufferSize),
		upW:      bufio.NewWriterSize(up.Conn, e.cfg.BufferSize),
		log:      log,
		start:    time.Now(),
		masker:   grant.Masker,
		holder:   grant.Holder,
		holdOpts: holdOpts,
		be:       be,
		ctx:      ctx,
		names:    newNames(),
	}
	// Results are tracked even when nothing is masked: the answers they follow tell which
	// prepared statements and portals exist (names).
	s.res = newResults(grant.Masker)
	if grant.Masker != nil {
		if c, ok := grant.Masker.(interface{ Close() }); ok {
			defer c.Close()
		}
	}
	if grant.Record != nil {
		rec, err := grant.Record(SessionInfo{Application: startup.Parameters["application_name"], DBUser: grant.Upstream.User, BackendPID: up.PID})
		if err != nil {
			log.Error("postgres session refused: recording it failed", "err", err)
			c.fatal(codeSystemError, "hoop: the session was refused because the gateway could not record it: "+err.Error(), "")
			up.Conn.Close()
			return err
		}
		s.rec = rec
	}
	err = s.relay(ctx)
	if s.rec != nil {
		reason := "client closed"
		switch {
		case s.clientDone.Load():
			// The client said goodbye (or hung up) first, whatever ended the tunnel since.
		case ctx.Err() != nil:
			reason = "ended by the gateway"
			if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
				reason += ": " + cause.Error()
			}
		case err != nil:
			reason = "error: " + err.Error()
		}
		s.rec.End(reason)
	}
	log.Info("postgres session ended", "duration", time.Since(s.start).Round(time.Millisecond), "err", err)
	return err
}

// startup handles the packets before the StartupMessage. It returns nil, nil when the
// connection was a CancelRequest (handled) or ended on its own.
func (e *Engine) startup(ctx context.Context, c *clientConn, req *Request) (*pgproto3.StartupMessage, error) {
	askedTLS := false
	for range 3 { // at most SSLRequest, GSSENCRequest, StartupMessage
		first, err := c.r.Peek(2)
		if err != nil {
			if errors.Is(err, io.EOF) && askedTLS {
				req.notify("warning", "a local client at %s asked for TLS and hung up when refused: hoop's local port speaks plain PostgreSQL on loopback (the tunnel to the gateway is encrypted); use sslmode=disable or sslmode=prefer", req.ClientAddr)
				return nil, errors.New("client required TLS on the local port")
			}
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return nil, fmt.Errorf("read startup: %w", err)
		}
		if first[0] == 0x16 && first[1] == 0x03 {
			req.notify("warning", "a local client at %s started a TLS handshake directly (sslnegotiation=direct): hoop's local port speaks plain PostgreSQL on loopback (the tunnel to the gateway is encrypted); use sslmode=disable or sslmode=prefer", req.ClientAddr)
			return nil, errors.New("client started TLS directly on the local port")
		}
		body, err := readStartup(c.r)
		if err != nil {
			req.notify("warning", "a local client at %s does not speak PostgreSQL: %v", req.ClientAddr, err)
			c.fatal(codeProtocolViolation, "hoop: "+err.Error(), "")
			return nil, err
		}
		code := binary.BigEndian.Uint32(body)
		switch code {
		case pgproto3.ProtocolVersion30, pgproto3.ProtocolVersion32:
			var m pgproto3.StartupMessage
			if err := m.Decode(body); err != nil {
				c.fatal(codeProtocolViolation, "hoop: invalid startup message: "+err.Error(), "")
				return nil, fmt.Errorf("decode startup: %w", err)
			}
			if _, ok := m.Parameters["replication"]; ok {
				c.fatal(codeInsufficientPrivilege, "hoop: replication connections are not allowed through the gateway", "")
				return nil, errors.New("client asked for a replication connection")
			}
			return &m, nil
		case 80877103: // SSLRequest
			askedTLS = true
			if err := c.writeRaw([]byte{'N'}); err != nil {
				return nil, err
			}
		case 80877104: // GSSENCRequest
			if err := c.writeRaw([]byte{'N'}); err != nil {
				return nil, err
			}
		case 80877102: // CancelRequest
			var m pgproto3.CancelRequest
			if err := m.Decode(body); err != nil {
				return nil, fmt.Errorf("decode cancel request: %w", err)
			}
			e.cancel(ctx, req, &m)
			return nil, nil
		default:
			msg := fmt.Sprintf("unsupported protocol version or request code %d (hoop speaks protocol 3.0)", code)
			c.fatal(codeProtocolViolation, "hoop: "+msg, "")
			return nil, errors.New(msg)
		}
	}
	c.fatal(codeProtocolViolation, "hoop: too many startup requests", "")
	return nil, errors.New("too many startup requests")
}

// connectUpstream logs in to PostgreSQL with the grant's credential. It returns the names
// of the client's startup parameters that were not passed on.
func (e *Engine) connectUpstream(ctx context.Context, startup *pgproto3.StartupMessage, grant *Grant, req *Request) (*pgconn.HijackedConn, []string, error) {
	cfg := grant.Upstream.Copy()
	params := make(map[string]string, len(startup.Parameters)+2)
	maps.Copy(params, cfg.RuntimeParams)
	var ignored []string
	for k, v := range startup.Parameters {
		switch {
		case k == "user" || k == "database":
			// The gateway decides both; the client's are ignored.
		case strings.HasPrefix(k, "hoop."):
			// The gateway's own options (hoop exec's), never the database's.
		case k == "client_encoding" && unsafeEncoding(v):
			return nil, nil, &DeniedError{Reason: fmt.Sprintf("client_encoding %s is not allowed through the gateway: in it the database and the gateway's parser can disagree about where a string ends; use UTF8", v)}
		case startupParams[k]:
			params[k] = v
		default:
			ignored = append(ignored, k)
		}
	}
	slices.Sort(ignored)
	params["application_name"] = applicationName(params["application_name"], req.Identity)
	if grant.ReadOnly {
		params["default_transaction_read_only"] = "on"
	}
	cfg.RuntimeParams = params
	cctx, cancel := context.WithTimeout(ctx, e.cfg.StartupTimeout)
	defer cancel()
	pc, err := pgconn.ConnectConfig(cctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	// pgconn may still be reading the connection in the background: a login write that
	// took it over 15 ms (a loaded machine) starts a read that can outlive the login,
	// blocked on the socket, and would take the database's first answer after the relay
	// takes over: the client would wait for it forever. SyncConn ends that read (with a
	// round trip if it must) and leaves nothing buffered, as Hijack requires.
	if err := pc.SyncConn(cctx); err != nil {
		pc.Close(context.Background())
		return nil, nil, fmt.Errorf("sync upstream connection: %w", err)
	}
	hc, err := pc.Hijack()
	if err != nil {
		pc.Close(context.Background())
		return nil, nil, fmt.Errorf("hijack upstream: %w", err)
	}
	return hc, ignored, nil
}

// unsafeEncoding reports whether a client encoding lets a multi-byte character swallow a
// quote or backslash (SJIS, BIG5, GBK, UHC, GB18030, JOHAB): PostgreSQL refuses them as
// server encodings for that reason.
func unsafeEncoding(v string) bool {
	n := strings.ToUpper(strings.NewReplacer("_", "", "-", "", " ", "").Replace(v))
	switch n {
	case "SJIS", "SHIFTJIS", "MSKANJI", "WIN932", "WINDOWS932", "BIG5", "WIN950", "WINDOWS950", "GBK", "WIN936", "WINDOWS936", "CP936",
		"UHC", "WIN949", "WINDOWS949", "GB18030", "JOHAB", "SHIFTJIS2004":
		return true
	}
	return false
}

// applicationName tags the client's application name with who is using it, so that
// pg_stat_activity on the database shows the person behind the gateway's role.
func applicationName(app string, id identity.Identity) string {
	if app == "" {
		app = "hoop"
	}
	s := fmt.Sprintf("%s (hoop:%s)", app, id.String())
	if len(s) > 63 { // NAMEDATALEN-1: PostgreSQL truncates, we keep the suffix readable
		s = s[:63]
	}
	return s
}

// describeUpstreamError turns an upstream login failure into what the client is told.
// The gateway's log has the full error; the client is not told where the database is.
func describeUpstreamError(connection string, err error) (code, msg string) {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "28P01" || pgErr.Code == "28000":
			return codeConnectionRejected, fmt.Sprintf("hoop: the database of connection %s rejected the gateway's stored credential (%s); ask the gateway's operator to check the connection's credentials", connection, pgErr.Code)
		default:
			return pgErr.Code, fmt.Sprintf("hoop: connection %s: the database refused the session: %s", connection, pgErr.Message)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return codeCannotConnect, fmt.Sprintf("hoop: connection %s: the database did not answer the gateway in time; ask the gateway's operator (details are in the gateway's log)", connection)
	}
	return codeCannotConnect, fmt.Sprintf("hoop: connection %s: the gateway cannot reach the database; ask the gateway's operator (details are in the gateway's log)", connection)
}

// clientConn is the client side of a session. Writes may come from both relay directions,
// so they hold mu.
type clientConn struct {
	conn net.Conn
	r    *bufio.Reader

	mu sync.Mutex
	w  *bufio.Writer
}

func (c *clientConn) writeRaw(b []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.Write(b); err != nil {
		return err
	}
	return c.w.Flush()
}

func (c *clientConn) send(msgs ...pgproto3.BackendMessage) error {
	var buf []byte
	for _, m := range msgs {
		var err error
		if buf, err = m.Encode(buf); err != nil {
			return err
		}
	}
	return c.writeRaw(buf)
}

// writeError writes the ErrorResponse for a refused statement; the caller holds mu. The
// session goes on.
func (c *clientConn) writeError(refusal error) error {
	code, msg := codeInternal, "hoop: "+refusal.Error()
	var denied *DeniedError
	var rec *RecordError
	var pending *ReviewPendingError
	var limit *LimitError
	switch {
	case errors.As(refusal, &denied):
		code = codeInsufficientPrivilege
	case errors.As(refusal, &limit):
		code = limit.Code
	case errors.As(refusal, &rec):
		code = codeSystemError
	case errors.As(refusal, &pending):
		code = codeReviewPending
	}
	b, err := (&pgproto3.ErrorResponse{Severity: "ERROR", SeverityUnlocalized: "ERROR", Code: code, Message: msg}).Encode(nil)
	if err != nil {
		return err
	}
	_, err = c.w.Write(b)
	return err
}

// fatal sends a FATAL ErrorResponse; the caller then closes the connection.
func (c *clientConn) fatal(code, msg, hint string) {
	_ = c.send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: msg, Hint: hint})
}

// greet finishes the client's startup: AuthenticationOk, the server's parameters, the
// gateway's cancel key and ReadyForQuery.
func (c *clientConn) greet(up *pgconn.HijackedConn, key cancelKey, ignored []string, grant *Grant) error {
	msgs := []pgproto3.BackendMessage{&pgproto3.AuthenticationOk{}}
	for _, k := range slices.Sorted(maps.Keys(up.ParameterStatuses)) {
		msgs = append(msgs, &pgproto3.ParameterStatus{Name: k, Value: up.ParameterStatuses[k]})
	}
	msgs = append(msgs, &pgproto3.BackendKeyData{ProcessID: key.pid, SecretKey: key.secret[:]})
	if len(ignored) > 0 {
		msgs = append(msgs, &pgproto3.NoticeResponse{Severity: "NOTICE", SeverityUnlocalized: "NOTICE", Code: "01000",
			Message: "hoop: ignored startup parameters: " + strings.Join(ignored, ", ")})
	}
	_ = grant
	msgs = append(msgs, &pgproto3.ReadyForQuery{TxStatus: up.TxStatus})
	return c.send(msgs...)
}

func randomKey() (cancelKey, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return cancelKey{}, fmt.Errorf("cancel key: %w", err)
	}
	k := cancelKey{pid: binary.BigEndian.Uint32(b[:4]) &^ (1 << 31)}
	copy(k.secret[:], b[4:])
	if k.pid == 0 {
		k.pid = 1
	}
	return k, nil
}
