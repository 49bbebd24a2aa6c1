package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func codecStr(s string) *string { return &s }

// codecHotBatch is the journal's common case: one statement about to be forwarded and its
// audit event.
func codecHotBatch() *Batch {
	at := time.UnixMicro(1_767_225_600_123_456)
	data := `{"decision":"allow","class":"read","rule":"engineers-read","policy":"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08","sql":"SELECT abalance FROM pgbench_accounts WHERE aid = 4242;","params":0}`
	data += strings.Repeat(" ", 250-len(data))
	return &Batch{
		Sent: []*Statement{{
			SessionID:     "s-01JGZ8Q3V7XKQ2W9M4N5P6R7S8",
			Seq:           42,
			StartedAt:     at,
			SQL:           "SELECT abalance FROM pgbench_accounts WHERE aid = 4242;",
			Class:         "read",
			Decision:      "allow",
			Rule:          "engineers-read",
			PolicyVersion: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			State:         StateSent,
		}},
		Events: []*Event{{
			Time:       at,
			Kind:       "statement",
			Actor:      "alice@example.com",
			Connection: "db-prod",
			Session:    "s-01JGZ8Q3V7XKQ2W9M4N5P6R7S8",
			Data:       data,
		}},
	}
}

// codecFullBatch has several items of every kind and the edge cases of every field.
func codecFullBatch() *Batch {
	t0 := time.UnixMicro(1_767_225_600_000_001)
	t1 := time.UnixMicro(-1) // before 1970
	t2 := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
	return &Batch{
		Opened: []*Session{
			{
				ID: "s-1", GatewayID: "gw-a", TunnelID: "t-1", Subject: "alice", Email: "alice@example.com",
				Groups: []string{"engineering", "", "ünïcødé 世界 🚀"}, Connection: "db-prod", Access: "write",
				DBUser: "app_rw", Application: "psql", SourceAddr: "[::1]:54321", StartedAt: t0, Statements: 7,
			},
			{ID: "s-2", Groups: []string{}, StartedAt: t1, EndedAt: t2, EndReason: "token expired", Statements: -3},
			nil,
			{}, // every field zero: nil groups, zero times
		},
		Ended: []SessionEnd{
			{ID: "s-1", At: t2, Reason: "client closed"},
			{},
			{ID: "s-3", At: t1, Reason: "gateway-restart"},
		},
		Sent: []*Statement{
			{
				SessionID: "s-1", Seq: 1, StartedAt: t0, SQL: "SELECT * FROM customers WHERE id = $1 AND name = $2",
				Params: []*string{codecStr("42"), nil, codecStr(""), codecStr("Zoë 🚀")},
				Class:  "read", Decision: "allow", Rule: "engineers-read", PolicyVersion: "sha256:abc", State: StateSent,
			},
			{SessionID: "s-1", Seq: 2, SQL: "DROP TABLE x", Params: []*string{}, Decision: "deny", State: StateRefused,
				Error: "refused by policy"},
			nil,
			{},
		},
		Finished: []*Statement{
			{
				SessionID: "s-1", Seq: 1, StartedAt: t0, SQL: "SELECT 1", State: StateDone, ReviewID: "r-9",
				Duration: 1500 * time.Microsecond, RowCount: 3, CommandTag: "SELECT 3",
				Masking: map[string]int{"email": 2, "column:customers.ssn": 3, "": 0, "négatif": -1},
				Columns: []string{"id", "", "émail"},
				Rows: [][]*string{
					{codecStr("1"), codecStr("a***@example.com"), nil},
					{},
					nil,
					{nil, nil, codecStr("")},
				},
			},
			{SessionID: "s-1", Seq: 3, State: StateDone, Duration: -time.Nanosecond, RowCount: -1,
				Masking: map[string]int{}, Columns: []string{}, Rows: [][]*string{}},
			{SessionID: "s-2", Seq: 1 << 62, State: StateInterrupted, Error: "ERROR: boom (SQLSTATE 42501)",
				Duration: time.Duration(1<<63 - 1)},
		},
		Events: []*Event{
			{Seq: 1, Time: t0, Kind: "session.start", Actor: "alice@example.com", Connection: "db-prod", Session: "s-1",
				Data: `{"a":"ü"}`, Prev: nil, Hash: []byte{0, 1, 2, 255}},
			{Seq: 2, Time: t1, Kind: "statement", Prev: []byte{}, Hash: []byte{}},
			nil,
			{Seq: -1 << 63},
			{Seq: 1<<63 - 1, Data: strings.Repeat("x", 300), Prev: bytes.Repeat([]byte{0xab}, 32), Hash: bytes.Repeat([]byte{0xcd}, 32)},
		},
	}
}

