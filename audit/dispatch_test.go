package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer a sink goroutine writes while the test reads.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// quietLog is a logger tests give a Dispatcher, whose lines they can read.
func quietLog() (*slog.Logger, *lockedBuffer) {
	var buf lockedBuffer
	return slog.New(slog.NewTextHandler(&buf, nil)), &buf
}

func closeWithin(t *testing.T, d *Dispatcher, timeout time.Duration) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.Close(ctx)
}

// readLines returns the events of a JSON lines file.
func readLines(t *testing.T, path string) []Event {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []Event
	next := DecodeLines(f)
	for {
		e, ok, err := next()
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if !ok {
			return out
		}
		out = append(out, e)
	}
}

func TestDispatcherFileAndStdout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "audit.jsonl")
	var stdout lockedBuffer
	log, _ := quietLog()
	d, err := NewDispatcher(&Config{
		Sinks:  []SinkConfig{{Type: SinkFile, Path: path}, {Type: SinkStdout}},
		Stdout: &stdout,
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	events := sealed(t, 500)
	for _, e := range events {
		d.Publish(e)
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatalf("Close: %v", err)
	}
	d.Publish(events[0]) // after Close: dropped, not a panic

	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file sink: %v, mode %v; want 0600", err, fi.Mode())
	}
	got := readLines(t, path)
	if len(got) != 500 {
		t.Fatalf("file sink: got %d events, want 500", len(got))
	}
	// The copy is a chain that verifies on its own.
	if r, err := Verify(testKey, Events(got)); err != nil || !r.OK || r.Checked != 500 {
		t.Errorf("Verify(file sink): got %+v, %v", r, err)
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != 500 || !strings.HasPrefix(lines[0], `{"seq":1,"time":"2025-05-01T08:00:00.123456Z","kind":"login"`) {
		t.Errorf("stdout sink: got %d lines, first %.80s", len(lines), lines[0])
	}
	wantSent := map[string]uint64{"file:" + path: 500, "stdout": 500}
	wantDropped := map[string]uint64{"file:" + path: 1, "stdout": 1}
	if got := d.Sent(); !mapsEqual(got, wantSent) {
		t.Errorf("Sent: got %v, want %v", got, wantSent)
	}
	if got := d.Dropped(); !mapsEqual(got, wantDropped) {
		t.Errorf("Dropped: got %v, want %v (the event published after Close)", got, wantDropped)
	}
}

func mapsEqual(a, b map[string]uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestDispatcherDeadWebhook: a webhook that never answers blocks neither Publish nor the
// file sink. Publish drops what the webhook's queue can't hold, counts it, and logs it
// once; the file sink gets every event.
func TestDispatcherDeadWebhook(t *testing.T) {
	const n = 100_000
	release := make(chan struct{})
	var requests atomic.Int32
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
		select { // hang until the client gives up or the test ends
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)

	path := filepath.Join(t.TempDir(), "audit.jsonl")
	log, logs := quietLog()
	d, err := NewDispatcher(&Config{
		Sinks: []SinkConfig{
			{Type: SinkWebhook, URL: srv.URL + "/hook", Queue: 1000, Batch: 10, Timeout: time.Hour},
			{Type: SinkFile, Path: path, Queue: n},
		},
		Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	e := Event{Kind: KindStatement, Actor: "ana@example.com", Data: map[string]any{"decision": "allow"}}
	e.Time = start.UTC()
	for i := range n {
		e.Seq = int64(i + 1)
		d.Publish(e)
	}
	<-arrived // the webhook is stuck in a request now
	hook := "webhook:" + srv.URL + "/hook"
	if dropped := d.Dropped()[hook]; dropped < n-1000-10 {
		t.Errorf("webhook dropped %d before Close, want at least %d (its queue holds 1000)", dropped, n-1000-10)
	}
	err = closeWithin(t, d, 200*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: got %v, want the deadline error (the webhook never answered)", err)
	}
	sent, dropped := d.Sent(), d.Dropped()
	file := "file:" + path
	if sent[file] != n || dropped[file] != 0 {
		t.Errorf("file sink: sent %d, dropped %d; want %d, 0", sent[file], dropped[file], n)
	}
	if sent[hook] != 0 || dropped[hook] != n {
		t.Errorf("webhook: sent %d, dropped %d; want 0, %d", sent[hook], dropped[hook], n)
	}
	if got := len(readLines(t, path)); got != n {
		t.Errorf("file sink: got %d lines, want %d", got, n)
	}
	// One line per 10 s at most, and at least one.
	if c, most := strings.Count(logs.String(), `why="queue full"`), 1+int(time.Since(start)/logEvery); c < 1 || c > most {
		t.Errorf("log: got %d queue-full lines, want 1 to %d:\n%s", c, most, logs)
	}
}

func TestNewDispatcherErrors(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		sink SinkConfig
		want string
	}{
		{"file under a file", SinkConfig{Type: SinkFile, Path: filepath.Join(blocker, "audit.jsonl")}, "audit sink file:" + blocker + "/audit.jsonl: "},
		{"no type", SinkConfig{}, "no sink type"},
		{"unknown type", SinkConfig{Type: "kafka"}, `unknown sink type "kafka"`},
		{"webhook URL", SinkConfig{Type: SinkWebhook, URL: "siem"}, "want an http or https URL"},
		{"webhook header", SinkConfig{Type: SinkWebhook, URL: "https://siem", Headers: map[string]string{"X-A": "a\r\nX-B: b"}}, `bad header "X-A"`},
		{"facility", SinkConfig{Type: SinkSyslog, Address: "udp://127.0.0.1:514", Facility: "auht"}, `unknown facility "auht"`},
		{"syslog scheme", SinkConfig{Type: SinkSyslog, Address: "http://127.0.0.1:514"}, "want udp://host:port or tcp://host:port"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkStdout}, tt.sink}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	// A nil Dispatcher and a nil config do nothing.
	var nilD *Dispatcher
	nilD.Publish(Event{})
	if err := nilD.Close(context.Background()); err != nil || len(nilD.Sent()) != 0 {
		t.Errorf("nil Dispatcher: %v", err)
	}
	d, err := NewDispatcher(nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Publish(Event{Kind: KindLogin})
	if err := d.Close(context.Background()); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// TestFileSinkRotation: when the file is moved away (logrotate), the sink makes a new
// one at the path.
func TestFileSinkRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	s, err := openFileSink(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	s.checkEvery = 0
	events := sealed(t, 4)
	if _, err := s.write(context.Background(), events[:2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.write(context.Background(), events[2:]); err != nil {
		t.Fatal(err)
	}
	if old, now := readLines(t, path+".1"), readLines(t, path); len(old) != 2 || len(now) != 2 || now[0].Seq != 3 {
		t.Errorf("after rotation: old file %d events, new file %d; want 2 and 2 (from 3)", len(old), len(now))
	}
}

// TestSinkNames: names say where events go without the credentials of a URL.
func TestSinkNames(t *testing.T) {
	for _, tt := range []struct {
		sink SinkConfig
		want string
	}{
		{SinkConfig{Type: SinkWebhook, URL: "https://user:pw@siem.example.com/hoop?token=s3cret"}, "webhook:https://siem.example.com/hoop"},
		{SinkConfig{Type: SinkSyslog}, "syslog:local"},
		{SinkConfig{Type: SinkSyslog, Address: "tcp://siem:514"}, "syslog:tcp://siem:514"},
		{SinkConfig{Type: SinkFile, Path: "/var/lib/hoop/audit.jsonl"}, "file:/var/lib/hoop/audit.jsonl"},
		{SinkConfig{Type: SinkStdout}, "stdout"},
	} {
		if got := tt.sink.name(); got != tt.want {
			t.Errorf("name(%+v): got %q, want %q", tt.sink, got, tt.want)
		}
	}
	var out lockedBuffer
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkStdout}, {Type: SinkStdout}}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	if got := d.Sent(); len(got) != 2 || got["stdout"] != 0 || got["stdout#2"] != 0 {
		t.Errorf("two stdout sinks: got %v, want stdout and stdout#2", got)
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestDispatcherWriteError(t *testing.T) {
	log, logs := quietLog()
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkStdout}}, Stdout: errWriter{}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range sealed(t, 30) {
		d.Publish(e)
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := d.Dropped()["stdout"]; got != 30 {
		t.Errorf("Dropped: got %d, want 30", got)
	}
	if !strings.Contains(logs.String(), `why="delivery failed"`) || !strings.Contains(logs.String(), "io: read/write on closed pipe") {
		t.Errorf("log: want a delivery failure with its error, got:\n%s", logs)
	}
}

// decodeArray decodes a webhook body.
func decodeArray(t *testing.T, r io.Reader) []Event {
	t.Helper()
	var out []Event
	if err := json.NewDecoder(bufio.NewReader(r)).Decode(&out); err != nil {
		t.Errorf("webhook body: %v", err)
	}
	return out
}

// TestDispatcherConcurrentClose: Publish from many goroutines while Close runs neither
// panics nor loses count: each event is sent or dropped.
func TestDispatcherConcurrentClose(t *testing.T) {
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkStdout, Queue: 100}}, Stdout: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 8, 2000
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for i := range each {
				d.Publish(Event{Seq: int64(i + 1), Kind: KindStatement})
			}
		})
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Error(err)
	}
	wg.Wait()
	if s, dr := d.Sent()["stdout"], d.Dropped()["stdout"]; s+dr != goroutines*each {
		t.Errorf("sent %d + dropped %d = %d, want %d", s, dr, s+dr, goroutines*each)
	}
}
