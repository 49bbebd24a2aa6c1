package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// syslogLine is an RFC 5424 message as the sinks write it.
var syslogLine = regexp.MustCompile(`^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) hoopd (\d+) (\S+) - (\{.*\})$`)

// parseSyslog checks msg's header and returns its PRI, MSGID and event.
func parseSyslog(t *testing.T, msg string) (pri int, msgid string, e Event) {
	t.Helper()
	m := syslogLine.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 5424 message as the sink writes them: %q", msg)
	}
	pri, _ = strconv.Atoi(m[1])
	if m[4] != strconv.Itoa(os.Getpid()) {
		t.Errorf("PROCID: got %s, want %d", m[4], os.Getpid())
	}
	if err := json.Unmarshal([]byte(m[6]), &e); err != nil {
		t.Fatalf("MSG: %v", err)
	}
	if ts := e.Time.Format("2006-01-02T15:04:05.000000Z"); ts != m[2] {
		t.Errorf("TIMESTAMP: got %s, want the event's %s", m[2], ts)
	}
	return pri, m[5], e
}

// readFrame reads one octet-counted frame (RFC 6587): "LEN SP MSG".
func readFrame(r *bufio.Reader) (string, error) {
	n, err := r.ReadString(' ')
	if err != nil {
		return "", err
	}
	size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
	if err != nil {
		return "", fmt.Errorf("frame length %q: %v", n, err)
	}
	b := make([]byte, size)
	_, err = io.ReadFull(r, b)
	return string(b), err
}

func syslogEvents(t *testing.T) []Event {
	events := sealed(t, 3)
	alert := Event{Seq: 4, Kind: KindAlert, Time: events[2].Time, Data: map[string]any{"rule": "denials"}}
	return append(events, alert)
}

func TestSyslogTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 100)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		r := bufio.NewReader(c)
		for {
			msg, err := readFrame(r)
			if err != nil {
				return
			}
			got <- msg
		}
	}()
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog, Address: "tcp://" + ln.Addr().String(), Facility: "local0"}}})
	if err != nil {
		t.Fatal(err)
	}
	events := syslogEvents(t)
	for _, e := range events {
		d.Publish(e)
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	// local0 is 16: 16×8 + notice (5), and + alert (1) for the alert.
	wantPRI := []int{133, 133, 133, 129}
	wantID := []string{"login", "tunnel.open", "session.start", "alert"}
	for i := range events {
		msg := <-got
		pri, msgid, e := parseSyslog(t, msg)
		if pri != wantPRI[i] || msgid != wantID[i] || e.Seq != events[i].Seq {
			t.Errorf("message %d: PRI %d, MSGID %s, seq %d; want %d, %s, %d", i, pri, msgid, e.Seq, wantPRI[i], wantID[i], events[i].Seq)
		}
	}
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog, Address: "udp://" + pc.LocalAddr().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	events := syslogEvents(t)
	huge := Event{Seq: 5, Kind: KindStatement, Time: events[0].Time, Hash: []byte{1, 2},
		Data: map[string]any{"sql": strings.Repeat("x", 70_000)}}
	for _, e := range append(events, huge) {
		d.Publish(e)
	}
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 70_000)
	wantPRI := []int{37, 37, 37, 33} // auth (4): 4×8 + notice (5), alert (1)
	for i := range events {
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		pri, _, e := parseSyslog(t, string(buf[:n])) // one message per datagram, no framing
		if pri != wantPRI[i] || e.Seq != events[i].Seq {
			t.Errorf("datagram %d: PRI %d, seq %d; want %d, %d", i, pri, e.Seq, wantPRI[i], events[i].Seq)
		}
	}
	// An event too long for a datagram comes as a stub that names it.
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if msg := string(buf[:n]); n > maxDatagram || !strings.Contains(msg, `"seq":5`) || !strings.Contains(msg, `"truncated":true`) || !strings.Contains(msg, `"hash":"0102"`) {
		t.Errorf("long event: got %d bytes %.200q, want a stub with its seq and hash", n, msg)
	}
	if s := d.Sent()["syslog:udp://"+pc.LocalAddr().String()]; s != 5 {
		t.Errorf("sent: got %d, want 5", s)
	}
}

