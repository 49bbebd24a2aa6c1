// Package pgtest starts a real, throwaway PostgreSQL server for tests and scripts.
//
// The server is initialised with initdb in a fresh directory, listens on
// 127.0.0.1 on a free port and on a unix socket inside its data directory, and
// is tuned for tests (no fsync, UTC). Host connections need a password (SCRAM),
// as on a real server; unix-socket connections are trusted.
//
//	func TestX(t *testing.T) {
//		srv := pgtest.Start(t, pgtest.WithApp())
//		conn, err := pgx.Connect(ctx, srv.DSN(srv.App.ROUser, srv.App.ROPassword, srv.App.DB))
//		...
//	}
//
// The binaries come from PATH (initdb and postgres), else from the highest
// version under /usr/lib/postgresql/*/bin. When none is found, Start skips the
// test, or fails it when CI=true. When the process runs as root, initdb and
// postgres run as the "postgres" system user (or "nobody"), because PostgreSQL
// refuses to run as root.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors.
var (
	// ErrNotFound means no PostgreSQL server binaries (initdb and postgres) were found.
	ErrNotFound = errors.New("postgres: initdb not found; install PostgreSQL (apt-get install postgresql) " +
		"or put its bin directory on PATH (or set " + BinDirEnv + ")")
	// ErrStopped is returned when the server was stopped or exited.
	ErrStopped = errors.New("postgres: server stopped")
)

// BinDirEnv names an environment variable that, when set, is the directory
// holding initdb and postgres; it takes precedence over PATH.
const BinDirEnv = "HOOP_TEST_PG_BINDIR"

const (
	defaultSuperUser    = "postgres"
	defaultStartTimeout = 30 * time.Second
	stopTimeout         = 30 * time.Second
	// maxSocketPath is the usable length of a unix socket path (sun_path less the NUL).
	maxSocketPath = 107
)

// Options configure a server. The zero value is a plain server with a
// "postgres" superuser and a random password.
type Options struct {
	// SuperUser is the bootstrap superuser's name; "postgres" when empty.
	SuperUser string
	// SuperPassword is the superuser's password; random when empty.
	SuperPassword string
	// SSL turns ssl=on with a freshly generated self-signed certificate for
	// 127.0.0.1 and localhost. Plain connections stay allowed.
	SSL bool
	// App runs CreateApp after start.
	App bool
	// Seeds run in order after start (and after App), as the superuser.
	Seeds []Seed
	// Settings are extra server settings, passed as -c name=value; they win
	// over the defaults. Example: {"log_statement": "all"}.
	Settings map[string]string
	// StartTimeout bounds how long to wait for the server to accept
	// connections; 30s when zero.
	StartTimeout time.Duration
}

// Seed is SQL run as the superuser after the server starts.
type Seed struct {
	DB  string // database to run in; "postgres" when empty
	SQL string // one or more statements, simple protocol
}

// Option changes Options; it is the test form of configuration for Start.
type Option func(*Options)

// WithSSL enables TLS on the server (see Options.SSL).
func WithSSL() Option { return func(o *Options) { o.SSL = true } }

// WithApp creates the sample application database (see Server.CreateApp).
func WithApp() Option { return func(o *Options) { o.App = true } }

// WithSeed runs sql in database db ("" means "postgres") after the server starts.
func WithSeed(db, sql string) Option {
	return func(o *Options) { o.Seeds = append(o.Seeds, Seed{DB: db, SQL: sql}) }
}

// WithSetting sets a server setting, as postgres -c name=value.
func WithSetting(name, value string) Option {
	return func(o *Options) {
		if o.Settings == nil {
			o.Settings = make(map[string]string)
		}
		o.Settings[name] = value
	}
}

// Server is a running PostgreSQL server. Its methods are not safe for
// concurrent use with Stop or CreateApp; Exec and DSN may be called from
// several goroutines.
type Server struct {
	Host          string // "127.0.0.1"
	Port          int    // 41523
	Dir           string // working directory: "/tmp/pgtest-123/", holds data/ and postgres.log
	DataDir       string // Dir + "/data"
	SocketDir     string // unix socket directory (the data directory); local connections are trusted
	LogFile       string // server log: Dir + "/postgres.log"
	BinDir        string // "/usr/lib/postgresql/15/bin"
	Version       string // major version from PG_VERSION: "15"
	SuperUser     string // "postgres"
	SuperPassword string // random hex unless set in Options

	// SSL reports whether TLS is on. CACertFile is then a PEM file, readable
	// by anyone, holding the server's self-signed certificate, for
	// sslrootcert; CACertPEM is its content.
	SSL        bool
	CACertFile string
	CACertPEM  []byte

	// App is the sample application database, set by CreateApp.
	App *App

	owner     *sysUser // the user postgres runs as when we are root; nil otherwise
	removeDir bool     // Dir was created by StartServer and is removed by Stop
	proc      *process
	log       *os.File

	stopOnce sync.Once
	stopErr  error
}

