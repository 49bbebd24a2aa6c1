package e2e

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testbrowser"
)

// tryPgx connects through a local port, and returns the error rather than failing.
func tryPgx(t *testing.T, addr string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn(addr))
	if err == nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// wantTooMany checks that err is a 53300 refusal whose message says msg.
func wantTooMany(t *testing.T, what string, err error, msg string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "53300" || !strings.Contains(pgErr.Message, msg) {
		t.Fatalf("%s: got %v, want SQLSTATE 53300 with %q", what, err, msg)
	}
}

// openUntil opens a session through addr, retrying while the gateway still counts a
// session that just closed (its end reaches the gateway after the client's).
func openUntil(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	var conn *pgx.Conn
	waitFor(t, "a free session slot", func() bool {
		c, err := tryPgx(t, addr)
		if err != nil {
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "53300" {
				t.Fatalf("connect: %v", err)
			}
			return false
		}
		conn = c
		return true
	})
	return conn
}

// TestSessionsPerIdentityLimited: one identity cannot take every database connection.
// An analyst holding many sessions, over several tunnels, gets 53300 (naming
// limits.sessions_per_identity) on the one over the limit, while another identity still
// connects; the sessions that end free their slots whichever way they end (the client's
// Terminate, a hang-up, the database ending the backend, the gateway ending the tunnel),
// and exactly as many: after N close, N open and the next is refused again.
func TestSessionsPerIdentityLimited(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	cfg := readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml")) + "\nlimits:\n  sessions_per_identity: 4\n"
	gw := startGateway(t, gatewayOptions{config: cfg})
	ann := gw.login(t, "ann")
	tunnel1, _ := gw.connect(t, ann, "db-prod")
	tunnel2, _ := gw.connect(t, ann, "db-prod")

	var held []*pgx.Conn
	for _, addr := range []string{tunnel1, tunnel1, tunnel2, tunnel2} {
		held = append(held, connectPgx(t, addr))
	}
	const over = "ann@example.com already has 4 database sessions open through the gateway (limits.sessions_per_identity); close some, or ask an admin to raise the limit"
	_, err := tryPgx(t, tunnel1)
	wantTooMany(t, "ann's fifth session", err, over)
	_, err = tryPgx(t, tunnel2)
	wantTooMany(t, "ann's fifth session, on her other tunnel", err, over)
	// The PostgreSQL user name a client sends is not who it is.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = pgx.Connect(cctx, "postgres://alice@"+tunnel1+"/app?sslmode=disable")
	cancel()
	wantTooMany(t, "ann's fifth session, as PostgreSQL user alice", err, over)

	// Another identity is not held back by ann's sessions.
	aliceAddr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	alice := connectPgx(t, aliceAddr)
	var n int
	if err := alice.QueryRow(ctx, "select 1").Scan(&n); err != nil {
		t.Fatalf("alice while ann is at her limit: %v", err)
	}

	// Each way a session ends frees its slot.
	held[0].Close(ctx) // Terminate
	held[0] = openUntil(t, tunnel1)
	held[1].PgConn().Conn().Close() // the client hangs up, no Terminate
	held[1] = openUntil(t, tunnel1)
	var pid int
	if err := held[2].QueryRow(ctx, "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if err := pg.ExecIn(ctx, pg.App.DB, fmt.Sprintf("select pg_terminate_backend(%d)", pid)); err != nil {
		t.Fatal(err)
	}
	held[2] = openUntil(t, tunnel2) // the database ended the backend
	_, err = tryPgx(t, tunnel2)
	wantTooMany(t, "ann's fifth session after three replaced", err, over)

	// The gateway ends every tunnel: all of ann's slots are free again, and no more.
	gw.G.CloseTunnels("the test ends the tunnels")
	for _, c := range held {
		c.Close(ctx)
	}
	tunnel3, _ := gw.connect(t, ann, "db-prod")
	for range 4 {
		openUntil(t, tunnel3)
	}
	_, err = tryPgx(t, tunnel3)
	wantTooMany(t, "ann's fifth session after the tunnels ended", err, over)

	if !strings.Contains(gw.Logs.String(), "limits.sessions_per_identity") {
		t.Errorf("the gateway's log does not mention the refusals")
	}
}

// TestSessionsPerConnectionLimited: the identities together cannot take more sessions on
// a connection than its limit (max_sessions, here below limits.sessions_per_connection);
// the refusal names it, and a closed session frees its slot for anyone.
func TestSessionsPerConnectionLimited(t *testing.T) {
	ctx := context.Background()
	cfg := readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml"))
	cfg = strings.Replace(cfg, "    sslmode: prefer\n", "    sslmode: prefer\n    max_sessions: 2\n", 1)
	if !strings.Contains(cfg, "max_sessions") {
		t.Fatal("the example config changed: no sslmode line to put max_sessions after")
	}
	gw := startGateway(t, gatewayOptions{config: cfg + "\nlimits:\n  sessions_per_connection: 10\n"})
	annAddr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	aliceAddr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	danaAddr, _ := gw.connect(t, gw.login(t, "dana"), "db-prod")

	annConn := connectPgx(t, annAddr)
	connectPgx(t, aliceAddr)
	const over = "connection db-prod already has 2 database sessions open through the gateway, its limit (max_sessions of connection db-prod); try again when some close, or ask an admin to raise the limit"
	_, err := tryPgx(t, danaAddr)
	wantTooMany(t, "dana's session on a full connection", err, over)
	_, err = tryPgx(t, annAddr)
	wantTooMany(t, "ann's second session on a full connection", err, over)

	annConn.Close(ctx)
	dana := openUntil(t, danaAddr)
	var n int
	if err := dana.QueryRow(ctx, "select 1").Scan(&n); err != nil {
		t.Fatal(err)
	}
	_, err = tryPgx(t, annAddr)
	wantTooMany(t, "ann once dana took the freed slot", err, over)
}

