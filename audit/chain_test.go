package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var testKey = bytes.Repeat([]byte{0x42}, 32)

// sealed returns a chain of n events sealed with testKey, numbered from 1, as the store
// would keep them.
func sealed(t testing.TB, n int) []Event {
	t.Helper()
	c := NewChain(testKey, nil)
	t0 := time.Date(2025, 5, 1, 10, 0, 0, 123456789, time.FixedZone("CEST", 2*3600))
	kinds := []string{KindLogin, KindTunnelOpen, KindSessionStart, KindStatement, KindStatement, KindMaskColumn, KindSessionEnd}
	out := make([]Event, n)
	for i := range out {
		e := Event{
			Seq:        int64(i + 1),
			Time:       t0.Add(time.Duration(i) * time.Second),
			Kind:       kinds[i%len(kinds)],
			Actor:      "ana@example.com",
			Connection: "db-prod",
			Session:    "s-1",
			Data: map[string]any{
				"decision": "deny",
				"rows":     i,
				"big":      int64(1) << 60, // beyond float64's exact integers
				"ratio":    0.1 * float64(i),
				"sql":      "SELECT '<b>' & 1 -- é",
				"params":   []any{"x", 3, nil, true},
				"nested":   map[string]any{"z": 1, "a": []string{"q"}},
			},
		}
		if i == 2 {
			e.Actor, e.Data = "", nil // the gateway, no data
		}
		if err := c.Seal(&e); err != nil {
			t.Fatalf("Seal(%d): %v", i+1, err)
		}
		out[i] = e
	}
	return out
}

// roundTrip passes events through what a store does: Data kept as DataJSON text and
// decoded back with ParseData, Time through its text form.
func roundTrip(t testing.TB, events []Event) []Event {
	t.Helper()
	out := make([]Event, len(events))
	for i, e := range events {
		text, err := e.DataJSON()
		if err != nil {
			t.Fatal(err)
		}
		if e.Data, err = ParseData(text); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339Nano, e.Time.Format(time.RFC3339Nano))
		if err != nil {
			t.Fatal(err)
		}
		e.Time = ts
		e.Prev, e.Hash = bytes.Clone(e.Prev), bytes.Clone(e.Hash)
		out[i] = e
	}
	return out
}

func verify(t *testing.T, key []byte, events []Event) Report {
	t.Helper()
	r, err := Verify(key, Events(events))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

func TestVerifyIntact(t *testing.T) {
	events := sealed(t, 20)
	if !bytes.Equal(events[0].Prev, make([]byte, 32)) {
		t.Errorf("first Prev: got %x, want 32 zero bytes", events[0].Prev)
	}
	for i := 1; i < len(events); i++ {
		if !bytes.Equal(events[i].Prev, events[i-1].Hash) {
			t.Fatalf("event %d: Prev does not link to event %d", i+1, i)
		}
	}
	for name, evs := range map[string][]Event{
		"as sealed":     events,
		"through store": roundTrip(t, events),
	} {
		r := verify(t, testKey, evs)
		if !r.OK || r.Checked != 20 || r.Break != "" || !bytes.Equal(r.Head, events[19].Hash) {
			t.Errorf("%s: got %+v, want OK, 20 checked, head = the last hash", name, r)
		}
	}
	if r := verify(t, testKey, nil); !r.OK || r.Checked != 0 {
		t.Errorf("empty chain: got %+v, want OK", r)
	}
}

// TestVerifyJSONLines: what a file sink writes verifies, as a copy kept elsewhere.
func TestVerifyJSONLines(t *testing.T) {
	events := sealed(t, 10)
	var buf bytes.Buffer
	for _, e := range events {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteString("\n\n")
	}
	r, err := Verify(testKey, DecodeLines(&buf))
	if err != nil || !r.OK || r.Checked != 10 {
		t.Errorf("Verify(JSON lines): got %+v, %v; want OK, 10 checked", r, err)
	}
	_, err = Verify(testKey, DecodeLines(strings.NewReader("{\"seq\":1}\nnot json\n")))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Verify(a bad line): got %v, want an error naming line 2", err)
	}
}