// process is one run of the postgres binary.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited
	err    error         // cmd.Wait's result, valid after exited is closed
}

// Start starts a server for the duration of a test; t.Cleanup stops it and
// removes its files. It skips the test when PostgreSQL is not installed,
// unless CI=true, and fails the test on any other error.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	s, err := StartServer(t.Context(), "", o)
	if errors.Is(err, ErrNotFound) {
		if isCI(os.Getenv("CI")) {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// isCI reports whether the CI environment variable asks for strictness.
func isCI(v string) bool {
	ci, err := strconv.ParseBool(v)
	return err == nil && ci
}

// StartServer initialises and starts a server in dir and waits until it
// accepts connections. The data directory is dir/data, which must not exist
// yet; dir is created if needed. When dir is empty, a temporary directory is
// used and Stop removes it; otherwise Stop leaves the files. As root, dir and
// its parents inside the temporary directory are made searchable (o+x) for
// the server's user; other parents must be already. ctx bounds only
// the start, not the server's life. The caller must call Stop.
func StartServer(ctx context.Context, dir string, opts Options) (*Server, error) {
	bins, err := findBinaries()
	if err != nil {
		return nil, err
	}
	owner, err := serverUser()
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	s := &Server{
		Host:          "127.0.0.1",
		BinDir:        filepath.Dir(bins.postgres),
		SuperUser:     opts.SuperUser,
		SuperPassword: opts.SuperPassword,
		owner:         owner,
	}
	if s.SuperUser == "" {
		s.SuperUser = defaultSuperUser
	}
	if s.SuperPassword == "" {
		s.SuperPassword = randomPassword()
	}
	if err := s.prepareDir(dir); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start: %w", err)
	}
	if err := s.start(ctx, bins, opts); err != nil {
		_ = s.Stop()
		return nil, fmt.Errorf("start: %w", err)
	}
	return s, nil
}

// prepareDir creates the working and data directories, owned so that the
// server's user can use them.
func (s *Server) prepareDir(dir string) error {
	if dir == "" {
		base := os.TempDir()
		if s.owner != nil && s.owner.checkTraversable(base) != nil && s.owner.checkTraversable("/tmp") == nil {
			base = "/tmp" // TMPDIR is private to root; the server's user could not reach it
		}
		d, err := os.MkdirTemp(base, "pgtest-")
		if err != nil {
			return fmt.Errorf("create temp dir: %w", err)
		}
		s.removeDir = true
		dir = d
	} else {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return fmt.Errorf("dir %s: %w", dir, err)
		}
		dir = abs
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create dir: %w", err)
		}
	}
	s.Dir = dir
	s.DataDir = filepath.Join(dir, "data")
	s.SocketDir = s.DataDir
	s.LogFile = filepath.Join(dir, "postgres.log")
	if n := len(s.SocketDir) + len("/.s.PGSQL.65535"); n > maxSocketPath {
		return fmt.Errorf("dir %s: unix socket path would be %d bytes, more than %d; use a shorter dir", dir, n, maxSocketPath)
	}
	if s.owner != nil {
		// The server's user must reach the data directory through dir.
		if s.removeDir {
			if err := os.Chmod(dir, 0o755); err != nil {
				return fmt.Errorf("chmod %s: %w", dir, err)
			}
		} else if err := addSearchUnderTemp(dir); err != nil {
			return err
		}
		if err := s.owner.checkTraversable(filepath.Dir(dir)); err != nil {
			return err
		}
	}
	if err := os.Mkdir(s.DataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	if err := s.chown(s.DataDir); err != nil {
		return err
	}
	return nil
}

