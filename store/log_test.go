package store

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestStatementEntryRoundTrip: a statement_log entry reads back as the statement it was
// written from.
func TestStatementEntryRoundTrip(t *testing.T) {
	t0 := micro(time.Now())
	for _, st := range []*Statement{
		{SessionID: "s", Seq: 1, StartedAt: t0, SQL: "SELECT 1", State: StateSent},
		{SessionID: "s", Seq: 1 << 40, StartedAt: t0, SQL: "select '<b>&' || \"x\"\n\t\u2028", Params: []*string{str("42"), nil, str("")},
			Class: "read", Decision: "allow", Rule: "r", PolicyVersion: "sha256:ab", ReviewID: "r-1", State: StateDone,
			Duration: 1500 * time.Microsecond, RowCount: 3, CommandTag: "SELECT 3", Error: `ERROR: "x" (SQLSTATE 42501)`,
			Masking: map[string]int{"email": 2, "column:customers.ssn": 1}, Columns: []string{"a", "b"},
			Rows: [][]*string{{str("1"), nil}, {str("é"), str("")}, nil}},
		{SessionID: "s", Seq: 3, StartedAt: t0, SQL: "", Params: []*string{}, Masking: map[string]int{}, Columns: []string{}, Rows: [][]*string{}},
	} {
		var got []*Statement
		if err := decodeStatements(string(appendStatementEntry(nil, st)), func(e *stmtEntry) { got = append(got, e.statement("s")) }); err != nil {
			t.Fatal(err)
		}
		want := *st
		if want.Params == nil {
			want.Params = []*string{} // params are written as [] when there are none
		}
		if diff := cmp.Diff([]*Statement{&want}, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

// TestEventEntryRefusals: an event that would not read back as it was sealed is refused,
// and the commit with it.
func TestEventEntryRefusals(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		s := open(t, url)
		for _, e := range []*Event{
			{Time: time.Now(), Kind: "x", Actor: "bad \xff", Data: "{}"},
			{Time: time.Now(), Kind: "x", Data: "not json"},
		} {
			err := s.Commit(t.Context(), &Batch{Events: []*Event{e}}, sealSHA)
			if err == nil || !strings.Contains(err.Error(), "audit event") {
				t.Errorf("event %+v: got %v, want a refusal", e, err)
			}
		}
		n := 0
		s.Events(t.Context(), 0, func(*Event) bool { n++; return true })
		if n != 0 {
			t.Errorf("%d events stored after refused commits", n)
		}
	})
}

// TestLegacyRows: rows of the statements and audit_events tables, which gateways wrote
// before the logs, are read with the logs: a session's statements merged by seq (a log
// entry replaces a row), its count, and one chain that goes on from the last row.
func TestLegacyRows(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		t0 := micro(time.Now().Add(-time.Hour))
		if err := s.Commit(ctx, &Batch{Opened: []*Session{{ID: "s-1", GatewayID: "gw", StartedAt: t0}}}, nil); err != nil {
			t.Fatal(err)
		}
		db := s.DB()
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO statements (session_id, seq, started_at, sql, params_json, class, decision, rule, policy_version, review_id, state)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{"s-1", 1, t0.UnixMicro(), "select 1", "[]", "read", "allow", "r", "v", "", StateSent}},
			{`INSERT INTO statements (session_id, seq, started_at, sql, params_json, class, decision, rule, policy_version, review_id, state,
				duration_us, row_count, command_tag, columns_json, rows_json)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, []any{"s-1", 2, t0.UnixMicro(), "select 2", "[]", "read", "allow", "r", "v", "", StateDone,
				10, 1, "SELECT 1", `["x"]`, `[["2"]]`}},
			{`INSERT INTO audit_events (seq, time, kind, actor, connection, session_id, data, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				[]any{1, t0.UnixMicro(), "gateway.start", "", "", "", "{}", make([]byte, 32), []byte("legacy-hash-1")}},
		} {
			if _, err := db.ExecContext(ctx, s.q(q.sql), q.args...); err != nil {
				t.Fatal(err)
			}
		}
		done := &Statement{SessionID: "s-1", Seq: 1, StartedAt: t0, SQL: "select 1", Params: []*string{}, Class: "read", Decision: "allow",
			Rule: "r", PolicyVersion: "v", State: StateDone, RowCount: 1, CommandTag: "SELECT 1"}
		third := &Statement{SessionID: "s-1", Seq: 3, StartedAt: t0, SQL: "select 3", Params: []*string{}, State: StateSent}
		ev := &Event{Time: t0, Kind: "statement", Session: "s-1", Data: `{"seq":3}`}
		if err := s.Commit(ctx, &Batch{Finished: []*Statement{done}, Sent: []*Statement{third}, Events: []*Event{ev}}, sealSHA); err != nil {
			t.Fatal(err)
		}
		se, sts, err := s.GetSession(ctx, "s-1")
		if err != nil {
			t.Fatal(err)
		}
		if se.Statements != 3 {
			t.Errorf("statements counted: %d, want 3", se.Statements)
		}
		second := &Statement{SessionID: "s-1", Seq: 2, StartedAt: t0, SQL: "select 2", Params: []*string{}, Class: "read", Decision: "allow",
			Rule: "r", PolicyVersion: "v", State: StateDone, Duration: 10 * time.Microsecond, RowCount: 1, CommandTag: "SELECT 1",
			Columns: []string{"x"}, Rows: [][]*string{{str("2")}}}
		if diff := cmp.Diff([]*Statement{done, second, third}, sts, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("statements (-want +got):\n%s", diff)
		}
		var got []*Event
		if err := s.Events(ctx, 0, func(e *Event) bool { got = append(got, e); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Seq != 1 || got[1].Seq != 2 || string(got[1].Prev) != "legacy-hash-1" || got[1].Data != ev.Data {
			t.Errorf("events: %+v", got)
		}
		got = nil
		s.Events(ctx, 1, func(e *Event) bool { got = append(got, e); return true })
		if len(got) != 1 || got[0].Seq != 2 {
			t.Errorf("events after 1: %+v", got)
		}
	})
}

// TestAppliedLSN: a commit records how far its gateway's journal is applied, per gateway.
func TestAppliedLSN(t *testing.T) {
	each(t, func(t *testing.T, url string) {
		ctx := t.Context()
		s := open(t, url)
		for _, lsn := range []uint64{5, 9} {
			if err := s.Commit(ctx, &Batch{Applied: &Applied{GatewayID: "gw-a", LSN: lsn}}, nil); err != nil {
				t.Fatal(err)
			}
			if got, err := s.AppliedLSN(ctx, "gw-a"); err != nil || got != lsn {
				t.Fatalf("AppliedLSN after %d: %d, %v", lsn, got, err)
			}
		}
		if got, err := s.AppliedLSN(ctx, "gw-b"); err != nil || got != 0 {
			t.Fatalf("another gateway's mark: %d, %v; want 0", got, err)
		}
	})
}
