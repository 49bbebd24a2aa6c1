package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/store"
)

// TestSecretsInLogsAndAuditSinks: the attack is reading secrets where the gateway writes
// them outside the session: an engineer's statements carry a card number (valid Luhn), an
// SSN compared with a masked column (ssn), values as bind parameters, a secret the
// database prints in an error (a failed cast) and one in a statement that does not parse;
// some run, some are held and denied (the denial's reason holds a card too), one is held
// and approved; a just-in-time request's reason holds a card and an SSN. The gateway's log, the audit trail's file sink (audit.jsonl), the store
// (events, the session's record, the reviews) and the captured review notifications (a
// Slack-style and a generic webhook) must hold none of the secrets, and must hold their
// masked forms (the last four digits the partial mode keeps): they are masked by the rules
// that mask the recording, not left out.
func TestSecretsInLogsAndAuditSinks(t *testing.T) {
	const (
		card    = "4539148803436467" // Luhn-valid
		card2   = "5295731130082178" // Luhn-valid, a bind parameter
		ssn     = "536-22-1847"
		ssn2    = "536-22-1848"  // a bind parameter compared with the masked column
		ssnRow  = "536-22-1849"  // in the table: the database prints it in a cast error, which hides it
		emailLP = "zelda.secret" // the local part of an e-mail, a bind parameter
	)
	secrets := []string{card, card2, ssn, ssn2, ssnRow, emailLP}

	pg := sharedPG(t)
	ctx := context.Background()
	if err := pg.ExecIn(ctx, pg.App.DB, fmt.Sprintf(`CREATE TABLE secret_people (id int PRIMARY KEY, ssn text, card text);
		INSERT INTO secret_people VALUES (1, '%s', 'none'), (2, 'x', 'none'), (3, 'y', 'none');
		GRANT SELECT, UPDATE, DELETE ON secret_people TO %s; GRANT SELECT ON secret_people TO %s`, ssnRow, pg.App.RWUser, pg.App.ROUser)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pg.ExecIn(context.Background(), pg.App.DB, "DROP TABLE secret_people") })

	var hookMu sync.Mutex
	var hooks []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hooks = append(hooks, r.URL.Path+" "+string(b))
		hookMu.Unlock()
	}))
	defer hook.Close()
	hooked := func() string {
		hookMu.Lock()
		defer hookMu.Unlock()
		return strings.Join(hooks, "\n")
	}
	cfg := readFile(t, filepath.Join(sharedExamples(t), "gateway.yaml")) +
		"\nreviews:\n  notify:\n    - type: slack\n      url: " + hook.URL + "/slack\n    - type: webhook\n      url: " + hook.URL + "/hook\n"
	gw := startGateway(t, gatewayOptions{config: cfg})
	alice, dana := gw.login(t, "alice"), gw.login(t, "dana")
	addr, _ := gw.connect(t, alice, "db-prod")
	conn := connectPgx(t, addr)

	// Run: a literal compared with a masked column, and bind parameters.
	if _, err := conn.Exec(ctx, "select id from secret_people where ssn = '"+ssn+"' or card = '"+card+"'", pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "select id from secret_people where ssn = $1 or card = $2 or card = $3", ssn2, card2, emailLP+"@example.org"); err != nil {
		t.Fatal(err)
	}
	// Fail: the database prints the value in its error; the gateway cannot parse the other.
	var pe *pgconn.PgError
	if _, err := conn.Exec(ctx, "select ssn::int from secret_people where id = 1", pgx.QueryExecModeSimpleProtocol); !errors.As(err, &pe) || pe.Code != "22P02" {
		t.Fatalf("a failed cast: got %v, want 22P02", err)
	}
	if strings.Contains(pe.Message, ssnRow) {
		t.Errorf("the client got the cast error unmasked: %q", pe.Message)
	}
	if _, err := conn.Exec(ctx, "select 'x' '"+card+"'", pgx.QueryExecModeSimpleProtocol); !errors.As(err, &pe) || pe.Code != "42501" {
		t.Fatalf("a statement that does not parse: got %v, want it refused (42501)", err)
	}

	// Held and denied, with a reason that holds a card number.
	done := make(chan error, 1)
	go func() {
		_, err := conn.Exec(ctx, "delete from secret_people where ssn = '"+ssn+"' and card <> '"+card+"'", pgx.QueryExecModeSimpleProtocol)
		done <- err
	}()
	rv := pendingReview(t, gw, dana)
	if strings.Contains(rv.SQL, ssn) || !strings.Contains(rv.SQL, "1847") {
		t.Errorf("the review shows approvers %q: want the SSN masked, its last four digits kept", rv.SQL)
	}
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/deny", api.ReviewAnswer{Reason: "card " + card + " is a customer's"}, nil); code != 200 {
		t.Fatalf("deny: %d", code)
	}
	if err := <-done; !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "denied by dana@example.com") {
		t.Fatalf("the denied statement: %v", err)
	}

	// Held and approved: the extended protocol, parameters compared with masked columns.
	go func() {
		_, err := conn.Exec(ctx, "update secret_people set card = $1 where ssn = $2", card2, ssn2)
		done <- err
	}()
	rv = pendingReview(t, gw, dana)
	if code := apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+rv.ID+"/approve", nil, nil); code != 200 {
		t.Fatalf("approve: %d", code)
	}
	if err := <-done; err != nil {
		t.Fatalf("the approved statement: %v", err)
	}
	conn.Close(ctx)

	// A just-in-time request whose reason, the requester's free text, holds a card number.
	carl := gw.login(t, "carl")
	var asked api.Review
	if code := apiCall(t, gw, carl, "POST", "/api/v1/access", api.AccessRequest{Connection: "db-prod", Duration: "1h",
		Reason: "INC-9: the customer with card " + card + " and SSN " + ssn}, &asked); code != 201 {
		t.Fatalf("access request: %d", code)
	}
	if strings.Contains(asked.Reason, card) || !strings.Contains(asked.Reason, "6467") {
		t.Errorf("the access review's reason: %q, want the card masked", asked.Reason)
	}
	apiCall(t, gw, dana, "POST", "/api/v1/reviews/"+asked.ID+"/deny", api.ReviewAnswer{Reason: "not for " + ssn}, nil)

	waitFor(t, "alice's session to end", func() bool {
		list := sessionsOf(t, gw.Store, "alice")
		return len(list) == 1 && !list[0].EndedAt.IsZero()
	})
	if err := gw.G.SyncRecords(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the notifications of the three reviews", func() bool {
		return strings.Count(hooked(), "/hook ") == 3 && strings.Count(hooked(), "/slack ") == 3
	})

	// The store: every event, the session's record, the reviews.
	var events strings.Builder
	total := 0
	gw.Store.Events(ctx, 0, func(e *store.Event) bool {
		b, _ := json.Marshal(e)
		events.Write(b)
		events.WriteByte('\n')
		total++
		return true
	})
	var record strings.Builder
	for _, s := range sessionsOf(t, gw.Store, "alice") {
		se, sts, err := gw.Store.GetSession(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(se)
		record.Write(b)
		for _, st := range sts {
			b, _ := json.Marshal(st)
			record.Write(b)
			record.WriteByte('\n')
		}
	}
	reviews, err := gw.Store.Reviews(ctx, "", 100)
	if err != nil || len(reviews) != 3 {
		t.Fatalf("reviews in the store: %d, %v", len(reviews), err)
	}
	var stored strings.Builder
	for _, r := range reviews {
		stored.WriteString(r.Data + "\n")
	}
	sink := filepath.Join(gw.Dir, "hoop-data", "audit.jsonl")
	waitFor(t, "the file sink to catch up", func() bool {
		b, _ := os.ReadFile(sink)
		return strings.Count(string(b), "\n") >= total
	})
	file := readFile(t, sink)
	logs := gw.Logs.String()

	for _, c := range []struct {
		what, got string
		masked    []string // masked forms that must be there
	}{
		{"the gateway's log", logs, []string{"***-**-1847", "6467"}},
		{"the audit trail's file sink", file, []string{"***-**-1847", "6467"}},
		{"the store's events", events.String(), []string{"***-**-1847", "6467"}},
		// The cast error's value is redacted whole (a data exception's value may be one
		// computed from a masked column), so its last four digits are not there either.
		{"the store's session record", record.String(), []string{"***-**-1847", "***-**-1848", `integer: \"[REDACTED]\"`, "2178"}},
		{"the store's reviews", stored.String(), []string{"***-**-1847", "6467"}},
		{"the review notifications", hooked(), []string{"***-**-1847"}},
	} {
		if c.got == "" {
			t.Errorf("%s: empty", c.what)
			continue
		}
		for _, s := range secrets {
			if strings.Contains(c.got, s) {
				t.Errorf("%s holds the secret %q", c.what, s)
			}
		}
		for _, m := range c.masked {
			if !strings.Contains(c.got, m) {
				t.Errorf("%s lacks the masked form %q", c.what, m)
			}
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s\naudit.jsonl:\n%s\nrecord:\n%s\nreviews:\n%s\nnotifications:\n%s", logs, file, record.String(), stored.String(), hooked())
	}
}