// procStatus reads a field of /proc/PID/status in bytes: "VmHWM", "VmRSS".
func procStatus(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to measure the gateway's memory: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("/proc/%d/status %s: %q", pid, field, v)
			}
			return kb << 10
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return 0
}

// startHoopd runs hoopd --dev as its own process with the shared example config (and
// extra appended), with env added to its environment, against the shared PostgreSQL, so that its memory is its own; it
// returns its URL and process.
func startHoopd(t *testing.T, extra string, env ...string) (string, *exec.Cmd) {
	t.Helper()
	pg := sharedPG(t)
	hoopd, err := exec.LookPath("hoopd") // testscript.Main puts the test binary on PATH as hoopd
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ex := sharedExamples(t)
	writeFile(t, filepath.Join(dir, "gateway.yaml"), readFile(t, filepath.Join(ex, "gateway.yaml"))+extra)
	writeFile(t, filepath.Join(dir, "policy.yaml"), readFile(t, filepath.Join(ex, "policy.yaml")))
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	cmd := exec.Command(hoopd, "--dev", "--config", filepath.Join(dir, "gateway.yaml"))
	cmd.Env = append(os.Environ(), "HOOP_LISTEN=127.0.0.1:"+fmt.Sprint(port), "HOOP_PUBLIC_URL="+url,
		"HOOP_STORE=sqlite://"+filepath.Join(dir, "hoop-data", "hoop.db"),
		"DB_HOST="+pg.Host, "DB_PORT="+fmt.Sprint(pg.Port), "DB_NAME="+pg.App.DB,
		"DB_RO_USER="+pg.App.ROUser, "DB_RO_PASSWORD="+pg.App.ROPassword,
		"DB_RW_USER="+pg.App.RWUser, "DB_RW_PASSWORD="+pg.App.RWPassword)
	cmd.Env = append(cmd.Env, env...)
	runHoopd(t, cmd, port)
	return url, cmd
}

// connectTo runs hoop connect's engine against the gateway at url as user, and returns
// the local address.
func connectTo(t *testing.T, url, user string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	info, err := auth.FetchInfo(ctx, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.LoginBrowser(ctx, info, auth.Options{
		OpenBrowser: func(u string) error { return testbrowser.Login(ctx, nil, u, user, user+"-dev") },
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stop := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		client.Connect(cctx, client.ConnectOptions{Gateway: url, Connection: "db-prod",
			Token:  func(context.Context) (string, time.Time, error) { return tok.IDToken, time.Now().Add(time.Hour), nil },
			Status: &syncBuffer{}, Ready: func(a *net.TCPAddr) { ready <- a.String() }, MaxBackoff: time.Second})
	}()
	t.Cleanup(func() { stop(); <-done })
	select {
	case addr := <-ready:
		return addr
	case <-time.After(30 * time.Second):
		t.Fatal("connect: not ready")
	}
	return ""
}

// TestStatementSizeBoundsMemory: statement size cannot multiply the gateway's memory.
// Eight sessions at once each send a 40 MB statement through real tunnels to a hoopd of
// its own process, half by simple Query, half by extended-protocol Parse: each is
// refused with 54000 naming limits.statement_bytes, its session goes on, another user's
// SELECT is served while all eight are half sent, and the gateway's peak resident memory
// (VmHWM) grows by less than 400 MB over its resident memory before.
func TestStatementSizeBoundsMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 320 MB through the gateway")
	}
	url, hoopd := startHoopd(t, "")
	annAddr := connectTo(t, url, "ann")
	aliceAddr := connectTo(t, url, "alice")
	ctx := context.Background()
	alice := connectPgx(t, aliceAddr)
	var n int
	if err := alice.QueryRow(ctx, "select 1").Scan(&n); err != nil {
		t.Fatal(err)
	}

	const senders, size = 8, 40 << 20
	conns := make([]*pgconn.PgConn, senders)
	for i := range conns {
		conns[i] = connectPgx(t, annAddr).PgConn()
		if err := conns[i].Exec(ctx, "select 1").Close(); err != nil {
			t.Fatal(err)
		}
	}
	// One statement text for all: "select length('xxxx…')", 40 MB.
	text := make([]byte, 0, size)
	text = append(text, "select length('"...)
	text = append(text, strings.Repeat("x", size-len(text)-2)...)
	text = append(text, "')"...)

	before := procStatus(t, hoopd.Process.Pid, "VmRSS")
	halfSent := make(chan struct{}, senders)
	proceed := make(chan struct{})
	errs := make(chan error, senders)
	var wg sync.WaitGroup
	for i, pc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- sendLargeStatement(pc, text, i%2 == 1, halfSent, proceed)
		}()
	}
	for range senders {
		select {
		case <-halfSent:
		case err := <-errs:
			t.Fatalf("a sender failed before its statement was half sent: %v", err)
		}
	}
	// Every sender is mid-statement: another user is served meanwhile.
	if err := alice.QueryRow(ctx, "select 42").Scan(&n); err != nil || n != 42 {
		t.Fatalf("alice's SELECT while eight 40 MB statements are in flight: %d, %v", n, err)
	}
	close(proceed)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	peak := procStatus(t, hoopd.Process.Pid, "VmHWM")
	growth := peak - before
	t.Logf("hoopd resident memory: %d MiB before, peak %d MiB: grew by %d MiB for %d statements of %d MiB",
		before>>20, peak>>20, growth>>20, senders, size>>20)
	if growth >= 400<<20 {
		t.Errorf("hoopd grew by %d MiB for %d statements of %d MiB; want less than 400 MiB", growth>>20, senders, size>>20)
	}
	// The sessions go on.
	for i, pc := range conns {
		if _, err := pc.Exec(ctx, "select 1").ReadAll(); err != nil {
			t.Errorf("sender %d after its refusal: %v", i, err)
		}
	}
}