// TestVerifyPlainUnmarshal: a reader that decodes Data with plain json.Unmarshal
// (float64 numbers) still verifies, as long as no integer exceeds 2^53.
func TestVerifyPlainUnmarshal(t *testing.T) {
	c := NewChain(testKey, nil)
	var events []Event
	for i := range 3 {
		e := Event{Seq: int64(i + 1), Kind: KindStatement, Data: map[string]any{"rows": 1 << 50, "ms": 1.25, "s": "x"}}
		if err := c.Seal(&e); err != nil {
			t.Fatal(err)
		}
		text, _ := e.DataJSON()
		e.Data = nil
		if err := json.Unmarshal(text, &e.Data); err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
	if r := verify(t, testKey, events); !r.OK {
		t.Errorf("got %+v, want OK", r)
	}
}

func TestVerifyTampered(t *testing.T) {
	forged := func(events []Event, at int) Event {
		e := events[at]
		e.Kind, e.Data = KindStatement, map[string]any{"sql": "DELETE FROM audit"}
		e.Prev = events[at-1].Hash
		e.Hash = bytes.Repeat([]byte{7}, 32) // without the key, a guess
		return e
	}
	renumber := func(events []Event) []Event {
		for i := range events {
			events[i].Seq = int64(i + 1)
		}
		return events
	}
	tests := []struct {
		name    string
		tamper  func([]Event) []Event
		key     []byte
		seq     int64
		kind    BreakKind
		checked int64
		reason  string // a part of Reason
	}{
		{"data edited", func(ev []Event) []Event { ev[4].Data["decision"] = "allow"; return ev },
			nil, 5, BreakEdited, 5, "event 5 (statement by ana@example.com at 2025-05-01T08:00:04Z) was edited: it does not match its hash, and event 6 still links to it"},
		{"actor edited", func(ev []Event) []Event { ev[3].Actor = "bob@example.com"; return ev },
			nil, 4, BreakEdited, 4, "was edited"},
		{"time edited", func(ev []Event) []Event { ev[3].Time = ev[3].Time.Add(time.Microsecond); return ev },
			nil, 4, BreakEdited, 4, "was edited"},
		{"first event edited", func(ev []Event) []Event { ev[0].Kind = KindStatement; return ev },
			nil, 1, BreakEdited, 1, "event 1 (statement"},
		{"edited, hash rewritten", func(ev []Event) []Event {
			ev[4].Data = nil
			ev[4].Hash = bytes.Repeat([]byte{1}, 32)
			return ev
		}, nil, 5, BreakEdited, 5, "event 6 links neither to it nor to event 4"},
		{"inserted", func(ev []Event) []Event {
			return renumber(append(ev[:5:5], append([]Event{forged(ev, 5)}, ev[5:]...)...))
		}, nil, 6, BreakInserted, 6, "event 6 (statement by ana@example.com at 2025-05-01T08:00:05Z) was inserted: it does not match its hash, and event 7 links to event 5, the one before it"},
		{"inserted first", func(ev []Event) []Event {
			f := ev[0]
			f.Actor, f.Prev, f.Hash = "mallory", Genesis(), bytes.Repeat([]byte{7}, 32)
			return renumber(append([]Event{f}, ev...))
		}, nil, 1, BreakInserted, 1, "event 2 links to the start of the chain, the one before it"},
		{"real event copied", func(ev []Event) []Event {
			return renumber(append(ev[:5:5], append([]Event{ev[4]}, ev[5:]...)...))
		}, nil, 6, BreakInserted, 6, "is out of place: it does not link to event 5 and event 7 does"},
		{"two events swapped", func(ev []Event) []Event {
			ev[3], ev[4] = ev[4], ev[3]
			return renumber(ev)
		}, nil, 4, BreakInserted, 4, "out of place"},
		{"missing", func(ev []Event) []Event { return append(ev[:5:5], ev[6:]...) },
			nil, 7, BreakMissing, 6, "events are missing before event 7 (session.end by ana@example.com at 2025-05-01T08:00:06Z): it does not link to event 5"},
		{"missing, renumbered", func(ev []Event) []Event { return renumber(append(ev[:5:5], ev[7:]...)) },
			nil, 6, BreakMissing, 6, "events are missing before event 6"},
		{"first missing", func(ev []Event) []Event { return ev[1:] },
			nil, 2, BreakMissing, 1, "events are missing before event 2 (tunnel.open by ana@example.com at 2025-05-01T08:00:01Z): it does not link to the start of the chain"},
		{"seq gap", func(ev []Event) []Event {
			for i := 6; i < len(ev); i++ {
				ev[i].Seq++
			}
			return ev
		}, nil, 8, BreakMissing, 7, "events are missing: event 8 (session.end by ana@example.com at 2025-05-01T08:00:06Z) follows event 6"},
		{"seq not from 1", func(ev []Event) []Event {
			for i := range ev {
				ev[i].Seq += 2
			}
			return ev
		}, nil, 3, BreakMissing, 1, "the first event is 1"},
		{"last edited", func(ev []Event) []Event { ev[9].Data = map[string]any{"x": 1}; return ev },
			nil, 10, BreakEditedOrInserted, 10, "event 10 (session.start by ana@example.com at 2025-05-01T08:00:09Z), the last one, does not match its hash: it was edited or inserted"},
		{"appended", func(ev []Event) []Event {
			f := ev[9]
			f.Seq, f.Data, f.Prev, f.Hash = 11, map[string]any{"x": 1}, ev[9].Hash, bytes.Repeat([]byte{7}, 32)
			return append(ev, f)
		}, nil, 11, BreakEditedOrInserted, 11, "event 11 (session.start by ana@example.com at 2025-05-01T08:00:09Z), the last one"},
		{"wrong key", func(ev []Event) []Event { return ev },
			bytes.Repeat([]byte{0x43}, 32), 1, BreakEdited, 1, "the chain key is not the one the events were sealed with"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events := tt.tamper(roundTrip(t, sealed(t, 10)))
			key := testKey
			if tt.key != nil {
				key = tt.key
			}
			r := verify(t, key, events)
			if r.OK || r.Seq != tt.seq || r.Break != tt.kind || r.Checked != tt.checked {
				t.Errorf("got OK %v, seq %d, break %q, checked %d; want seq %d, %q, checked %d\nreason: %s",
					r.OK, r.Seq, r.Break, r.Checked, tt.seq, tt.kind, tt.checked, r.Reason)
			}
			if !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("reason:\ngot  %q\nwant it to contain %q", r.Reason, tt.reason)
			}
			if r.String() != r.Reason {
				t.Errorf("String: got %q, want the reason", r.String())
			}
		})
	}
}

