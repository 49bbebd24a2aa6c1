package e2e

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/audit"
	"github.com/hoopgw/hoop/client"
	"github.com/hoopgw/hoop/client/auth"
	"github.com/hoopgw/hoop/internal/testbrowser"
	"github.com/hoopgw/hoop/store"
)

// sessionsOf returns the sessions a user opened, newest first, read from the store.
func sessionsOf(t *testing.T, st *store.Store, user string) []*store.Session {
	t.Helper()
	list, err := st.ListSessions(context.Background(), store.SessionFilter{User: user})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// TestRecordingContent: what a session records, for a masked analyst: the decision of each
// statement (refusals too), its parameters and rows masked as the client got them, what
// was masked, and the end of the session.
func TestRecordingContent(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "ann"), "db-prod")
	ctx := context.Background()
	conn := connectPgx(t, addr)
	var email string
	if err := conn.QueryRow(ctx, "select email from customers where id = $1 and email <> $2", 7, "bob.smith@example.org").Scan(&email); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "delete from orders"); err == nil {
		t.Fatal("an analyst's delete was allowed")
	}
	if _, err := conn.Exec(ctx, "select 1/0", pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("1/0 succeeded")
	}
	conn.Close(ctx)

	var se *store.Session
	waitFor(t, "the session's end in the record", func() bool {
		list := sessionsOf(t, gw.Store, "ann")
		if len(list) == 1 && !list[0].EndedAt.IsZero() {
			se = list[0]
			return true
		}
		return false
	})
	if se.EndReason != "client closed" || se.Connection != "db-prod" || se.Access != "read" || se.DBUser != "app_ro" || se.Email != "ann@example.com" {
		t.Errorf("session record: %+v", se)
	}
	_, sts, err := gw.Store.GetSession(ctx, se.ID)
	if err != nil {
		t.Fatal(err)
	}
	var sel, del, div *store.Statement
	for _, st := range sts {
		switch {
		case strings.Contains(st.SQL, "select email from customers"):
			sel = st
		case st.SQL == "delete from orders":
			del = st
		case st.SQL == "select 1/0":
			div = st
		}
	}
	if sel == nil || del == nil || div == nil {
		t.Fatalf("statements recorded: %d, missing one of select/delete/1/0", len(sts))
	}
	if sel.State != store.StateDone || sel.Decision != "allow" || sel.Rule != "analysts-read" || sel.Class != "read" ||
		sel.RowCount != 1 || sel.CommandTag != "SELECT 1" || len(sel.Rows) != 1 || len(sel.PolicyVersion) < 12 {
		t.Errorf("select record: %+v", sel)
	}
	if len(sel.Params) != 2 || *sel.Params[0] == "" || strings.Contains(*sel.Params[1], "bob.smith") {
		t.Errorf("parameters: want 7 and a masked e-mail, got %v", derefAll(sel.Params))
	}
	if got := *sel.Rows[0][0]; got != email || strings.Count(got, "*") == 0 && !strings.Contains(got, "REDACTED") {
		t.Errorf("recorded row %q; the client got %q", got, email)
	}
	if sel.Masking["email"] != 1 {
		t.Errorf("masking recorded: %v, want email=1", sel.Masking)
	}
	if del.State != store.StateRefused || del.Decision != "deny" || del.Class != "write" || !strings.Contains(del.Error, "denied by rule analysts-read: it allows read on db-prod; this statement is write (DELETE)") {
		t.Errorf("refused delete record: %+v", del)
	}
	if div.State != store.StateDone || !strings.Contains(div.Error, "division by zero (SQLSTATE 22012)") {
		t.Errorf("failed statement record: %+v", div)
	}
}

func derefAll(ps []*string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p == nil {
			out[i] = "NULL"
		} else {
			out[i] = *p
		}
	}
	return out
}

