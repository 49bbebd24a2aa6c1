package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// facilities are the syslog facility names, by code (RFC 5424 section 6.2.1, with the
// names syslog(3) gives them).
var facilities = []string{
	"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "security", "console", "clock",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
}

// Facilities returns the syslog facility names a sink accepts, in code order: "kern"
// is 0, "auth" 4, "local0" 16.
func Facilities() []string { return append([]string(nil), facilities...) }

// Syslog severities the sinks use: notice for events, alert for alerts.
const (
	severityAlert  = 1
	severityNotice = 5
)

// localSyslog are where the local syslog daemon listens, tried in order: Linux, macOS,
// the BSDs. Tests change it.
var localSyslog = []string{"/dev/log", "/var/run/syslog", "/var/run/log"}

// maxDatagram is the largest message sent in one datagram; a longer one is replaced by
// a stub that names the event (see stub).
const maxDatagram = 65000

// syslogSink writes RFC 5424 messages, one per event:
//
//	<PRI>1 TIMESTAMP HOSTNAME hoopd PROCID MSGID - JSON
//	<37>1 2025-05-01T10:00:00.123456Z gw1 hoopd 4242 statement - {"seq":42,…}
//
// PRI is facility×8 + severity (notice; alert for an alert event), MSGID the event's
// kind. Over TCP each message is framed by octet counting (RFC 6587: "LEN SP MSG"); over
// UDP and a local datagram socket it is one datagram; over a local stream socket it
// ends with a newline. The JSON has no byte-order mark, so that collectors can parse it
// as it is.
//
// On a write error the connection is dropped and made again with backoff, and the batch
// goes on from the first message not written. TCP gives no acknowledgement: messages
// written just before the peer went away can be lost without an error.
type syslogSink struct {
	cfg      SinkConfig
	network  string // "tcp", "udp", "unixgram", "unix"
	addr     string // "127.0.0.1:514", "/dev/log"
	stream   bool   // tcp and unix: more than one message per write
	facility int
	hostname string
	pid      int
	conn     net.Conn
	buf      []byte
	ends     []int
}

func newSyslog(s SinkConfig) (*syslogSink, error) {
	fac := -1
	for i, name := range facilities {
		if name == s.Facility {
			fac = i
		}
	}
	if fac < 0 {
		return nil, fmt.Errorf("syslog sink: unknown facility %q (want one of %s)", s.Facility, strings.Join(facilities, ", "))
	}
	host, _ := os.Hostname()
	sk := &syslogSink{cfg: s, facility: fac, hostname: header(host, 255), pid: os.Getpid()}
	if s.Address == "" {
		return sk, sk.dialLocal()
	}
	u, err := url.Parse(s.Address)
	if err != nil {
		return nil, fmt.Errorf("syslog sink: address %q: want udp://host:port or tcp://host:port", s.Address)
	}
	switch u.Scheme {
	case "udp", "tcp":
		if u.Host == "" {
			return nil, fmt.Errorf("syslog sink: address %q: want udp://host:port or tcp://host:port", s.Address)
		}
		sk.network, sk.addr, sk.stream = u.Scheme, u.Host, u.Scheme == "tcp"
		if u.Port() == "" {
			sk.addr = net.JoinHostPort(u.Hostname(), "514")
		}
		// Dialled at the first write: a collector that is down when the gateway starts
		// is retried like one that goes down later.
		return sk, nil
	case "unix", "unixgram": // "unixgram:///run/systemd/journal/syslog"
		sk.network, sk.addr, sk.stream = u.Scheme, u.Path, u.Scheme == "unix"
		return sk, sk.dial(context.Background())
	}
	return nil, fmt.Errorf("syslog sink: address %q: want udp://host:port or tcp://host:port", s.Address)
}

// dialLocal connects to the local syslog daemon: a datagram socket, or a stream one.
func (s *syslogSink) dialLocal() error {
	for _, path := range localSyslog {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		var errs []error
		for _, network := range []string{"unixgram", "unix"} {
			s.network, s.addr, s.stream = network, path, network == "unix"
			err := s.dial(context.Background())
			if err == nil {
				return nil
			}
			errs = append(errs, err)
		}
		return fmt.Errorf("syslog sink: local syslog %s: %w", path, errors.Join(errs...))
	}
	return fmt.Errorf("syslog sink: no local syslog: %s does not exist (is a syslog daemon running?); "+
		"set the sink's address to udp://HOST:514 or tcp://HOST:514 to send elsewhere", localSyslog[0])
}

