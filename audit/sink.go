package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// The sink types.
const (
	SinkFile    = "file"    // JSON lines appended to Path
	SinkStdout  = "stdout"  // JSON lines to Config.Stdout
	SinkWebhook = "webhook" // batches POSTed as a JSON array to URL
	SinkSyslog  = "syslog"  // RFC 5424 to Address, or to the local syslog
)

// Defaults for a SinkConfig's zero fields.
const (
	DefaultQueue      = 10000       // events waiting for a sink
	DefaultBatch      = 100         // events per webhook POST
	DefaultFlush      = time.Second // how long a webhook batch waits to fill
	DefaultAttempts   = 5           // tries of a webhook batch or a syslog write
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
	DefaultTimeout    = 10 * time.Second // per webhook request, syslog dial or write
	DefaultFacility   = "auth"
)

// SinkConfig is one audit destination. Zero fields take the defaults above.
type SinkConfig struct {
	Type     string            // "file", "stdout", "webhook" or "syslog"
	Path     string            // file: "/var/lib/hoop/audit.jsonl"
	URL      string            // webhook: "https://siem.example.com/hoop"
	Headers  map[string]string // webhook: {"Authorization": "Bearer …"}
	Batch    int               // webhook: 100 events per POST at most
	Address  string            // syslog: "udp://127.0.0.1:514", "tcp://siem:601"; "" for the local syslog
	Facility string            // syslog: "auth" (4); see Facilities
	Queue    int               // 10000: events held for the sink; more are dropped

	Flush      time.Duration // webhook: 1s: how long a batch waits to fill
	Attempts   int           // 5: tries of a batch before it is dropped (webhook, syslog)
	Backoff    time.Duration // 500ms: the wait before the first retry, doubled each time
	MaxBackoff time.Duration // 30s: the longest wait between tries
	Timeout    time.Duration // 10s: per webhook request, syslog dial or write
}

func (s SinkConfig) withDefaults() SinkConfig {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.Queue, DefaultQueue)
	def(&s.Batch, DefaultBatch)
	def(&s.Attempts, DefaultAttempts)
	defDur(&s.Flush, DefaultFlush)
	defDur(&s.Backoff, DefaultBackoff)
	defDur(&s.MaxBackoff, DefaultMaxBackoff)
	defDur(&s.Timeout, DefaultTimeout)
	if s.Facility == "" {
		s.Facility = DefaultFacility
	}
	return s
}

// name is how logs and the Sent and Dropped maps call the sink: "file:/var/lib/hoop/
// audit.jsonl", "webhook:https://siem.example.com/hoop" (no credentials or query),
// "syslog:udp://127.0.0.1:514", "syslog:local", "stdout".
func (s SinkConfig) name() string {
	switch s.Type {
	case SinkFile:
		return "file:" + s.Path
	case SinkWebhook:
		u, err := url.Parse(s.URL)
		if err != nil {
			return "webhook"
		}
		return "webhook:" + (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	case SinkSyslog:
		if s.Address == "" {
			return "syslog:local"
		}
		return "syslog:" + s.Address
	}
	return s.Type
}

// sink delivers batches of events to one destination. A Dispatcher calls it from one
// goroutine.
type sink interface {
	// write delivers batch, retrying as the sink does, and returns how many of its
	// events were delivered (the first n); with an error the others are lost.
	write(ctx context.Context, batch []Event) (n int, err error)
	close() error
}

// newSink makes the sink s describes; stdout is the stdout sink's writer.
func newSink(s SinkConfig, stdout io.Writer) (sink, error) {
	switch s.Type {
	case SinkFile:
		return openFileSink(s.Path)
	case SinkStdout:
		return &writerSink{w: stdout}, nil
	case SinkWebhook:
		return newWebhook(s)
	case SinkSyslog:
		return newSyslog(s)
	case "":
		return nil, errors.New("no sink type (want file, stdout, webhook or syslog)")
	}
	return nil, fmt.Errorf("unknown sink type %q (want file, stdout, webhook or syslog)", s.Type)
}

// appendLines appends batch as JSON lines to b.
func appendLines(b []byte, batch []Event) ([]byte, error) {
	for _, e := range batch {
		n := len(b)
		var err error
		if b, err = e.AppendJSON(b); err != nil {
			return b[:n], fmt.Errorf("event %d: %w", e.Seq, err)
		}
		b = append(b, '\n')
	}
	return b, nil
}

// writerSink writes JSON lines to an io.Writer: the stdout sink.
type writerSink struct {
	w   io.Writer
	buf []byte
}

func (s *writerSink) write(_ context.Context, batch []Event) (int, error) {
	var err error
	s.buf, err = appendLines(s.buf[:0], batch)
	if err != nil {
		return 0, err
	}
	_, err = s.w.Write(s.buf)
	s.buf = trimBuf(s.buf)
	if err != nil {
		return 0, err
	}
	return len(batch), nil
}

func (s *writerSink) close() error { return nil }

// fileSink appends JSON lines to a file, one write per batch. When the file is moved
// away (log rotation), it makes a new one at the path.
type fileSink struct {
	path       string
	f          *os.File
	buf        []byte
	checkEvery time.Duration // how often, at most, write looks for a rotation: 1s
	checked    time.Time
}

func openFileSink(path string) (*fileSink, error) {
	if path == "" {
		return nil, errors.New("file sink: no path")
	}
	s := &fileSink{path: path, checkEvery: time.Second}
	if err := s.open(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *fileSink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	s.f = f
	s.checked = time.Now()
	return nil
}

// rotated reports whether the path no longer names the open file.
func (s *fileSink) rotated() bool {
	s.checked = time.Now()
	at, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	open, oerr := s.f.Stat()
	return err == nil && oerr == nil && !os.SameFile(at, open)
}

func (s *fileSink) write(_ context.Context, batch []Event) (int, error) {
	if s.f == nil || time.Since(s.checked) >= s.checkEvery && s.rotated() {
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
		if err := s.open(); err != nil {
			return 0, err
		}
	}
	var err error
	s.buf, err = appendLines(s.buf[:0], batch)
	if err != nil {
		return 0, err
	}
	_, err = s.f.Write(s.buf)
	s.buf = trimBuf(s.buf)
	if err != nil {
		return 0, err
	}
	return len(batch), nil
}

func (s *fileSink) close() error {
	if s.f == nil {
		return nil
	}
	err := s.f.Sync()
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// trimBuf drops a buffer that grew for one large batch, so that it is not kept.
func trimBuf(b []byte) []byte {
	if cap(b) > 4<<20 {
		return nil
	}
	return b
}
