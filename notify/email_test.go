package notify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"github.com/google/go-cmp/cmp"
)

// mailServer is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 that keeps
// what it is told.
type mailServer struct {
	addr string

	mu       sync.Mutex
	sessions int      // connections that said EHLO
	from     []string // every MAIL FROM
	rcpt     []string // every RCPT TO accepted
	data     []string // every message accepted
	auth     []string // "username:password" of every AUTH PLAIN
	tlsMail  []bool   // for each MAIL FROM: was the connection TLS
	refuse   map[string]*gosmtp.SMTPError
	dataErrs []*gosmtp.SMTPError // the answers to the next DATA commands, then 250
}

type mailOptions struct {
	tls    *tls.Config // offer STARTTLS with it
	auth   bool        // offer AUTH PLAIN (over TLS, or in the clear when insecure)
	insec  bool        // allow AUTH without TLS
	refuse map[string]*gosmtp.SMTPError
	data   []*gosmtp.SMTPError
}

func newMailServer(t *testing.T, o mailOptions) *mailServer {
	t.Helper()
	m := &mailServer{refuse: o.refuse, dataErrs: o.data}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(c *gosmtp.Conn) (gosmtp.Session, error) {
		m.mu.Lock()
		m.sessions++
		m.mu.Unlock()
		s := &mailSession{m: m, c: c}
		if o.auth {
			return &authSession{s}, nil
		}
		return s, nil
	}))
	srv.Domain = "localhost"
	srv.TLSConfig = o.tls
	srv.AllowInsecureAuth = o.insec
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	m.addr = l.Addr().String()
	return m
}

// snapshot returns a copy of what the server was told.
func (m *mailServer) snapshot() mailServer {
	m.mu.Lock()
	defer m.mu.Unlock()
	return mailServer{sessions: m.sessions, from: slices.Clone(m.from), rcpt: slices.Clone(m.rcpt),
		data: slices.Clone(m.data), auth: slices.Clone(m.auth), tlsMail: slices.Clone(m.tlsMail)}
}

type mailSession struct {
	m *mailServer
	c *gosmtp.Conn
}

func (s *mailSession) Mail(from string, _ *gosmtp.MailOptions) error {
	_, isTLS := s.c.TLSConnectionState()
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.from = append(s.m.from, from)
	s.m.tlsMail = append(s.m.tlsMail, isTLS)
	return nil
}

func (s *mailSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err, ok := s.m.refuse[to]; ok {
		return err
	}
	s.m.rcpt = append(s.m.rcpt, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if len(s.m.dataErrs) > 0 {
		err := s.m.dataErrs[0]
		s.m.dataErrs = s.m.dataErrs[1:]
		if err != nil {
			return err
		}
	}
	s.m.data = append(s.m.data, string(b))
	return nil
}

func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }

// authSession offers AUTH PLAIN and records the credentials.
type authSession struct{ *mailSession }

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		s.m.mu.Lock()
		defer s.m.mu.Unlock()
		s.m.auth = append(s.m.auth, username+":"+password)
		if password != "s3cret" {
			return gosmtp.ErrAuthFailed // 535, as real servers answer
		}
		return nil
	}), nil
}

// selfSigned returns a server certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// sendMail gives one review to an email target of cfg, and closes it.
func sendMail(t *testing.T, cfg Config, r ...func(*Config)) (*Notifier, string) {
	t.Helper()
	cfg.Type = TypeEmail
	cfg.Backoff, cfg.MaxBackoff = time.Millisecond, 5*time.Millisecond
	for _, f := range r {
		f(&cfg)
	}
	lg, logs := testLog()
	n, err := New([]Config{cfg}, lg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n, logs.String()
}

// readMail parses a message as the server got it, its body decoded.
func readMail(t *testing.T, data string) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("mail.ReadMessage: %v\n%s", err, data)
	}
	if cte := msg.Header.Get("Content-Transfer-Encoding"); cte != "quoted-printable" {
		t.Fatalf("Content-Transfer-Encoding %q, want quoted-printable", cte)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("quoted-printable body: %v", err)
	}
	return msg, string(body)
}