func codecRoundTrip(t *testing.T, b *Batch) []byte {
	t.Helper()
	enc := AppendBatch(nil, b)
	got, err := DecodeBatch(enc)
	if err != nil {
		t.Fatalf("DecodeBatch: %v", err)
	}
	if diff := cmp.Diff(b, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
	// Deterministic, and appending keeps what dst held.
	again := AppendBatch([]byte("prefix"), got)
	if !bytes.Equal(again[:6], []byte("prefix")) || !bytes.Equal(again[6:], enc) {
		t.Fatalf("re-encoding differs:\n%x\n%x", enc, again[6:])
	}
	return enc
}

func TestCodecRoundTripEmpty(t *testing.T) {
	enc := codecRoundTrip(t, &Batch{})
	if want := []byte{1, 0, 0, 0, 0, 0}; !bytes.Equal(enc, want) {
		t.Errorf("empty batch: got %x, want %x", enc, want)
	}
}

func TestCodecRoundTripFull(t *testing.T) {
	codecRoundTrip(t, codecFullBatch())
	codecRoundTrip(t, codecHotBatch())
}

func TestCodecZeroTimes(t *testing.T) {
	b := &Batch{Ended: []SessionEnd{{ID: "z"}, {ID: "nz", At: time.UnixMicro(0)}}}
	got, err := DecodeBatch(AppendBatch(nil, b))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Ended[0].At.IsZero() || got.Ended[0].At != (time.Time{}) {
		t.Errorf("zero time decoded as %v", got.Ended[0].At)
	}
	if got.Ended[1].At.IsZero() || !got.Ended[1].At.Equal(time.Unix(0, 0)) {
		t.Errorf("the Unix epoch decoded as %v", got.Ended[1].At)
	}
	if zeroMicro != (time.Time{}).UnixMicro() {
		t.Errorf("zeroMicro = %d, want %d", zeroMicro, (time.Time{}).UnixMicro())
	}
}

// TestCodecCoversAllFields fills every field of every encoded type with a non-zero value,
// so a field added to one of them without a place in the codec fails here.
func TestCodecCoversAllFields(t *testing.T) {
	var b Batch
	codecFill(t, reflect.ValueOf(&b).Elem(), "batch", 0)
	got, err := DecodeBatch(AppendBatch(nil, &b))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&b, got); diff != "" {
		t.Fatalf("round trip (-want +got):\n%s", diff)
	}
}

// codecFill sets v to a non-zero value; strings get name, the path to them, so that fields
// the codec swapped would differ.
func codecFill(t *testing.T, v reflect.Value, name string, depth int) {
	t.Helper()
	if depth > 8 {
		t.Fatalf("codecFill: %v nests too deep", v.Type())
	}
	switch {
	case v.Type() == reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(time.UnixMicro(1_700_000_000_123_456)))
		return
	case v.Type() == reflect.TypeFor[time.Duration]():
		v.SetInt(int64(1234 * time.Millisecond))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(name)
	case reflect.Int, reflect.Int64:
		v.SetInt(-int64(len(name)))
	case reflect.Uint8:
		v.SetUint(0xfe)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		codecFill(t, v.Elem(), name, depth+1)
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range v.Len() {
			codecFill(t, v.Index(i), fmt.Sprint(name, "[", i, "]"), depth+1)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := range 2 {
			k := reflect.New(v.Type().Key()).Elem()
			codecFill(t, k, fmt.Sprint(name, " key ", i), depth+1)
			e := reflect.New(v.Type().Elem()).Elem()
			codecFill(t, e, fmt.Sprint(name, " value ", i, " of ", name), depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() {
				t.Fatalf("codecFill: %s.%s is unexported; does the codec need it?", v.Type(), f.Name)
			}
			if v.Type() == reflect.TypeFor[Batch]() && f.Name == "Applied" {
				continue // set when the batch is applied, never journaled
			}
			codecFill(t, v.Field(i), name+"."+f.Name, depth+1)
			if v.Field(i).IsZero() {
				t.Fatalf("codecFill: cannot fill %s.%s", v.Type(), f.Name)
			}
		}
	default:
		t.Fatalf("codecFill: no filler for %v; teach the codec (and this test) the new field type", v.Type())
	}
}

func TestCodecTruncated(t *testing.T) {
	for _, b := range []*Batch{{}, codecHotBatch(), codecFullBatch()} {
		enc := AppendBatch(nil, b)
		for i := range len(enc) {
			if got, err := DecodeBatch(enc[:i]); err == nil {
				t.Fatalf("DecodeBatch of the first %d of %d bytes: got %+v, want an error", i, len(enc), got)
			}
		}
		if _, err := DecodeBatch(append(enc, 0)); err == nil {
			t.Fatalf("DecodeBatch with a trailing byte: no error")
		}
	}
}

func TestCodecErrors(t *testing.T) {
	// sent builds a batch of one statement whose bytes up to its params are fine.
	sent := func(rest ...byte) []byte {
		p := []byte{1, 0, 0, 1, 1}
		p = appendString(p, "s-1")       // session id
		p = binary.AppendVarint(p, 1)    // seq
		p = append(p, 0)                 // started at
		p = appendString(p, "SELECT $1") // sql
		return append(p, rest...)
	}
	huge := sent(binary.AppendUvarint(nil, 901)...)
	huge = append(huge, make([]byte, 12)...)

	full := AppendBatch(nil, codecFullBatch())
	badFlag := AppendBatch(nil, &Batch{Events: []*Event{{}}})
	badFlag[8] = 7 // the event's time flag, after its presence byte and seq
	unordered := AppendBatch(nil, &Batch{Finished: []*Statement{{Masking: map[string]int{"a": 1, "b": 2}}}})
	i := bytes.Index(unordered, []byte("\x01a\x02\x01b\x04"))
	copy(unordered[i:], "\x01b\x04\x01a\x02")
	zeroInstant := binary.AppendVarint([]byte{1, 0, 1, 0, 1}, zeroMicro)
	zeroInstant = append(zeroInstant, 0, 0, 0, 0)

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "batch: byte 0: empty input"},
		{"version", []byte{2, 0, 0, 0, 0, 0}, "batch: byte 0: version 2, want 1"},
		{"params too long", huge, fmt.Sprintf("batch: byte %d: statement 0 params: length 900 exceeds the 12 bytes left", len(sent()))},
		{"count too long", []byte{1, 10, 1, 1, 1}, "batch: byte 1: opened count: length 10 exceeds the 3 bytes left"},
		{"ends too long", []byte{1, 0, 2, 0, 0, 0, 0, 0}, "batch: byte 2: ended count: 2 items of at least 3 bytes exceed the 5 bytes left"},
		{"truncated varint", []byte{1, 0x80}, "batch: byte 1: opened count: truncated varint"},
		{"varint overflow", []byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "batch: byte 1: opened count: varint overflows 64 bits"},
		{"presence", []byte{1, 0, 0, 1, 2, 0, 0}, "batch: byte 4: statement 0 presence: flag byte 2, want 0 or 1"},
		{"time flag", badFlag, "batch: byte 8: event 0 time: flag byte 7, want 0 or 1"},
		{"NULL flag", sent(2, 9), fmt.Sprintf("batch: byte %d: statement 0 param 0 presence: flag byte 9, want 0 or 1", len(sent())+1)},
		{"masking order", unordered, fmt.Sprintf("batch: byte %d: finished statement 0 masking 1 key: \"a\" not after \"b\"", i+3)},
		{"zero instant", zeroInstant, "batch: byte 5: session end 0 at: non-zero time at the zero time's instant"},
		{"trailing", append(full, 1, 2, 3), fmt.Sprintf("batch: byte %d: 3 trailing bytes after the events", len(full))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := DecodeBatch(tc.in)
			if err == nil || err.Error() != tc.want {
				t.Errorf("DecodeBatch(%x):\n got %+v, %v\nwant error %s", tc.in, b, err, tc.want)
			}
		})
	}
}