// addSearchUnderTemp lets others traverse dir and, up to the temporary
// directory, its parents, so that "mktemp -d" or t.TempDir (0700) can hold a
// server's files. Directories outside the temporary directory other than dir
// itself are left alone.
func addSearchUnderTemp(dir string) error {
	if err := addSearch(dir); err != nil {
		return err
	}
	for _, base := range []string{os.TempDir(), "/tmp"} {
		for d := filepath.Dir(dir); isUnder(d, base); d = filepath.Dir(d) {
			if err := addSearch(d); err != nil {
				return err
			}
		}
	}
	return nil
}

// isUnder reports whether dir is strictly inside base.
func isUnder(dir, base string) bool {
	rel, err := filepath.Rel(filepath.Clean(base), dir)
	return err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// addSearch lets others traverse (not list) dir.
func addSearch(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil
	}
	if err := os.Chmod(dir, fi.Mode().Perm()|0o001); err != nil {
		return fmt.Errorf("chmod %s: %w", dir, err)
	}
	return nil
}

// chown gives path to the server's user when we run as root.
func (s *Server) chown(path string) error {
	if s.owner == nil {
		return nil
	}
	if err := os.Chown(path, s.owner.uid, s.owner.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", path, s.owner.name, err)
	}
	return nil
}

func (s *Server) start(ctx context.Context, bins binaries, opts Options) error {
	log, err := os.OpenFile(s.LogFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open log: %w", err)
	}
	s.log = log
	if err := s.initdb(ctx, bins.initdb); err != nil {
		return err
	}
	if v, err := os.ReadFile(filepath.Join(s.DataDir, "PG_VERSION")); err == nil {
		s.Version = strings.TrimSpace(string(v))
	}
	if opts.SSL {
		if err := s.writeCert(); err != nil {
			return err
		}
	}
	timeout := opts.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// The free port may be taken by someone else before postgres binds it:
	// try again with another port when that happens.
	const attempts = 3
	for i := 1; ; i++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		s.Port = port
		if err := s.run(bins.postgres, opts); err != nil {
			return err
		}
		err = s.waitReady(ctx)
		if err == nil {
			break
		}
		if i < attempts && errors.Is(err, ErrStopped) && bindFailed(s.logTail()) {
			_ = s.log.Truncate(0) // so the next attempt's log is judged alone
			continue
		}
		return err
	}
	if opts.App {
		if _, err := s.CreateApp(ctx); err != nil {
			return err
		}
	}
	for _, seed := range opts.Seeds {
		db := seed.DB
		if db == "" {
			db = "postgres"
		}
		if err := s.ExecIn(ctx, db, seed.SQL); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}

func (s *Server) initdb(ctx context.Context, initdb string) error {
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.SuperPassword+"\n"), 0o600); err != nil {
		return fmt.Errorf("initdb: write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := s.chown(pwfile); err != nil {
		return fmt.Errorf("initdb: %w", err)
	}
	cmd := exec.CommandContext(ctx, initdb,
		"-D", s.DataDir,
		"--auth-local=trust",
		"--auth-host=scram-sha-256",
		"--username="+s.SuperUser,
		"--pwfile="+pwfile,
		"-E", "UTF8",
		"--no-locale",
		"--no-sync",
	)
	s.prepareCmd(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, tail(out, 2048))
	}
	return nil
}

// prepareCmd sets what every PostgreSQL command needs: the user, a working
// directory it can enter, and an environment free of PG* variables.
func (s *Server) prepareCmd(cmd *exec.Cmd) {
	cmd.Dir = s.Dir
	cmd.Env = childEnv(os.Environ())
	cmd.SysProcAttr = sysProcAttr(s.owner)
}

// childEnv drops variables that would change what the server or initdb do.
func childEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "PG") || strings.HasPrefix(name, "LC_") || name == "LANG" || name == "LANGUAGE" {
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LC_ALL=C")
}

// settings returns the server's -c settings: test-friendly defaults, then
// the caller's.
func (s *Server) settings(opts Options) map[string]string {
	set := map[string]string{
		"max_connections":     "100",
		"shared_buffers":      "128MB",
		"password_encryption": "scram-sha-256",
		"fsync":               "off",
		"synchronous_commit":  "off",
		"full_page_writes":    "off",
		"TimeZone":            "UTC",
		"log_timezone":        "UTC",
		"logging_collector":   "off",
		"log_destination":     "stderr",
	}
	if opts.SSL {
		set["ssl"] = "on"
		set["ssl_cert_file"] = "server.crt"
		set["ssl_key_file"] = "server.key"
	}
	for k, v := range opts.Settings {
		set[k] = v
	}
	return set
}