func subjectOf(t *testing.T, msg *mail.Message) string {
	t.Helper()
	s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("Subject %q: %v", msg.Header.Get("Subject"), err)
	}
	return s
}

var messageIDRE = regexp.MustCompile(`^<r-17\.[0-9a-f]{16}@example\.com>$`)

// TestEmail: a server without STARTTLS (allowed by the default, starttls when offered)
// gets MAIL FROM, a RCPT TO for each recipient, and a message whose headers, subject and
// body say who asks what, where, by which rule, with the review's URL.
func TestEmail(t *testing.T) {
	srv := newMailServer(t, mailOptions{})
	n, _ := sendMail(t, Config{Address: srv.addr, From: "Hoop <hoop@example.com>",
		To: []string{"dba-oncall@example.com", "lead@example.com"}})
	n.Review(t.Context(), statementReview())
	n.Review(t.Context(), accessReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := srv.snapshot()
	if sent := n.Sent()["email:"+srv.addr]; sent != 2 || len(got.data) != 2 {
		t.Fatalf("sent %d, server got %d messages; want 2, 2", sent, len(got.data))
	}
	if want := []string{"hoop@example.com", "hoop@example.com"}; !slices.Equal(got.from, want) {
		t.Errorf("MAIL FROM: got %q, want %q", got.from, want)
	}
	if want := []string{"dba-oncall@example.com", "lead@example.com", "dba-oncall@example.com", "lead@example.com"}; !slices.Equal(got.rcpt, want) {
		t.Errorf("RCPT TO: got %q, want %q", got.rcpt, want)
	}

	msg, body := readMail(t, got.data[0])
	for k, want := range map[string]string{
		"From":           `"Hoop" <hoop@example.com>`,
		"To":             "<dba-oncall@example.com>, <lead@example.com>",
		"Content-Type":   "text/plain; charset=utf-8",
		"MIME-Version":   "1.0",
		"Auto-Submitted": "auto-generated",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("%s: got %q, want %q", k, got, want)
		}
	}
	if got, want := subjectOf(t, msg), "hoop: review r-17 — alice@example.com wants to run a write on db-prod"; got != want {
		t.Errorf("Subject: got %q, want %q", got, want)
	}
	if id := msg.Header.Get("Message-ID"); !messageIDRE.MatchString(id) {
		t.Errorf("Message-ID: got %q, want %s", id, messageIDRE)
	}
	if d, err := msg.Header.Date(); err != nil || time.Since(d) > time.Hour {
		t.Errorf("Date: got %v, %v; want about now", d, err)
	}
	wantBody := "alice@example.com wants to run a write on db-prod.\r\n" +
		"\r\n" +
		"    DELETE FROM orders WHERE id = 1\r\n" +
		"\r\n" +
		"Requester:  alice@example.com\r\n" +
		"Groups:     engineering\r\n" +
		"Connection: db-prod\r\n" +
		"Class:      write\r\n" +
		"Rule:       prod-writes\r\n" +
		"Reason:     INC-123\r\n" +
		"Expires:    2026-07-01 10:15 UTC\r\n" +
		"\r\n" +
		"Approve or deny review r-17: https://hoop.example.com/reviews/r-17\r\n" +
		"Or in a terminal: hoop approvals approve r-17\r\n"
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("body (-want +got):\n%s", diff)
	}

	msg, body = readMail(t, got.data[1])
	if got, want := subjectOf(t, msg), "hoop: review r-18 — bob@example.com asks for access to db-prod for 1h"; got != want {
		t.Errorf("access Subject: got %q, want %q", got, want)
	}
	for _, want := range []string{"bob@example.com asks for access to db-prod for 1h: INC-123.\r\n",
		"Duration:   1h\r\n", "Rule:       oncall-jit\r\n", "https://hoop.example.com/reviews/r-18\r\n"} {
		if !strings.Contains(body, want) {
			t.Errorf("access body: want %q in:\n%s", want, body)
		}
	}
}