// TestRecordingFailsClosed: when the store cannot take a statement's record, the statement
// is refused with a clear error and never reaches the database.
func TestRecordingFailsClosed(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, `CREATE TABLE rec_closed (id int); GRANT SELECT, INSERT ON rec_closed TO app_rw, app_ro`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, `DROP TABLE rec_closed`) })
	gw := startGateway(t, gatewayOptions{})
	addr, _ := gw.connect(t, gw.login(t, "dana"), "db-prod")
	conn := connectPgx(t, addr)
	if _, err := conn.Exec(ctx, "insert into rec_closed values (1)"); err != nil {
		t.Fatal(err)
	}
	// The store breaks: its statement log is gone. The journal still takes records, and
	// the statements it holds go on; once the store refuses the journal's records, every
	// statement is refused.
	if _, err := gw.Store.DB().Exec(`ALTER TABLE statement_log RENAME TO statement_log_gone`); err != nil {
		t.Fatal(err)
	}
	refused := func(mode pgx.QueryExecMode, id int) bool {
		_, err := conn.Exec(ctx, fmt.Sprintf("insert into rec_closed values (%d)", id), mode)
		if err == nil {
			return false
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "58000" || !strings.Contains(pe.Message, "could not record it") ||
			!strings.Contains(pe.Message, "the store refuses records") {
			t.Fatalf("%v: unrecorded insert: got %v, want a 58000 refusal", mode, err)
		}
		return true
	}
	id := 1
	waitFor(t, "statements refused while the store is broken", func() bool {
		id++
		return refused(pgx.QueryExecModeSimpleProtocol, id)
	})
	journaled := id - 2 // the inserts before the refusals: they ran, and wait in the journal
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeExec} {
		if !refused(mode, 1000) {
			t.Fatalf("%v: an insert ran while the store refused records", mode)
		}
	}
	if _, err := gw.Store.DB().Exec(`ALTER TABLE statement_log_gone RENAME TO statement_log`); err != nil {
		t.Fatal(err)
	}
	// The store mends: the journal's records reach it, and statements run again.
	waitFor(t, "statements recorded again", func() bool {
		_, err := conn.Exec(ctx, "select 1")
		return err == nil
	})
	var n int
	if err := conn.QueryRow(ctx, "select count(*) from rec_closed").Scan(&n); err != nil {
		t.Fatalf("the session did not go on after the refusals: %v", err)
	}
	if n != 1+journaled {
		t.Fatalf("rows in rec_closed: got %d, want %d (the first insert and the %d journaled while the store was broken)", n, 1+journaled, journaled)
	}
	// Every insert that ran has its record, done; the refused ones are recorded refused.
	if err := gw.G.SyncRecords(ctx); err != nil {
		t.Fatal(err)
	}
	sessions := sessionsOf(t, gw.Store, "dana")
	_, sts, err := gw.Store.GetSession(ctx, sessions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	ran, wasRefused := 0, 0
	for _, st := range sts {
		if !strings.HasPrefix(st.SQL, "insert into rec_closed") {
			continue
		}
		switch st.State {
		case store.StateDone:
			ran++
		case store.StateRefused:
			wasRefused++
		default:
			t.Errorf("statement %d %q: state %s", st.Seq, st.SQL, st.State)
		}
	}
	if ran != n || wasRefused != 3 {
		t.Errorf("records: %d inserts done, %d refused; want %d and 3", ran, wasRefused, n)
	}
}

