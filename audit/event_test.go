package audit

import (
	"encoding/hex"
	"encoding/json"
	"testing"
	"time"
)

// TestAppendJSONMatchesEncodingJSON: the sinks' reflection-free encoding is the one
// encoding/json gives for the wire form, for Data given as a map and as the store's text.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 28, 6, 5, 17, 123456000, time.UTC)
	for _, e := range []Event{
		{Seq: 1, Time: at, Kind: KindGatewayStart, Prev: make([]byte, 32), Hash: []byte{1, 2, 3}},
		{Seq: 42, Time: at, Kind: KindStatement, Actor: "ana@example.com", Connection: "db-prod", Session: "s-7f3a",
			Data: map[string]any{"sql": `select '<b>' & "x"` + "\n\u2028\xff", "seq": 3, "ok": true, "cols": []string{"a"}}, Prev: []byte{0xab}, Hash: []byte{0xcd}},
		{Seq: 7, Time: at.In(time.FixedZone("x", 3600)), Kind: KindSessionEnd, Actor: "é", RawData: `{"reason":"client closed","statements":2}`},
	} {
		data, err := e.DataJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(wireEvent{Seq: e.Seq, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Connection: e.Connection,
			Session: e.Session, Data: data, Prev: hex.EncodeToString(e.Prev), Hash: hex.EncodeToString(e.Hash)})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.AppendJSON([]byte("x"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got[1:]) != string(want) {
			t.Errorf("AppendJSON:\n got %s\nwant %s", got[1:], want)
		}
		var back Event
		if err := json.Unmarshal(got[1:], &back); err != nil {
			t.Fatal(err)
		}
		if back.Kind != e.Kind || len(back.Fields()) != len(e.Fields()) {
			t.Errorf("round trip: %+v, want %+v", back, e)
		}
	}
}