func (s *syslogSink) dial(ctx context.Context) error {
	d := net.Dialer{Timeout: s.cfg.Timeout}
	c, err := d.DialContext(ctx, s.network, s.addr)
	if err != nil {
		return err
	}
	s.conn = c
	return nil
}

// header returns s for a header field of at most n bytes: printable US-ASCII, other
// characters as '_'; "-" (the nil value) when empty.
func header(s string, n int) string {
	b := make([]byte, 0, min(len(s), n))
	for _, r := range s {
		if len(b) == n {
			break
		}
		if r < 33 || r > 126 {
			r = '_'
		}
		b = append(b, byte(r))
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// appendMessage appends e's message, framed for the transport, to b.
func (s *syslogSink) appendMessage(b []byte, e Event) ([]byte, error) {
	js, err := json.Marshal(e)
	if err != nil {
		return b, fmt.Errorf("event %d: %w", e.Seq, err)
	}
	sev := severityNotice
	if e.Kind == KindAlert {
		sev = severityAlert
	}
	ts := "-"
	if !e.Time.IsZero() {
		ts = e.Time.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	msg := fmt.Appendf(nil, "<%d>1 %s %s hoopd %d %s - ", s.facility*8+sev, ts, s.hostname, s.pid, header(e.Kind, 32))
	if !s.stream && len(msg)+len(js) > maxDatagram {
		js = stub(e)
	}
	msg = append(msg, js...)
	switch {
	case s.network == "tcp":
		b = strconv.AppendInt(b, int64(len(msg)), 10)
		b = append(b, ' ')
		b = append(b, msg...)
	case s.stream:
		b = append(b, msg...)
		b = append(b, '\n')
	default:
		b = append(b, msg...)
	}
	return b, nil
}

// stub is the JSON sent instead of an event too long for a datagram: enough to find
// it in the store.
func stub(e Event) []byte {
	b, _ := json.Marshal(map[string]any{
		"seq": e.Seq, "time": e.Time, "kind": e.Kind, "actor": e.Actor, "connection": e.Connection,
		"session": e.Session, "hash": fmt.Sprintf("%x", e.Hash), "truncated": true,
	})
	return b
}

func (s *syslogSink) write(ctx context.Context, batch []Event) (int, error) {
	s.buf, s.ends = s.buf[:0], s.ends[:0]
	for _, e := range batch {
		var err error
		if s.buf, err = s.appendMessage(s.buf, e); err != nil {
			return 0, err
		}
		s.ends = append(s.ends, len(s.buf))
	}
	defer func() { s.buf = trimBuf(s.buf) }()

	sent := 0 // messages written
	backoff := s.cfg.Backoff
	for attempt := 1; ; attempt++ {
		err := s.send(ctx, &sent)
		if err == nil {
			return sent, nil
		}
		if s.conn != nil {
			s.conn.Close()
			s.conn = nil
		}
		if attempt >= s.cfg.Attempts || ctx.Err() != nil {
			return sent, fmt.Errorf("syslog %s %s: %w (after %d tries)", s.network, s.addr, err, attempt)
		}
		if err := sleep(ctx, backoff/2+rand.N(backoff/2+1)); err != nil {
			return sent, fmt.Errorf("syslog %s %s: %w (after %d tries)", s.network, s.addr, err, attempt)
		}
		backoff = min(2*backoff, s.cfg.MaxBackoff)
	}
}

// send writes the messages from *sent on, dialling first when there is no connection,
// and advances *sent past each message written whole.
func (s *syslogSink) send(ctx context.Context, sent *int) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	// A write that blocks (a collector that stopped reading) ends at the timeout, or
	// when ctx does.
	c := s.conn
	stop := context.AfterFunc(ctx, func() { c.SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	c.SetWriteDeadline(time.Now().Add(s.cfg.Timeout))
	start := 0
	if *sent > 0 {
		start = s.ends[*sent-1]
	}
	if s.stream {
		n, err := c.Write(s.buf[start:])
		for *sent < len(s.ends) && s.ends[*sent] <= start+n {
			*sent++
		}
		return err
	}
	for *sent < len(s.ends) {
		if _, err := c.Write(s.buf[start:s.ends[*sent]]); err != nil {
			return err
		}
		start = s.ends[*sent]
		*sent++
	}
	return nil
}

func (s *syslogSink) close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