// TestEmailHeaderInjection: a requester, connection, rule or statement with CR and LF in
// it can't add a header (Bcc), a recipient, or end the message early: the server gets
// exactly the configured recipients and one message with the usual headers only.
func TestEmailHeaderInjection(t *testing.T) {
	srv := newMailServer(t, mailOptions{})
	n, _ := sendMail(t, Config{Address: srv.addr, From: "hoop@example.com", To: []string{"dba-oncall@example.com"}})
	r := statementReview()
	r.Requester = "mallory@example.com\r\nBcc: victim@evil.example"
	r.Connection = "db-prod\nX-Injected: 1"
	r.Rule = "rule\r\n\r\nbody"
	r.ID = "r-17\r\nCc: cc@evil.example"
	r.SQL = "SELECT 1\r\n.\r\nMAIL FROM:<evil@evil.example>\r\nRCPT TO:<victim@evil.example>\r\nDATA\r\n"
	n.Review(t.Context(), r)
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := srv.snapshot()
	if !slices.Equal(got.rcpt, []string{"dba-oncall@example.com"}) || !slices.Equal(got.from, []string{"hoop@example.com"}) || len(got.data) != 1 {
		t.Fatalf("server got MAIL FROM %q, RCPT TO %q, %d messages; want hoop@example.com, dba-oncall@example.com, 1", got.from, got.rcpt, len(got.data))
	}
	msg, body := readMail(t, got.data[0])
	var keys []string
	for k := range msg.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	if !slices.Equal(keys, want) {
		t.Errorf("headers: got %q, want %q", keys, want)
	}
	for _, line := range strings.Split(got.data[0], "\r\n") {
		if l := strings.ToLower(line); strings.HasPrefix(l, "bcc:") || strings.HasPrefix(l, "cc:") || strings.HasPrefix(l, "x-injected:") {
			t.Errorf("the message has an injected line %q:\n%s", line, got.data[0])
		}
	}
	subject := subjectOf(t, msg)
	if strings.ContainsAny(subject, "\r\n") || !strings.Contains(subject, "mallory@example.com Bcc: victim@evil.example wants to run a write on db-prod X-Injected: 1") {
		t.Errorf("Subject: got %q, want the requester's text on one line", subject)
	}
	if !strings.Contains(body, "    SELECT 1 . MAIL FROM:<evil@evil.example> RCPT TO:<victim@evil.example> DATA\r\n") {
		t.Errorf("body: want the statement on one line in:\n%s", body)
	}
	if id := msg.Header.Get("Message-ID"); strings.ContainsAny(id, " \r\n") || !strings.HasPrefix(id, "<r-17Cccc") {
		t.Errorf("Message-ID: got %q, want the review id's safe characters only", id)
	}
}