// TestSyslogTCPReconnect: when the collector drops the connection, the sink dials again
// and goes on.
func TestSyslogTCPReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	type frame struct {
		conn int
		msg  string
	}
	got := make(chan frame, 1000)
	go func() {
		for i := 1; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					msg, err := readFrame(r)
					if err != nil {
						return
					}
					got <- frame{i, msg}
					if i == 1 {
						return // the first connection is dropped after one message
					}
				}
			}()
		}
	}()
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog, Address: "tcp://" + ln.Addr().String(),
		Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Attempts: 100}}})
	if err != nil {
		t.Fatal(err)
	}
	defer closeWithin(t, d, 10*time.Second)
	e := Event{Kind: KindStatement, Time: time.Now().UTC()}
	d.Publish(e)
	if f := <-got; f.conn != 1 {
		t.Fatalf("first message on connection %d", f.conn)
	}
	// Messages written just as the peer goes away can be lost (TCP has no
	// acknowledgement), so publish until one arrives on a new connection.
	deadline := time.After(20 * time.Second)
	for seq := int64(2); ; seq++ {
		e.Seq = seq
		d.Publish(e)
		select {
		case f := <-got:
			if f.conn != 2 {
				t.Fatalf("message on connection %d, want 2", f.conn)
			}
			if _, _, ev := parseSyslog(t, f.msg); ev.Seq < 2 {
				t.Errorf("message on connection 2: seq %d", ev.Seq)
			}
			return
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatal("no message on a new connection")
		}
	}
}

// TestSyslogTCPDownAtStart: a collector that is not up yet does not stop the gateway;
// the sink dials again with backoff until it is.
func TestSyslogTCPDownAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog, Address: "tcp://" + addr,
		Backoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, Attempts: 1000}}})
	if err != nil {
		t.Fatalf("NewDispatcher with the collector down: %v", err)
	}
	defer closeWithin(t, d, 10*time.Second)
	d.Publish(Event{Seq: 1, Kind: KindLogin, Time: time.Now().UTC()})
	time.Sleep(30 * time.Millisecond) // let it fail a few times; not needed for the test to pass
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken in between: %v", addr, err)
	}
	defer ln.Close()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	msg, err := readFrame(bufio.NewReader(c))
	if err != nil {
		t.Fatal(err)
	}
	if _, msgid, _ := parseSyslog(t, msg); msgid != "login" {
		t.Errorf("MSGID: got %s, want login", msgid)
	}
}

// TestSyslogLocal: with no address, messages go to the local syslog socket; without
// one, the sink does not start, and says why.
func TestSyslogLocal(t *testing.T) {
	saved := localSyslog
	t.Cleanup(func() { localSyslog = saved })
	dir, err := os.MkdirTemp("", "log") // short: a socket path has a length limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })

	localSyslog = []string{filepath.Join(dir, "missing")}
	_, err = NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog}}})
	want := "audit sink syslog:local: syslog sink: no local syslog: " + localSyslog[0] + " does not exist (is a syslog daemon running?)"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("no local syslog:\ngot  %v\nwant %s…", err, want)
	}

	path := filepath.Join(dir, "log")
	pc, err := net.ListenPacket("unixgram", path)
	if err != nil {
		t.Skipf("no unix datagram sockets here: %v", err)
	}
	defer pc.Close()
	localSyslog = []string{filepath.Join(dir, "missing"), path}
	d, err := NewDispatcher(&Config{Sinks: []SinkConfig{{Type: SinkSyslog, Facility: "authpriv"}}})
	if err != nil {
		t.Fatal(err)
	}
	d.Publish(syslogEvents(t)[0])
	if err := closeWithin(t, d, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 65536)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	if pri, msgid, _ := parseSyslog(t, string(buf[:n])); pri != 10*8+5 || msgid != "login" {
		t.Errorf("got PRI %d, MSGID %s; want 85 (authpriv, notice), login", pri, msgid)
	}
}

func TestSyslogHeader(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"review.approve", 32, "review.approve"},
		{"", 32, "-"},
		{"two words", 32, "two_words"},
		{"é\x00\x7f", 32, "___"},
		{strings.Repeat("k", 40), 32, strings.Repeat("k", 32)},
	} {
		if got := header(tt.in, tt.n); got != tt.want {
			t.Errorf("header(%q, %d): got %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
	if got := Facilities(); len(got) != 24 || got[4] != "auth" || got[16] != "local0" {
		t.Errorf("Facilities: got %v, want auth at 4 and local0 at 16", got)
	}
}