// sendLargeStatement writes text as one Query (or Parse and Sync) straight onto pc's
// connection: the first half, then, once proceed is closed, the rest. It checks the
// answer: 54000 naming limits.statement_bytes, then ReadyForQuery.
func sendLargeStatement(pc *pgconn.PgConn, text []byte, parse bool, halfSent chan<- struct{}, proceed <-chan struct{}) error {
	var msg []byte
	if parse {
		msg = append(msg, 'P', 0, 0, 0, 0, 0) // unnamed statement
		msg = append(msg, text...)
		msg = append(msg, 0, 0, 0) // no parameter types
	} else {
		msg = append(msg, 'Q', 0, 0, 0, 0)
		msg = append(msg, text...)
		msg = append(msg, 0)
	}
	binary.BigEndian.PutUint32(msg[1:], uint32(len(msg)-1))
	if parse {
		msg = append(msg, 'S', 0, 0, 0, 4)
	}
	w := bufio.NewWriter(pc.Conn())
	half := len(msg) / 2
	if _, err := w.Write(msg[:half]); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	halfSent <- struct{}{}
	<-proceed
	if _, err := w.Write(msg[half:]); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	m, err := pc.ReceiveMessage(context.Background())
	if err != nil {
		return err
	}
	er, ok := m.(*pgproto3.ErrorResponse)
	const want = "hoop: this statement is 40.0 MiB; the gateway analyses statements up to 1.0 MiB (limits.statement_bytes). Send large data as bind parameters or with COPY"
	if !ok || er.Code != "54000" || er.Message != want {
		return fmt.Errorf("a 40 MB statement (parse %v): got %#v, want 54000 %q", parse, m, want)
	}
	if m, err := pc.ReceiveMessage(context.Background()); err != nil {
		return err
	} else if _, ok := m.(*pgproto3.ReadyForQuery); !ok {
		return fmt.Errorf("after the refusal: got %#v, want ReadyForQuery", m)
	}
	return nil
}

// TestLargeBindParametersWaitForBudget: large data sent the legitimate way, as bind
// parameters, is forwarded whole even when the in-flight budget (limits.inflight_bytes,
// here 128MiB) cannot hold all of it at once: six concurrent 40 MB parameters wait their
// turn and all reach the database; none is refused. The gateway's memory growth is
// logged: besides the budget, each waiting session's tunnel stream holds up to its window.
func TestLargeBindParametersWaitForBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 320 MB through the gateway")
	}
	url, hoopd := startHoopd(t, "\nlimits:\n  inflight_bytes: 128MiB\n")
	annAddr := connectTo(t, url, "ann")
	ctx := context.Background()
	const senders, size = 6, 40 << 20
	conns := make([]*pgx.Conn, senders)
	for i := range conns {
		conns[i] = connectPgx(t, annAddr)
		if _, err := conns[i].Exec(ctx, "select length($1::text)", "warm"); err != nil {
			t.Fatal(err)
		}
	}
	param := strings.Repeat("p", size)
	before := procStatus(t, hoopd.Process.Pid, "VmRSS")
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for _, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var n int
			if err := conn.QueryRow(ctx, "select length($1::text)", param).Scan(&n); err != nil {
				errs <- err
			} else if n != size {
				errs <- fmt.Errorf("length of the parameter in the database: %d, want %d", n, size)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	peak := procStatus(t, hoopd.Process.Pid, "VmHWM")
	growth := peak - before
	t.Logf("hoopd resident memory: %d MiB before, peak %d MiB: grew by %d MiB for %d parameters of %d MiB",
		before>>20, peak>>20, growth>>20, senders, size>>20)
}