func TestVerifyNextError(t *testing.T) {
	events := sealed(t, 3)
	i := 0
	boom := errors.New("disk on fire")
	_, err := Verify(testKey, func() (Event, bool, error) {
		if i == 2 {
			return Event{}, false, boom
		}
		i++
		return events[i-1], true, nil
	})
	if !errors.Is(err, boom) {
		t.Errorf("got %v, want the iterator's error", err)
	}
}

func TestSeal(t *testing.T) {
	c := NewChain(testKey, nil)
	if !bytes.Equal(c.Head(), Genesis()) {
		t.Errorf("new chain head: got %x, want Genesis", c.Head())
	}
	e := Event{Kind: KindLogin, Time: time.Date(2025, 5, 1, 12, 0, 0, 999999999, time.FixedZone("X", 3600))}
	if err := c.Seal(&e); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2025, 5, 1, 11, 0, 0, 999999000, time.UTC); !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("Time: got %v, want %v (UTC, microseconds)", e.Time, want)
	}
	if !bytes.Equal(c.Head(), e.Hash) || len(e.Hash) != HashSize {
		t.Errorf("Head: got %x, want the event's hash %x", c.Head(), e.Hash)
	}
	// A chain made again from the stored head goes on where it was.
	again := NewChain(testKey, e.Hash)
	next := Event{Kind: "logout"} // any kind can be sealed
	if err := again.Seal(&next); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next.Prev, e.Hash) || next.Time.IsZero() {
		t.Errorf("next: Prev %x, Time %v; want Prev = %x and a time", next.Prev, next.Time, e.Hash)
	}
	e.Seq, next.Seq = 1, 2
	if r := verify(t, testKey, []Event{e, next}); !r.OK {
		t.Errorf("got %+v, want OK", r)
	}
	if err := c.Seal(&Event{}); err == nil {
		t.Error("Seal of an event with no kind: got no error")
	}
	if err := c.Seal(&Event{Kind: KindStatement, Data: map[string]any{"f": func() {}}}); err == nil {
		t.Error("Seal of data that does not encode: got no error")
	}
}