// run starts postgres in the background.
func (s *Server) run(postgres string, opts Options) error {
	args := []string{
		"-D", s.DataDir,
		"-k", s.SocketDir,
		"-h", s.Host,
		"-p", strconv.Itoa(s.Port),
		"-F",
	}
	set := s.settings(opts)
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		args = append(args, "-c", k+"="+set[k])
	}
	cmd := exec.Command(postgres, args...)
	s.prepareCmd(cmd)
	cmd.Stdout = s.log
	cmd.Stderr = s.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("run postgres: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	s.proc = p
	return nil
}

// waitReady polls until the server accepts a password login over TCP.
func (s *Server) waitReady(ctx context.Context) error {
	dsn := s.DSN(s.SuperUser, s.SuperPassword, "postgres")
	delay := 10 * time.Millisecond
	var lastErr error
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgconn.Connect(cctx, dsn)
		cancel()
		if err == nil {
			return conn.Close(ctx)
		}
		lastErr = err
		timer := time.NewTimer(delay)
		select {
		case <-s.proc.exited:
			timer.Stop()
			return fmt.Errorf("postgres exited before accepting connections (%v): %w\n%s",
				s.proc.err, ErrStopped, s.logTail())
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("postgres not accepting connections on port %d: %w (last: %v)\n%s",
				s.Port, ctx.Err(), lastErr, s.logTail())
		case <-timer.C:
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

// bindFailed reports whether a server log says the port was taken.
func bindFailed(log string) bool {
	return strings.Contains(log, "could not bind") || strings.Contains(log, "could not create any TCP/IP sockets")
}

// logTail returns the end of the server log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(s.LogFile)
	if err != nil {
		return ""
	}
	return tail(b, 2048)
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return strings.TrimRight(string(b), "\n")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// randomPassword returns 24 random hex characters.
func randomPassword() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Done returns a channel that is closed when the server process has exited,
// whether by Stop or on its own.
func (s *Server) Done() <-chan struct{} {
	if s.proc == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return s.proc.exited
}

// Stop shuts the server down (fast shutdown: sessions are ended) and, when
// StartServer created the directory, removes it. It is bounded and safe to
// call more than once.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	var errs []error
	if p := s.proc; p != nil {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Signal(os.Interrupt) // SIGINT: fast shutdown
			timer := time.NewTimer(stopTimeout)
			select {
			case <-p.exited:
				timer.Stop()
			case <-timer.C:
				_ = p.cmd.Process.Kill()
				<-p.exited
				errs = append(errs, fmt.Errorf("stop: postgres did not stop within %s; killed", stopTimeout))
			}
		}
	}
	if s.log != nil {
		_ = s.log.Close()
	}
	if s.removeDir && s.Dir != "" {
		if err := os.RemoveAll(s.Dir); err != nil {
			errs = append(errs, fmt.Errorf("stop: remove %s: %w", s.Dir, err))
		}
	}
	return errors.Join(errs...)
}

// DSN returns a URL for a TCP connection with sslmode=disable:
// "postgres://user:pw@127.0.0.1:port/db?sslmode=disable".
func (s *Server) DSN(user, password, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(s.Host, strconv.Itoa(s.Port)),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// SuperDSN returns DSN for the superuser and database db.
func (s *Server) SuperDSN(db string) string {
	return s.DSN(s.SuperUser, s.SuperPassword, db)
}

// Exec runs sql (one or more statements) as the superuser in database "postgres".
func (s *Server) Exec(ctx context.Context, sql string) error {
	return s.ExecIn(ctx, "postgres", sql)
}

// ExecIn runs sql (one or more statements) as the superuser in database db.
func (s *Server) ExecIn(ctx context.Context, db, sql string) error {
	select {
	case <-s.Done():
		return fmt.Errorf("exec: %w", ErrStopped)
	default:
	}
	conn, err := pgconn.Connect(ctx, s.SuperDSN(db))
	if err != nil {
		return fmt.Errorf("exec: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	results, err := conn.Exec(ctx, sql).ReadAll()
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	for _, r := range results {
		if r.Err != nil {
			return fmt.Errorf("exec: %w", r.Err)
		}
	}
	return nil
}