func TestCodecMaskingOrder(t *testing.T) {
	m := map[string]int{}
	for i := range 40 { // more keys than sort on the stack
		m[fmt.Sprintf("detector-%02d", 39-i)] = i
	}
	b := &Batch{Finished: []*Statement{{Masking: m}}}
	first := AppendBatch(nil, b)
	for range 20 {
		if again := AppendBatch(nil, b); !bytes.Equal(first, again) {
			t.Fatal("encodings of one batch differ")
		}
	}
	codecRoundTrip(t, b)
}

func TestCodecAppendBatchAllocs(t *testing.T) {
	b := codecHotBatch()
	b.Finished = []*Statement{{Masking: map[string]int{"email": 1, "column:customers.ssn": 2}}}
	buf := AppendBatch(nil, b)
	if n := testing.AllocsPerRun(100, func() { buf = AppendBatch(buf[:0], b) }); n > 1 {
		t.Errorf("AppendBatch into a reused buffer: %v allocations, want at most 1", n)
	}
}

func FuzzDecodeBatch(f *testing.F) {
	for _, b := range []*Batch{{}, codecHotBatch(), codecFullBatch()} {
		enc := AppendBatch(nil, b)
		f.Add(enc)
		f.Add(enc[:len(enc)/2])
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		b, err := DecodeBatch(p)
		if err != nil {
			if b != nil {
				t.Fatalf("DecodeBatch returned a batch with error %v", err)
			}
			return
		}
		enc := AppendBatch(nil, b)
		got, err := DecodeBatch(enc)
		if err != nil {
			t.Fatalf("re-encoding of a decoded batch does not decode: %v\n%x", err, enc)
		}
		if diff := cmp.Diff(b, got); diff != "" {
			t.Fatalf("re-decoded batch differs (-first +second):\n%s", diff)
		}
		if again := AppendBatch(nil, got); !bytes.Equal(enc, again) {
			t.Fatalf("encoding is not stable:\n%x\n%x", enc, again)
		}
	})
}

func BenchmarkAppendBatch(b *testing.B) {
	batch := codecHotBatch()
	buf := AppendBatch(nil, batch)
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendBatch(buf[:0], batch)
	}
}

func BenchmarkDecodeBatch(b *testing.B) {
	enc := AppendBatch(nil, codecHotBatch())
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBatch(enc); err != nil {
			b.Fatal(err)
		}
	}
}
