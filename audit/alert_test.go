package audit

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time            { return c.t }
func (c *clock) add(d time.Duration)       { c.t = c.t.Add(d) }
func newClock() *clock                     { return &clock{t: time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC)} }
func denial(seq int64, actor string) Event { return statement(seq, actor, "deny") }

func statement(seq int64, actor, decision string) Event {
	return Event{Seq: seq, Kind: KindStatement, Actor: actor, Connection: "db-prod",
		Data: map[string]any{"decision": decision, "rule": "no-writes"}}
}

var denials = Rule{Name: "denials", Kind: KindStatement, Where: map[string]string{"decision": "deny"},
	Threshold: 5, Window: time.Minute, By: "actor"}

func TestAlertDenials(t *testing.T) {
	clk := newClock()
	a, err := NewAlerts([]Rule{denials}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	seq := int64(0)
	observe := func(e Event) []Event {
		seq++
		e.Seq = seq
		return a.Observe(e)
	}
	for i := range 4 {
		if got := observe(denial(0, "ana@example.com")); got != nil {
			t.Fatalf("denial %d: got alerts %v", i+1, got)
		}
		clk.add(10 * time.Second)
	}
	// Not a denial, or not ana: not counted for her.
	if got := observe(statement(0, "ana@example.com", "allow")); got != nil {
		t.Errorf("an allowed statement fired %v", got)
	}
	if got := observe(denial(0, "bob@example.com")); got != nil {
		t.Errorf("bob's first denial fired %v", got)
	}
	got := observe(denial(0, "ana@example.com")) // the 5th in 40 s
	if len(got) != 1 {
		t.Fatalf("5th denial in a minute: got %d alerts, want 1", len(got))
	}
	want := Event{
		Time:  clk.t,
		Kind:  KindAlert,
		Actor: "ana@example.com",
		Data: map[string]any{
			"rule": "denials", "by": "actor", "value": "ana@example.com", "count": 5, "threshold": 5, "window": "1m0s",
			"events": []any{
				map[string]any{"seq": int64(1), "kind": "statement"},
				map[string]any{"seq": int64(2), "kind": "statement"},
				map[string]any{"seq": int64(3), "kind": "statement"},
				map[string]any{"seq": int64(4), "kind": "statement"},
				map[string]any{"seq": int64(7), "kind": "statement"},
			},
		},
	}
	if diff := cmp.Diff(want, got[0]); diff != "" {
		t.Errorf("alert (-want +got):\n%s", diff)
	}
	// The alert can be sealed and kept like any event.
	if err := NewChain(testKey, nil).Seal(&got[0]); err != nil {
		t.Errorf("Seal(alert): %v", err)
	}

	// Quiet for a window: five more denials at once do not fire again.
	for range 5 {
		if got := observe(denial(0, "ana@example.com")); got != nil {
			t.Fatalf("denial in the quiet window fired %v", got)
		}
	}
	// After it, five new denials fire again; those of the quiet window do not count.
	clk.add(time.Minute)
	for i := range 5 {
		got := observe(denial(0, "ana@example.com"))
		if i < 4 && got != nil {
			t.Fatalf("denial %d after the quiet window fired %v", i+1, got)
		}
		if i == 4 && (len(got) != 1 || got[0].Data["count"] != 5) {
			t.Fatalf("5th denial after the quiet window: got %v, want an alert", got)
		}
	}
}

// TestAlertSlidingWindow: five denials more than a window apart do not fire.
func TestAlertSlidingWindow(t *testing.T) {
	clk := newClock()
	a, err := NewAlerts([]Rule{denials}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if got := a.Observe(denial(int64(i+1), "ana@example.com")); got != nil {
			t.Fatalf("denial %d, 15 s apart: got %v", i+1, got)
		}
		clk.add(15 * time.Second) // 4 in any minute
	}
	clk.add(-14 * time.Second) // now 1 s after the last one: 5 in the minute
	if got := a.Observe(denial(21, "ana@example.com")); len(got) != 1 {
		t.Errorf("5 denials in 46 s: got %v, want an alert", got)
	}
}

// TestAlertMaskedColumn: any read of a masked column by someone not exempt (the engine
// records mask.column only for them) fires at once, once per person and window.
func TestAlertMaskedColumn(t *testing.T) {
	clk := newClock()
	a, err := NewAlerts([]Rule{{Name: "pii-read", Kind: KindMaskColumn, Threshold: 1}}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	read := func(seq int64, actor string) Event {
		return Event{Seq: seq, Kind: KindMaskColumn, Actor: actor, Data: map[string]any{"rule": "pii", "column": "users.email"}}
	}
	if got := a.Observe(read(1, "ana@example.com")); len(got) != 1 || got[0].Data["value"] != "ana@example.com" || got[0].Data["window"] != "1m0s" {
		t.Errorf("first read: got %v, want an alert for ana (window 1m, the default)", got)
	}
	if got := a.Observe(read(2, "ana@example.com")); got != nil {
		t.Errorf("second read by ana within the minute: got %v, want none", got)
	}
	if got := a.Observe(read(3, "bob@example.com")); len(got) != 1 {
		t.Errorf("bob's read: got %v, want an alert", got)
	}
	if got := a.Observe(Event{Seq: 4, Kind: KindStatement, Actor: "carol@example.com"}); got != nil {
		t.Errorf("a statement: got %v", got)
	}
	clk.add(time.Minute)
	if got := a.Observe(read(5, "ana@example.com")); len(got) != 1 {
		t.Errorf("ana's read a minute later: got %v, want an alert", got)
	}
}

func TestAlertMatching(t *testing.T) {
	tests := []struct {
		name string
		rule Rule
		e    Event
		want bool
	}{
		{"kind", Rule{Kind: "statement"}, Event{Kind: "statement"}, true},
		{"other kind", Rule{Kind: "statement"}, Event{Kind: "login"}, false},
		{"family", Rule{Kind: "review.*"}, Event{Kind: "review.approve"}, true},
		{"family, not a prefix of a word", Rule{Kind: "review.*"}, Event{Kind: "reviewer"}, false},
		{"any", Rule{Kind: "*"}, Event{Kind: "login"}, true},
		{"where string", Rule{Kind: "statement", Where: map[string]string{"class": "ddl"}}, Event{Kind: "statement", Data: map[string]any{"class": "ddl"}}, true},
		{"where missing", Rule{Kind: "statement", Where: map[string]string{"class": "ddl"}}, Event{Kind: "statement"}, false},
		{"where number", Rule{Kind: "statement", Where: map[string]string{"rows": "0"}}, Event{Kind: "statement", Data: map[string]any{"rows": json.Number("0")}}, true},
		{"where int", Rule{Kind: "statement", Where: map[string]string{"rows": "12"}}, Event{Kind: "statement", Data: map[string]any{"rows": 12}}, true},
		{"where float64", Rule{Kind: "statement", Where: map[string]string{"ms": "0.5"}}, Event{Kind: "statement", Data: map[string]any{"ms": 0.5}}, true},
		{"where bool", Rule{Kind: "statement", Where: map[string]string{"held": "true"}}, Event{Kind: "statement", Data: map[string]any{"held": true}}, true},
		{"where object", Rule{Kind: "statement", Where: map[string]string{"o": "map[]"}}, Event{Kind: "statement", Data: map[string]any{"o": map[string]any{}}}, false},
		{"where raw", Rule{Kind: "statement", Where: map[string]string{"decision": "deny", "seq": "3"}}, Event{Kind: "statement", RawData: `{"decision":"deny","seq":3}`}, true},
		{"where raw other", Rule{Kind: "statement", Where: map[string]string{"decision": "deny"}}, Event{Kind: "statement", RawData: `{"decision":"allow"}`}, false},
		{"where raw broken", Rule{Kind: "statement", Where: map[string]string{"decision": "deny"}}, Event{Kind: "statement", RawData: `{"decision":"deny"`}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rule
			e := tt.e
			if got := r.matches(e, &lazyData{e: &e}); got != tt.want {
				t.Errorf("matches: got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestAlertBy: counting by connection, session or a Data field; an event without the
// field is not counted.
func TestAlertBy(t *testing.T) {
	for _, tt := range []struct {
		by   string
		a, b Event // two events with the same key
		c    Event // another key
	}{
		{"connection", Event{Actor: "a", Connection: "db1"}, Event{Actor: "b", Connection: "db1"}, Event{Actor: "a", Connection: "db2"}},
		{"session", Event{Actor: "a", Session: "s1"}, Event{Actor: "b", Session: "s1"}, Event{Actor: "a", Session: "s2"}},
		{"rule", Event{Actor: "a", Data: map[string]any{"rule": "r1"}}, Event{Actor: "b", Data: map[string]any{"rule": "r1"}}, Event{Actor: "a", Data: map[string]any{"rule": "r2"}}},
	} {
		t.Run(tt.by, func(t *testing.T) {
			a, err := NewAlerts([]Rule{{Name: "r", Kind: "*", Threshold: 2, By: tt.by}}, newClock().now)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range []*Event{&tt.a, &tt.b, &tt.c} {
				e.Kind = KindStatement
			}
			if got := a.Observe(tt.a); got != nil {
				t.Fatalf("first: %v", got)
			}
			if got := a.Observe(tt.c); got != nil {
				t.Fatalf("another %s: %v", tt.by, got)
			}
			got := a.Observe(tt.b)
			if len(got) != 1 || got[0].Data["by"] != tt.by {
				t.Fatalf("second with the same %s: got %v, want an alert", tt.by, got)
			}
		})
	}
	a, err := NewAlerts([]Rule{{Name: "r", Kind: "*", By: "table"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Observe(Event{Kind: KindStatement}); got != nil {
		t.Errorf("an event without the by field: got %v", got)
	}
}

// TestAlertsDoNotFeedThemselves: an alert event is never counted, even by "*".
func TestAlertsDoNotFeedThemselves(t *testing.T) {
	a, err := NewAlerts([]Rule{{Name: "any", Kind: "*", By: "connection"}}, newClock().now)
	if err != nil {
		t.Fatal(err)
	}
	alerts := a.Observe(Event{Kind: KindLogin, Connection: "x"})
	if len(alerts) != 1 {
		t.Fatalf("got %v", alerts)
	}
	if got := a.Observe(alerts[0]); got != nil {
		t.Errorf("an alert fired %v", got)
	}
	var nilA *Alerts
	if got := nilA.Observe(Event{Kind: KindLogin}); got != nil {
		t.Errorf("nil Alerts: got %v", got)
	}
}

// TestAlertMemoryBounded: keys that fall out of the window are forgotten, and a rule
// never keeps more than maxHits/Threshold keys.
func TestAlertMemoryBounded(t *testing.T) {
	clk := newClock()
	a, err := NewAlerts([]Rule{{Name: "r", Kind: KindStatement, Threshold: 1000}}, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	limit := maxHits / 1000
	for i := range 3 * limit {
		a.Observe(Event{Kind: KindStatement, Actor: fmt.Sprintf("user%d@example.com", i)})
		clk.add(time.Millisecond)
	}
	if n := len(a.keys[0]); n > limit {
		t.Errorf("keys: got %d, want at most %d", n, limit)
	}
	// The keys seen least recently go first.
	for _, i := range []int{0, 3*limit - 1} {
		if _, ok := a.keys[0][fmt.Sprintf("user%d@example.com", i)]; ok != (i > 0) {
			t.Errorf("user%d kept: %v", i, ok)
		}
	}
	clk.add(2 * time.Minute)
	a.Observe(Event{Kind: KindStatement, Actor: "last@example.com"})
	if n := len(a.keys[0]); n != 1 {
		t.Errorf("keys after the window: got %d, want 1", n)
	}
}

func TestNewAlertsErrors(t *testing.T) {
	for _, tt := range []struct {
		rules []Rule
		want  string
	}{
		{[]Rule{{Kind: "statement"}}, "alert rule: no name"},
		{[]Rule{{Name: "a", Kind: "statement"}, {Name: "a", Kind: "login"}}, "alert rule a: defined twice"},
		{[]Rule{{Name: "a"}}, "alert rule a: no kind"},
		{[]Rule{{Name: "a", Kind: "login", Threshold: -1}}, "alert rule a: threshold -1: want 1 or more"},
		{[]Rule{{Name: "a", Kind: "login", Window: -time.Second}}, "alert rule a: window -1s: want a positive duration"},
	} {
		_, err := NewAlerts(tt.rules, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewAlerts(%+v): got %v, want %q", tt.rules, err, tt.want)
		}
	}
}