func TestEventJSON(t *testing.T) {
	e := sealed(t, 3)[2] // the gateway's event: no actor, no data
	e.Seq = 3
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"seq":3,"time":"2025-05-01T08:00:02.123456Z","kind":"session.start","connection":"db-prod","session":"s-1","data":{},"prev":"%x","hash":"%x"}`,
		e.Prev, e.Hash)
	if string(b) != want {
		t.Errorf("Marshal:\ngot  %s\nwant %s", b, want)
	}
	for _, e := range sealed(t, 7) {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var got Event
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("Unmarshal(%s): %v", b, err)
		}
		want := roundTrip(t, []Event{e})[0]
		if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	var bad Event
	for _, s := range []string{`{"prev":"zz"}`, `{"hash":"0"}`, `{"data":[1]}`, `{"time":"yesterday"}`} {
		if err := json.Unmarshal([]byte(s), &bad); err == nil {
			t.Errorf("Unmarshal(%s): got no error", s)
		}
	}
}

func TestDataJSON(t *testing.T) {
	type row struct {
		Z string `json:"z"`
		A int    `json:"a"`
	}
	tests := []struct {
		name string
		data map[string]any
		want string
	}{
		{"nil", nil, `{}`},
		{"empty", map[string]any{}, `{}`},
		{"sorted", map[string]any{"b": 1, "a": "x"}, `{"a":"x","b":1}`},
		{"struct keys sorted", map[string]any{"r": row{Z: "z", A: 1}}, `{"r":{"a":1,"z":"z"}}`},
		{"typed map", map[string]any{"m": map[string]int{"y": 2, "x": 1}}, `{"m":{"x":1,"y":2}}`},
		{"raw message with spaces", map[string]any{"j": json.RawMessage(`{ "b" : 1, "a" : [ 2 ] }`)}, `{"j":{"a":[2],"b":1}}`},
		{"big int", map[string]any{"n": int64(1<<62 + 1)}, `{"n":4611686018427387905}`},
		{"float", map[string]any{"f": 0.1, "e": 1e21, "g": 1e-7}, `{"e":1e+21,"f":0.1,"g":1e-7}`},
		{"html escaped", map[string]any{"s": "<a&b>"}, `{"s":"\u003ca\u0026b\u003e"}`},
		{"invalid utf-8", map[string]any{"s": "a\xffb"}, "{\"s\":\"a\uFFFDb\"}"},
		{"line separator", map[string]any{"s": "a\u2028b"}, `{"s":"a\u2028b"}`},
		{"bytes", map[string]any{"b": []byte("hi")}, `{"b":"aGk="}`},
		{"time", map[string]any{"t": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}, `{"t":"2025-01-02T03:04:05Z"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Event{Data: tt.data}.DataJSON()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("DataJSON: got %s, want %s", got, tt.want)
			}
			back, err := ParseData(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Event{Data: back}.DataJSON()
			if err != nil || !bytes.Equal(again, got) {
				t.Errorf("DataJSON after ParseData: got %s, %v; want %s", again, err, got)
			}
		})
	}
	if m, err := ParseData([]byte(" ")); m != nil || err != nil {
		t.Errorf("ParseData(blank): got %v, %v; want no data", m, err)
	}
	for _, bad := range []string{`[1]`, `{"a":1} x`, `{`, `"s"`} {
		if _, err := ParseData([]byte(bad)); err == nil {
			t.Errorf("ParseData(%s): got no error", bad)
		}
	}
}

// FuzzDataJSON: whatever JSON object a store holds, decoding it and encoding it again is
// a fixed point after one step, so a chain hashes the same text as the store keeps.
func FuzzDataJSON(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, `{"b":[1,2.5,"x",null,true],"a":{"c":1e400}}`,
		`{"s":"\u003c\ud800"}`, `{"n":12345678901234567890123}`, `{"a":1,"a":2}`, "{\"\xff\":1}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, text []byte) {
		m, err := ParseData(text)
		if err != nil {
			return
		}
		c, err := Event{Data: m}.DataJSON()
		if err != nil {
			return // a number literal encoding/json decodes but will not encode
		}
		m2, err := ParseData(c)
		if err != nil {
			t.Fatalf("ParseData(DataJSON) of %q: %v", c, err)
		}
		c2, err := Event{Data: m2}.DataJSON()
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point:\n%s\n%s (%v)", c, c2, err)
		}
	})
}

// TestSumText: hashing the stored text of Data gives the hash Sum gives for the decoded
// Data, so a store can seal without decoding what it keeps.
func TestSumText(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	e := Event{Time: time.Unix(1700000000, 123456000).UTC(), Kind: "statement", Actor: "ana@example.com",
		Data: map[string]any{"seq": int64(3), "sql": "select '<x>'", "groups": []string{"a", "b"}}, Prev: Genesis()}
	text, err := e.DataJSON()
	if err != nil {
		t.Fatal(err)
	}
	want, err := e.Sum(key)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.SumText(key, text); !bytes.Equal(got, want) {
		t.Errorf("SumText = %x, Sum = %x", got, want)
	}
	if got := e.SumText(key, []byte(`{"seq":3}`)); bytes.Equal(got, want) {
		t.Error("SumText ignores the text it is given")
	}
}

// TestTextHasher: the reusable hasher gives SumText's hash, event after event.
func TestTextHasher(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	h := NewTextHasher(key)
	prev := Genesis()
	for i, data := range []string{`{}`, `{"a":1}`, `{"sql":"select 1"}`, strings.Repeat("x", 5000)} {
		e := Event{Time: time.UnixMicro(int64(i)), Kind: KindStatement, Actor: "ana", Connection: "db", Session: "s", Prev: prev}
		want := e.SumText(key, []byte(data))
		if got := h.Sum(e, []byte(data)); !bytes.Equal(got, want) {
			t.Fatalf("event %d: %x, want %x", i, got, want)
		}
		prev = want
	}
}
