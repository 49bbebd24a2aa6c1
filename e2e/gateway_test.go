package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/tunnel"
)

func connectPgx(t *testing.T, addr string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn(addr))
	if err != nil {
		t.Fatalf("pgx connect through %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestBinaryFormats compares values decoded from binary results through the tunnel with
// the same query run directly against PostgreSQL.
func TestBinaryFormats(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "dana"), "db-prod")
	through := connectPgx(t, addr)
	pg := sharedPG(t)
	ctx := context.Background()
	direct, err := pgx.Connect(ctx, pg.DSN(pg.App.RWUser, pg.App.RWPassword, pg.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)

	const q = `select o.id, c.name, c.email, o.amount, o.created_at, gen_random_uuid() is not null, array[o.id, o.customer_id], row_to_json(o)::jsonb, decode('00ff10', 'hex')
		from orders o join customers c on c.id = o.customer_id where o.id <= $1 order by o.id`
	read := func(conn *pgx.Conn) [][]any {
		rows, err := conn.Query(ctx, q, pgx.QueryResultFormats{pgx.BinaryFormatCode}, 50)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]any
		for rows.Next() {
			v, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got, want := read(through), read(direct)
	if len(got) != 50 || len(want) != 50 {
		t.Fatalf("rows: got %d through the tunnel and %d direct, want 50", len(got), len(want))
	}
	for i := range want {
		for j := range want[i] {
			if g, w := toString(got[i][j]), toString(want[i][j]); g != w {
				t.Fatalf("row %d col %d: got %q, want %q", i, j, g, w)
			}
		}
	}
	// A large result crosses many yamux windows.
	var n int64
	var total int64
	if err := through.QueryRow(ctx, `select count(*), sum(length(repeat(md5(g::text), 20))) from generate_series(1, 200000) g`).Scan(&n, &total); err != nil {
		t.Fatal(err)
	}
	rows, err := through.Query(ctx, `select repeat(md5(g::text), 20) from generate_series(1, 200000) g`)
	if err != nil {
		t.Fatal(err)
	}
	var count, bytes int64
	for rows.Next() {
		count++
		bytes += int64(len(rows.RawValues()[0]))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if count != n || bytes != total {
		t.Errorf("bulk read: got %d rows, %d bytes; want %d rows, %d bytes", count, bytes, n, total)
	}
}

func toString(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return strings.TrimSpace(strings.ReplaceAll(fmt.Sprint(x), "\n", ""))
	}
}

// TestCancelRequest: a cancel through the local port stops the caller's own query, and a
// cancel carrying the same key from another identity's tunnel does not.
func TestCancelRequest(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	aliceAddr, _ := gw.connect(t, gw.login(t, "alice"), "db-prod")
	danaAddr, _ := gw.connect(t, gw.login(t, "dana"), "db-prod")
	ctx := context.Background()

	// pgx sends a CancelRequest on a new connection when the context ends mid-query.
	conn := connectPgx(t, aliceAddr)
	qctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	_, err := conn.Exec(qctx, "select pg_sleep(60)")
	cancel()
	if err == nil {
		t.Fatal("pg_sleep(60) returned without error under a 500ms context")
	}
	waitFor(t, "the gateway to forward pgx's cancel", func() bool { return strings.Contains(gw.Logs.String(), "postgres cancel forwarded") })
	var pgErr *pgconn.PgError

	// Dana learns Alice's cancel key and sends it through her own tunnel: ignored.
	pc, err := pgconn.Connect(ctx, dsn(aliceAddr))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close(ctx)
	res := make(chan error, 1)
	go func() {
		_, err := pc.Exec(ctx, "select pg_sleep(1.5)").ReadAll()
		res <- err
	}()
	time.Sleep(300 * time.Millisecond) // let the query start; the outcome does not depend on it
	sendCancel(t, danaAddr, pc.PID(), pc.SecretKey())
	if err := <-res; err != nil {
		t.Fatalf("another identity's cancel reached Alice's query: %v", err)
	}
	if !strings.Contains(gw.Logs.String(), "the session belongs to another identity") {
		t.Errorf("the gateway did not log the refused cancel")
	}
	// The same raw cancel through Alice's own tunnel works.
	go func() {
		_, err := pc.Exec(ctx, "select pg_sleep(60)").ReadAll()
		res <- err
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		sendCancel(t, aliceAddr, pc.PID(), pc.SecretKey())
		select {
		case err := <-res:
			if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
				t.Fatalf("own raw cancel: got %v, want 57014", err)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("own cancel did not stop the query within 20s")
		}
	}
}

func sendCancel(t *testing.T, addr string, pid uint32, secret []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg, err := (&pgproto3.CancelRequest{ProcessID: pid, SecretKey: secret}).Encode(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.Copy(io.Discard, c)
}

// TestUpstreamFailures: a database that is down, and one that rejects the stored
// password, each give the client a specific error, and the gateway keeps serving others.
func TestUpstreamFailures(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	pg := sharedPG(t)
	cfg := readFile(t, sharedExamples(t)+"/gateway.yaml")
	cfg = strings.Replace(cfg, "connections:\n", `connections:
  - name: db-down
    type: postgres
    host: 127.0.0.1
    port: `+strconv.Itoa(downPort)+`
    database: app
    sslmode: disable
    user: app_ro
    password: x
  - name: db-badpw
    type: postgres
    host: 127.0.0.1
    port: `+strconv.Itoa(pg.Port)+`
    database: app
    sslmode: disable
    user: app_ro
    password: wrong-password
`, 1)
	gw := startGateway(t, gatewayOptions{config: cfg})
	tok := gw.login(t, "dana") // dba: every connection
	ctx := context.Background()
	for _, tt := range []struct{ conn, code, want string }{
		{"db-down", "08001", "the gateway cannot reach the database"},
		{"db-badpw", "08004", "rejected the gateway's stored credential"},
	} {
		addr, _ := gw.connect(t, tok, tt.conn)
		_, err := pgx.Connect(ctx, dsn(addr))
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != tt.code || !strings.Contains(pgErr.Message, tt.want) {
			t.Errorf("%s: got %v, want SQLSTATE %s and %q", tt.conn, err, tt.code, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "wrong-password") {
			t.Errorf("%s: the error leaks the stored password: %v", tt.conn, err)
		}
	}
	addr, _ := gw.connect(t, tok, "db-prod")
	var one int
	if err := connectPgx(t, addr).QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("db-prod after the failures: got %d, %v", one, err)
	}
}

// TestLocalPortProtocolErrors: a client that insists on TLS, one that starts TLS
// directly, and one that speaks no PostgreSQL each get a specific message, on the
// client's side where it can show one and on hoop connect's stderr where it cannot.
func TestLocalPortProtocolErrors(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	addr, status := gw.connect(t, gw.login(t, "alice"), "db-prod")
	ctx := context.Background()

	_, err := pgx.Connect(ctx, "postgres://x@"+addr+"/x?sslmode=require")
	if err == nil || !strings.Contains(err.Error(), "server refused TLS") {
		t.Errorf("sslmode=require: got %v, want the server to refuse TLS", err)
	}
	waitFor(t, "the TLS notice on hoop connect's stderr", func() bool {
		return strings.Contains(status.String(), "asked for TLS") && strings.Contains(status.String(), "sslmode=disable")
	})

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte{0x16, 0x03, 0x01, 0x00, 0x10, 1, 2, 3})
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.Copy(io.Discard, c)
	c.Close()
	waitFor(t, "the direct-TLS notice", func() bool { return strings.Contains(status.String(), "started a TLS handshake directly") })

	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	reply, _ := io.ReadAll(c)
	c.Close()
	if len(reply) < 6 || reply[0] != 'E' || !bytes.Contains(reply, []byte("08P01")) {
		t.Errorf("HTTP to the local port: got %q, want an ErrorResponse with 08P01", reply)
	}
	waitFor(t, "the not-PostgreSQL notice", func() bool { return strings.Contains(status.String(), "does not speak PostgreSQL") })

	// The tunnel still serves.
	var one int
	if err := connectPgx(t, addr).QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
}

// TestStreamRecheck: access is checked at every stream against the policy in force, so a
// policy reload that removes a rule refuses the next connection on an open tunnel.
func TestStreamRecheck(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	ctx := context.Background()
	live := connectPgx(t, addr)
	pol := readFile(t, gw.Dir+"/policy.yaml")
	pol = strings.Replace(pol, "groups: [analytics]", "groups: [analytics-retired]", 1)
	writeFile(t, gw.Dir+"/policy.yaml", pol)
	if err := gw.G.ReloadPolicy(); err != nil {
		t.Fatal(err)
	}
	_, err := pgx.Connect(ctx, dsn(addr))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || !strings.Contains(pgErr.Message, "no rule grants ann@example.com access to connection db-prod") {
		t.Fatalf("new stream after the rule went: got %v, want 42501 naming the connection", err)
	}
	// The reload does not drop the live session: its statements are decided by the new
	// policy, which grants ann nothing now.
	_, err = live.Exec(ctx, "select 1")
	if !errors.As(err, &pgErr) || pgErr.Code != "42501" || live.IsClosed() {
		t.Fatalf("live session after reload: got %v (closed: %v), want a 42501 refusal on a live session", err, live.IsClosed())
	}
	// An invalid policy is refused and the old one stays.
	writeFile(t, gw.Dir+"/policy.yaml", "version: 1\nrules:\n  - name: x\n    groups: [a]\n    allow: [wirte]\n")
	if err := gw.G.ReloadPolicy(); err == nil {
		t.Fatal("an invalid policy was accepted")
	}
}

// TestTokenRefusedAtTunnel: a forged or expired token never opens a tunnel.
func TestTokenRefusedAtTunnel(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	tok := gw.login(t, "alice")
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))
	for name, bad := range map[string]string{"forged": forged, "garbage": "x.y.z", "none": ""} {
		_, err := tunnel.Dial(context.Background(), gw.URL, bad, "db-prod", nil)
		var he *tunnel.HTTPError
		if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s token: got %v, want 401", name, err)
		}
	}
	var who struct{ Subject string }
	if err := client.Get(context.Background(), nil, gw.URL, "/api/v1/whoami", forged, &who); err == nil {
		t.Error("whoami accepted a forged token")
	}
}