// TestEmailSTARTTLS: with tls: required, the conversation turns TLS before AUTH PLAIN
// and MAIL FROM, and the server's certificate is verified.
func TestEmailSTARTTLS(t *testing.T) {
	serverTLS, roots := selfSigned(t)
	srv := newMailServer(t, mailOptions{tls: serverTLS, auth: true})
	for _, mode := range []string{TLSRequired, TLSStartTLS, ""} {
		n, logs := sendMail(t, Config{Address: srv.addr, From: "hoop@example.com", To: []string{"dba@example.com"},
			Username: "hoop", Password: "s3cret", TLS: mode, TLSConfig: &tls.Config{RootCAs: roots}})
		n.Review(t.Context(), statementReview())
		if err := closeWithin(t, n, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		if sent := sum(n.Sent()); sent != 1 {
			t.Errorf("tls %q: sent %d, want 1; log:\n%s", mode, sent, logs)
		}
	}
	got := srv.snapshot()
	if want := []string{"hoop:s3cret", "hoop:s3cret", "hoop:s3cret"}; !slices.Equal(got.auth, want) {
		t.Errorf("AUTH: got %q, want %q", got.auth, want)
	}
	if want := []bool{true, true, true}; !slices.Equal(got.tlsMail, want) {
		t.Errorf("MAIL FROM over TLS: got %v, want %v", got.tlsMail, want)
	}
	if len(got.data) != 3 {
		t.Errorf("server got %d messages, want 3", len(got.data))
	}

	// A certificate the client does not trust: nothing is sent, not even the password.
	n, _ := sendMail(t, Config{Address: srv.addr, From: "hoop@example.com", To: []string{"dba@example.com"},
		Username: "hoop", Password: "s3cret", TLS: TLSRequired, Attempts: 1})
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if after := srv.snapshot(); sum(n.Dropped()) != 1 || len(after.auth) != 3 || len(after.from) != 3 {
		t.Errorf("untrusted certificate: dropped %d, server got %d AUTH, %d MAIL FROM; want 1, 3, 3", sum(n.Dropped()), len(after.auth), len(after.from))
	}
}

// TestEmailTLSRequiredNotOffered: tls: required and a server without STARTTLS: nothing
// is sent in the clear, and the review is given up at once (trying again won't help).
func TestEmailTLSRequiredNotOffered(t *testing.T) {
	srv := newMailServer(t, mailOptions{})
	lg, logs := testLog()
	n, err := New([]Config{{Type: TypeEmail, Address: srv.addr, From: "hoop@example.com", To: []string{"dba@example.com"},
		TLS: TLSRequired, Backoff: time.Millisecond}}, lg)
	if err != nil {
		t.Fatal(err)
	}
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	got := srv.snapshot()
	if got.sessions != 1 || len(got.from) != 0 || len(got.data) != 0 {
		t.Errorf("server: %d sessions, %d MAIL FROM, %d messages; want 1, 0, 0", got.sessions, len(got.from), len(got.data))
	}
	if sum(n.Sent()) != 0 || sum(n.Dropped()) != 1 || !strings.Contains(logs.String(), ErrNoStartTLS.Error()) {
		t.Errorf("sent %v, dropped %v; want 0, 1 and %q logged:\n%s", n.Sent(), n.Dropped(), ErrNoStartTLS, logs)
	}
}

// TestEmailAuthLoopback: AUTH PLAIN without TLS goes to a loopback address only (the
// password stays on the host); to another host it is refused before anything is sent
// (TestNewErrors).
func TestEmailAuthLoopback(t *testing.T) {
	srv := newMailServer(t, mailOptions{auth: true, insec: true})
	n, logs := sendMail(t, Config{Address: srv.addr, From: "hoop@example.com", To: []string{"dba@example.com"},
		Username: "hoop", Password: "s3cret", TLS: TLSNone})
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := srv.snapshot(); sum(n.Sent()) != 1 || !slices.Equal(got.auth, []string{"hoop:s3cret"}) {
		t.Errorf("sent %d, AUTH %q; want 1, hoop:s3cret; log:\n%s", sum(n.Sent()), got.auth, logs)
	}

	// A wrong password is a 5xx: given up at once, and the log does not show it.
	lg, out := testLog()
	n, err := New([]Config{{Type: TypeEmail, Address: srv.addr, From: "hoop@example.com", To: []string{"dba@example.com"},
		Username: "hoop", Password: "wrong-pw", TLS: TLSNone, Backoff: time.Millisecond}}, lg)
	if err != nil {
		t.Fatal(err)
	}
	n.Review(t.Context(), statementReview())
	if err := closeWithin(t, n, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if got := srv.snapshot(); sum(n.Dropped()) != 1 || len(got.auth) != 2 || len(got.data) != 1 {
		t.Errorf("wrong password: dropped %d, %d AUTH, %d messages; want 1, 2 (one try), 1", sum(n.Dropped()), len(got.auth), len(got.data))
	}
	if strings.Contains(out.String(), "wrong-pw") || !strings.Contains(out.String(), "smtp AUTH") {
		t.Errorf("log: want the AUTH failure without the password:\n%s", out)
	}
}

// TestEmailRetries: a 4xx reply is tried again, a 5xx one is not; a refused recipient
// does not keep the others from their mail.
func TestEmailRetries(t *testing.T) {
	later := &gosmtp.SMTPError{Code: 451, Message: "try again later"}
	never := &gosmtp.SMTPError{Code: 550, Message: "no such user"}
	tests := []struct {
		name          string
		opts          mailOptions
		to            []string
		sessions      int
		rcpt          []string
		messages      int
		sent, dropped uint64
		logs          string
	}{
		{"451 on DATA, then ok", mailOptions{data: []*gosmtp.SMTPError{later}}, []string{"a@example.com"},
			2, []string{"a@example.com", "a@example.com"}, 1, 1, 0, "will try again"},
		{"550 on DATA", mailOptions{data: []*gosmtp.SMTPError{never}}, []string{"a@example.com"},
			1, []string{"a@example.com"}, 0, 0, 1, "smtp DATA: 550"},
		{"every recipient refused, 5xx", mailOptions{refuse: map[string]*gosmtp.SMTPError{"a@example.com": never, "b@example.com": never}},
			[]string{"a@example.com", "b@example.com"}, 1, nil, 0, 0, 1, "RCPT TO a@example.com: 550"},
		{"every recipient refused, one 4xx", mailOptions{refuse: map[string]*gosmtp.SMTPError{"a@example.com": never, "b@example.com": later}},
			[]string{"a@example.com", "b@example.com"}, 3, nil, 0, 0, 1, "after 3 tries"},
		{"one recipient refused", mailOptions{refuse: map[string]*gosmtp.SMTPError{"a@example.com": never}},
			[]string{"a@example.com", "b@example.com"}, 1, []string{"b@example.com"}, 1, 1, 0, "recipient refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newMailServer(t, tt.opts)
			lg, logs := testLog()
			n, err := New([]Config{{Type: TypeEmail, Address: srv.addr, From: "hoop@example.com", To: tt.to,
				Attempts: 3, Backoff: time.Millisecond}}, lg)
			if err != nil {
				t.Fatal(err)
			}
			n.Review(t.Context(), statementReview())
			if err := closeWithin(t, n, 10*time.Second); err != nil {
				t.Fatal(err)
			}
			got := srv.snapshot()
			if got.sessions != tt.sessions || !slices.Equal(got.rcpt, tt.rcpt) || len(got.data) != tt.messages {
				t.Errorf("server: %d sessions, RCPT TO %q, %d messages; want %d, %q, %d", got.sessions, got.rcpt, len(got.data), tt.sessions, tt.rcpt, tt.messages)
			}
			if sent, dropped := sum(n.Sent()), sum(n.Dropped()); sent != tt.sent || dropped != tt.dropped {
				t.Errorf("sent %d, dropped %d; want %d, %d", sent, dropped, tt.sent, tt.dropped)
			}
			if !strings.Contains(logs.String(), tt.logs) {
				t.Errorf("log: want %q in:\n%s", tt.logs, logs)
			}
		})
	}
}

// FuzzEmailMessage: whatever a review holds, the message parses, has the same headers
// and no others, and its subject is one line.
func FuzzEmailMessage(f *testing.F) {
	f.Add("alice@example.com", "db-prod", "DELETE FROM t", "r-1")
	f.Add("x\r\nBcc: y@example.com", "db\nX: 1", "SELECT 1\r\n.\r\n", "r-1\r\nCc: z")
	f.Add("=?utf-8?q?=0D=0ABcc:_x?=", "\x00", strings.Repeat("é", 500), "")
	e, err := newEmail(Config{Type: TypeEmail, Address: "smtp.example.com:587", From: "hoop@example.com",
		To: []string{"a@example.com", "b@example.com"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	want := []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}
	f.Fuzz(func(t *testing.T, requester, connection, sql, id string) {
		r := statementReview()
		r.Requester, r.Connection, r.SQL, r.ID = requester, connection, sql, id
		b, err := e.message(&r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
		for _, line := range bytes.Split(head, []byte("\r\n")) {
			if len(line) > 998 {
				t.Errorf("a header line of %d bytes", len(line))
			}
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("mail.ReadMessage: %v\n%s", err, b)
		}
		var keys []string
		for k := range msg.Header {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("headers: got %q, want %q\n%s", keys, want, b)
		}
		if got := msg.Header["To"]; len(got) != 1 || got[0] != "<a@example.com>, <b@example.com>" {
			t.Errorf("To: got %q", got)
		}
		if s, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject")); err != nil || strings.ContainsAny(s, "\r\n") {
			t.Errorf("Subject %q: decoded %q, %v", msg.Header.Get("Subject"), s, err)
		}
	})
}