// TestRecordingSurvivesSIGKILL kills hoopd mid-session while a client inserts rows one by
// one: every row in the database has its statement's record, and the restarted gateway
// closes the cut session with reason gateway-restart.
func TestRecordingSurvivesSIGKILL(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, `CREATE TABLE rec_kill (id int PRIMARY KEY); GRANT SELECT, INSERT ON rec_kill TO app_rw, app_ro`); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, `DROP TABLE rec_kill`) })
	hoopd, err := exec.LookPath("hoopd") // testscript.Main puts the test binary on PATH as hoopd
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ex := sharedExamples(t)
	writeFile(t, filepath.Join(dir, "gateway.yaml"), readFile(t, filepath.Join(ex, "gateway.yaml")))
	writeFile(t, filepath.Join(dir, "policy.yaml"), readFile(t, filepath.Join(ex, "policy.yaml")))
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	env := append(os.Environ(), "HOOP_LISTEN=127.0.0.1:"+fmt.Sprint(port), "HOOP_PUBLIC_URL="+url,
		"HOOP_STORE=sqlite://"+filepath.Join(dir, "hoop-data", "hoop.db"),
		"DB_HOST="+pg.Host, "DB_PORT="+fmt.Sprint(pg.Port), "DB_NAME="+pg.App.DB,
		"DB_RO_USER="+pg.App.ROUser, "DB_RO_PASSWORD="+pg.App.ROPassword,
		"DB_RW_USER="+pg.App.RWUser, "DB_RW_PASSWORD="+pg.App.RWPassword)
	start := func() *exec.Cmd {
		cmd := exec.Command(hoopd, "--dev", "--config", filepath.Join(dir, "gateway.yaml"))
		cmd.Env = env
		runHoopd(t, cmd, port)
		return cmd
	}
	first := start()

	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	info, err := auth.FetchInfo(lctx, nil, url)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.LoginBrowser(lctx, info, auth.Options{
		OpenBrowser: func(u string) error { return testbrowser.Login(lctx, nil, u, "dana", "dana-dev") },
	})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopConnect := context.WithCancel(ctx)
	defer stopConnect()
	ready := make(chan string, 1)
	go client.Connect(cctx, client.ConnectOptions{Gateway: url, Connection: "db-prod",
		Token:  func(context.Context) (string, time.Time, error) { return tok.IDToken, time.Now().Add(time.Hour), nil },
		Status: &syncBuffer{}, Ready: func(a *net.TCPAddr) { ready <- a.String() }, MaxBackoff: time.Second})
	var addr string
	select {
	case addr = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("connect: not ready")
	}
	conn := connectPgx(t, addr)

	// Insert until the gateway dies under the client; kill it after some rows.
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		for i := 1; i <= 100000; i++ {
			if _, err := conn.Exec(ctx, "insert into rec_kill values ($1::text::int)", fmt.Sprint(i)); err != nil {
				done <- err
				return
			}
			sent.Store(int64(i))
		}
		done <- errors.New("the gateway was never killed")
	}()
	waitFor(t, "200 inserts", func() bool { return sent.Load() >= 200 })
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	first.Wait()
	if err := <-done; err == nil || strings.Contains(err.Error(), "never killed") {
		t.Fatalf("inserts: %v", err)
	}
	stopConnect()

	start() // the same data dir: the store is where the first left it
	direct, err := pgx.Connect(ctx, pg.SuperDSN(pg.App.DB))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close(ctx)
	r, err := direct.Query(ctx, "select id from rec_kill order by id")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pgx.CollectRows(r, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, "sqlite://"+filepath.Join(dir, "hoop-data", "hoop.db"), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	// hoopd listens before it has replayed its journal into the store and closed what
	// its last run left open: wait for that.
	var list []*store.Session
	waitFor(t, "the restarted gateway to close the cut session", func() bool {
		list = sessionsOf(t, st, "dana")
		return len(list) == 1 && list[0].EndReason != ""
	})
	if len(list) != 1 || list[0].EndReason != "gateway-restart" {
		for _, se := range list {
			t.Logf("session %+v", *se)
		}
		t.Fatalf("sessions after the restart: %d, want 1 ended by gateway-restart", len(list))
	}
	_, sts, err := st.GetSession(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	recorded := make(map[string]string)
	for _, s := range sts {
		if len(s.Params) == 1 && s.Params[0] != nil {
			recorded[*s.Params[0]] = s.State
		}
	}
	for _, id := range rows {
		state, ok := recorded[fmt.Sprint(id)]
		if !ok {
			t.Fatalf("row %d reached the database with no record (%d rows, %d records)", id, len(rows), len(recorded))
		}
		if state != store.StateDone && state != store.StateInterrupted {
			t.Errorf("row %d: record state %q", id, state)
		}
	}
	if len(rows) < 200 {
		t.Fatalf("only %d rows inserted", len(rows))
	}
	t.Logf("%d rows in the database, %d statements recorded, all rows accounted for", len(rows), len(recorded))
}

// TestAuditTamper edits, removes and inserts audit events in the store as an attacker with
// write access to the database would, and checks that verification finds each, at the
// right event, through the API and hoop audit verify.
func TestAuditTamper(t *testing.T) {
	gw := startGateway(t, gatewayOptions{})
	tok := gw.login(t, "dana")
	addr, _ := gw.connect(t, tok, "db-prod")
	conn := connectPgx(t, addr)
	ctx := context.Background()
	for i := range 5 {
		if _, err := conn.Exec(ctx, fmt.Sprintf("select %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	db := gw.Store.DB()
	statementEvents := func() (seqs []int64) {
		gw.Store.Events(ctx, 0, func(e *store.Event) bool {
			if e.Kind == "statement" {
				seqs = append(seqs, e.Seq)
			}
			return true
		})
		return seqs
	}
	waitFor(t, "audit events", func() bool { return len(statementEvents()) >= 5 })
	env := map[string]string{"HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": tok}
	verify := func() (int, api.AuditReport) {
		t.Helper()
		code, out, errOut := runCLI(t, env, "audit", "verify", "--output", "json")
		var r api.AuditReport
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("verify output %q (stderr %q): %v", out, errOut, err)
		}
		return code, r
	}
	if code, r := verify(); code != 0 || !r.OK {
		t.Fatalf("intact chain: exit %d, %+v", code, r)
	}
	seq := statementEvents()[0]
	original := auditEntries(t, db)
	at := slices.IndexFunc(original, func(l string) bool { return strings.HasPrefix(l, fmt.Sprintf(`{"seq":%d,`, seq)) })
	if at < 0 {
		t.Fatalf("no entry of event %d in the audit log", seq)
	}

	// Edited: the statement's text changed in place.
	edited := slices.Clone(original)
	edited[at] = strings.Replace(edited[at], "select", "SELECT", 1)
	writeAuditEntries(t, db, edited)
	if code, r := verify(); code != 1 || r.Seq != seq || r.Break != "edited" {
		t.Errorf("edited event %d: exit %d, %+v", seq, code, r)
	}

	// Missing: an event removed, and the later ones renumbered to hide the gap.
	missing := slices.Delete(slices.Clone(original), at, at+1)
	for i := at; i < len(missing); i++ {
		missing[i] = renumber(t, missing[i], -1)
	}
	writeAuditEntries(t, db, missing)
	if code, r := verify(); code != 1 || r.Seq != seq || r.Break != "missing" {
		t.Errorf("removed event %d: exit %d, %+v", seq, code, r)
	}
	// Put it back: the chain verifies again.
	writeAuditEntries(t, db, original)
	if code, r := verify(); code != 0 || !r.OK {
		t.Fatalf("restored chain: exit %d, %+v", code, r)
	}

	// Inserted: a forged event made room for after the first statement event.
	var first struct {
		Time       int64  `json:"time"`
		Actor      string `json:"actor"`
		Connection string `json:"connection"`
		Session    string `json:"session"`
		Hash       string `json:"hash"`
	}
	if err := json.Unmarshal([]byte(original[at]), &first); err != nil {
		t.Fatal(err)
	}
	forged, _ := json.Marshal(map[string]any{"seq": seq + 1, "time": first.Time, "kind": "statement", "actor": first.Actor,
		"connection": first.Connection, "session": first.Session, "data": map[string]any{"decision": "allow", "sql": "select 42"},
		"prev": first.Hash, "hash": hex.EncodeToString([]byte("a forger cannot make the HMAC..."))})
	inserted := slices.Insert(slices.Clone(original), at+1, string(forged))
	for i := at + 2; i < len(inserted); i++ {
		inserted[i] = renumber(t, inserted[i], +1)
	}
	writeAuditEntries(t, db, inserted)
	if code, r := verify(); code != 1 || r.Seq != seq+1 || r.Break != "inserted" {
		t.Errorf("inserted event %d: exit %d, %+v", seq+1, code, r)
	}

	// Only recordings readers may verify.
	if code, _, errOut := runCLI(t, map[string]string{"HOOP_GATEWAY": gw.URL, "HOOP_TOKEN": gw.login(t, "alice")}, "audit", "verify"); code != 3 ||
		!strings.Contains(errOut, "may not read recordings") {
		t.Errorf("alice verify: exit %d, %q", code, errOut)
	}
}

// auditEntries reads the store's audit log as an attacker with the database would: every
// entry of every block, one JSON object per event, in order.
func auditEntries(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT data FROM audit_log ORDER BY first_seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Split(strings.TrimSuffix(data, "\n"), "\n")...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// writeAuditEntries replaces the store's audit log with one block of entries.
func writeAuditEntries(t *testing.T, db *sql.DB, entries []string) {
	t.Helper()
	var head struct {
		Seq  int64  `json:"seq"`
		Hash string `json:"hash"`
	}
	if err := json.Unmarshal([]byte(entries[len(entries)-1]), &head); err != nil {
		t.Fatal(err)
	}
	hash, _ := hex.DecodeString(head.Hash)
	var first struct {
		Seq int64 `json:"seq"`
	}
	json.Unmarshal([]byte(entries[0]), &first)
	must(t, db, `DELETE FROM audit_log`)
	must(t, db, `INSERT INTO audit_log (first_seq, last_seq, last_hash, data) VALUES (?, ?, ?, ?)`,
		first.Seq, head.Seq, hash, strings.Join(entries, "\n")+"\n")
}

// renumber moves an audit log entry's seq by d.
func renumber(t *testing.T, entry string, d int64) string {
	t.Helper()
	rest, ok := strings.CutPrefix(entry, `{"seq":`)
	i := strings.IndexByte(rest, ',')
	if !ok || i < 0 {
		t.Fatalf("entry %q does not start with its seq", entry)
	}
	seq, err := strconv.ParseInt(rest[:i], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`{"seq":%d%s`, seq+d, rest[i:])
}

func must(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// TestAuditTrail: the security events reach the store's chain and the example's file
// sink, whose copy verifies on its own; an alert rule fires on five denials in a minute;
// /metrics counts what happened.
func TestAuditTrail(t *testing.T) {
	cfg := readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml"))
	if !strings.HasSuffix(strings.TrimSpace(cfg), "path: ./hoop-data/audit.jsonl") {
		t.Fatal("the example config no longer ends with its file sink; update this test")
	}
	cfg += "  alerts:\n    - name: repeated-denials\n      kind: statement\n      where: {decision: deny}\n      threshold: 5\n      window: 1m\n"
	gw := startGateway(t, gatewayOptions{config: cfg})
	tok := gw.login(t, "ann")
	addr, _ := gw.connect(t, tok, "db-prod")
	conn := connectPgx(t, addr)
	ctx := context.Background()
	for range 5 {
		if _, err := conn.Exec(ctx, "delete from orders"); err == nil {
			t.Fatal("an analyst's delete was allowed")
		}
	}
	if _, err := conn.Exec(ctx, "select email from customers limit 3"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	kinds := func() map[string]int {
		n := make(map[string]int)
		gw.Store.Events(ctx, 0, func(e *store.Event) bool { n[e.Kind]++; return true })
		return n
	}
	waitFor(t, "the alert and the session's end", func() bool {
		k := kinds()
		return k["alert"] == 1 && k["session.end"] == 1
	})
	k := kinds()
	for _, kind := range []string{"gateway.start", "login", "tunnel.open", "session.start", "statement", "session.end"} {
		if k[kind] == 0 {
			t.Errorf("no %s event in the trail: %v", kind, k)
		}
	}
	if k["statement"] != 6 {
		t.Errorf("statement events: got %d, want 6", k["statement"])
	}
	var alert *store.Event
	gw.Store.Events(ctx, 0, func(e *store.Event) bool {
		if e.Kind == "alert" {
			alert = e
		}
		return true
	})
	if !strings.Contains(alert.Data, `"rule":"repeated-denials"`) || alert.Actor != "ann@example.com" {
		t.Errorf("alert: %+v", alert)
	}

	// The file sink's copy: every event, and it verifies with the gateway's key.
	key, err := audit.LoadKey(filepath.Join(gw.Dir, "hoop-data"), "")
	if err != nil {
		t.Fatal(err)
	}
	var total int
	for _, n := range k {
		total += n
	}
	path := filepath.Join(gw.Dir, "hoop-data", "audit.jsonl")
	waitFor(t, "the file sink to catch up", func() bool {
		b, _ := os.ReadFile(path)
		return strings.Count(string(b), "\n") >= total
	})
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rep, err := audit.Verify(key, audit.DecodeLines(f))
	if err != nil || !rep.OK || rep.Checked < int64(total) {
		t.Fatalf("the file sink's copy: %+v, %v (the store has %d events)", rep, err, total)
	}

	resp, err := http.Get(gw.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`hoop_statements_total{class="write",decision="deny"}`, `hoop_sessions_total`,
		`hoop_store_write_seconds_bucket`, `hoop_audit_sink_sent_total{sink="file:`, `hoop_tunnels_open`,
		`hoop_tunnel_bytes_total{direction="in"}`, `hoop_masked_values_total{by="email"}`, `hoop_denials_total{kind="statement"}`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
}

// TestRecordingOnPostgresStore: the same recording, journal and audit chain with the store
// in PostgreSQL, as gateways that share one store run.
func TestRecordingOnPostgresStore(t *testing.T) {
	pg := sharedPG(t)
	ctx := context.Background()
	name := fmt.Sprintf("hoopstore_%d", time.Now().UnixNano())
	if err := pg.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	gw := startGateway(t, gatewayOptions{env: map[string]string{"HOOP_STORE": pg.SuperDSN(name)}})
	addr, _ := gw.connect(t, gw.login(t, "dana"), "db-prod")
	conn := connectPgx(t, addr)
	for i := range 3 {
		if _, err := conn.Exec(ctx, "select $1::int", i); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "select 1/0", pgx.QueryExecModeSimpleProtocol); err == nil {
		t.Fatal("1/0 succeeded")
	}
	conn.Close(ctx)
	if err := gw.G.SyncRecords(ctx); err != nil {
		t.Fatal(err)
	}
	list := sessionsOf(t, gw.Store, "dana")
	if len(list) != 1 {
		t.Fatalf("sessions: %d, want 1", len(list))
	}
	_, sts, err := gw.Store.GetSession(ctx, list[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	done, failed := 0, 0
	for _, st := range sts {
		switch {
		case st.State == store.StateDone && st.Error == "":
			done++
		case st.State == store.StateDone && strings.Contains(st.Error, "22012"):
			failed++
		}
	}
	if done < 3 || failed != 1 {
		t.Errorf("statements in the PostgreSQL store: %d done, %d failed; want 3 and 1: %+v", done, failed, sts)
	}
	report, err := gw.G.VerifyAudit(ctx)
	if err != nil || !report.OK {
		t.Fatalf("audit chain in PostgreSQL: %+v, %v", report, err)
	}
}