// TestReconnect: when the gateway goes away, local clients get a clear error instead of a
// hang, and hoop connect reconnects when it is back.
func TestReconnect(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	tok := gw.login(t, "alice")
	addr, status := gw.connect(t, tok, "db-prod")
	live := connectPgx(t, addr)
	gw.G.CloseTunnels("maintenance window")
	waitFor(t, "the close reason on stderr", func() bool { return strings.Contains(status.String(), "maintenance window") })
	// A session that was open is told why it ended, in its own protocol.
	_, err := live.Exec(context.Background(), "select 1")
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "57P01" || !strings.Contains(pgErr.Message, "maintenance window") {
		t.Errorf("a live session when the gateway ends the tunnel: got %v, want 57P01 with the reason", err)
	}
	waitFor(t, "the reconnect", func() bool { return strings.Contains(status.String(), "reconnected") })
	var one int
	if err := connectPgx(t, addr).QueryRow(context.Background(), "select 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	// Stop the gateway: a local client now gets an error that says why, quickly.
	gw.stop()
	waitFor(t, "the tunnel to drop", func() bool { return strings.Contains(status.String(), "reconnect attempt") })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, dsn(addr))
	if !errors.As(err, &pgErr) || pgErr.Code != "08006" || !strings.Contains(pgErr.Message, "reconnecting") {
		t.Fatalf("while the gateway is down: got %v, want 08006 saying it is reconnecting", err)
	}
}
