package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/hoopgw/hoop/api"
)

// emailTarget sends one plain-text e-mail per review, in one SMTP conversation:
//
//	hoopd                          SMTP server (Address)
//	  ◀── 220 greeting
//	  ──▶ EHLO localhost
//	  ──▶ STARTTLS, TLS handshake   when offered (tls: starttls) or always (tls: required)
//	  ──▶ AUTH PLAIN                when Username is set: over TLS, or to a loopback address
//	  ──▶ MAIL FROM, RCPT TO × To
//	  ──▶ DATA: the message         ◀── 250: delivered
//	  ──▶ QUIT
//
// A 4xx reply, a network error or a timeout is tried again; a 5xx reply (a bad address,
// a refused login) gives the review up at once. A recipient the server refuses is
// logged; the others still get the message.
type emailTarget struct {
	addr      string        // "smtp.example.com:587"
	host      string        // "smtp.example.com": for TLS and AUTH
	from      *mail.Address // hoop@example.com
	to        []*mail.Address
	username  string
	password  string
	tls       string // TLSStartTLS, TLSRequired or TLSNone
	tlsConfig *tls.Config
	log       *slog.Logger
}

func newEmail(c Config, log *slog.Logger) (*emailTarget, error) {
	host, port, err := net.SplitHostPort(c.Address)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || host == "" || p < 1 || p > 65535 {
		return nil, errors.New("address: want host:port, such as smtp.example.com:587")
	}
	if len(c.Headers) > 0 || c.URL != "" {
		return nil, errors.New("url and headers are not used by an email target")
	}
	e := &emailTarget{addr: c.Address, host: host, username: c.Username, password: c.Password,
		tls: c.TLS, tlsConfig: c.TLSConfig, log: log}
	if e.from, err = ParseAddress(c.From); err != nil {
		return nil, fmt.Errorf("from: %w", err)
	}
	if len(c.To) == 0 {
		return nil, errors.New("to: want at least one address")
	}
	for _, s := range c.To {
		a, err := ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("to: %w", err)
		}
		e.to = append(e.to, a)
	}
	switch c.TLS {
	case "":
		e.tls = TLSStartTLS
	case TLSStartTLS, TLSRequired, TLSNone:
	default:
		return nil, fmt.Errorf("unknown tls %q (want starttls, required or none)", c.TLS)
	}
	switch {
	case c.Password != "" && c.Username == "":
		return nil, errors.New("password set without username")
	case c.Username != "" && c.TLS == TLSNone && !loopback(host):
		return nil, fmt.Errorf("%w (tls: none)", ErrInsecureAuth)
	}
	return e, nil
}

// ParseAddress parses an e-mail address of a config ("hoop@example.com" or
// "Hoop <hoop@example.com>"), refusing what could end an SMTP command or a header line.
func ParseAddress(s string) (*mail.Address, error) {
	if hasCRLF(s) {
		return nil, errors.New("want an e-mail address on one line")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || hasCRLF(a.Address) || hasCRLF(a.Name) {
		return nil, fmt.Errorf("%q: not an e-mail address", s)
	}
	return a, nil
}

// smtpError wraps err from step, permanent for a 5xx reply.
func smtpError(step string, err error) error {
	err = fmt.Errorf("smtp %s: %w", step, err)
	if te, ok := errors.AsType[*textproto.Error](err); ok && te.Code >= 500 {
		return permanent(err)
	}
	return err
}

func (e *emailTarget) send(ctx context.Context, r *api.Review) error {
	msg, err := e.message(r, time.Now())
	if err != nil {
		return permanent(err)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", e.addr)
	if err != nil {
		return fmt.Errorf("smtp dial %s: %w", e.addr, err)
	}
	defer conn.Close()
	// net/smtp knows no context: the try's deadline is the connection's, and ending ctx
	// (Close giving up) closes it.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, e.host)
	if err != nil {
		return smtpError("greeting", err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return smtpError("EHLO", err)
	}
	if e.tls != TLSNone {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := &tls.Config{}
			if e.tlsConfig != nil {
				cfg = e.tlsConfig.Clone()
			}
			if cfg.ServerName == "" {
				cfg.ServerName = e.host
			}
			cfg.MinVersion = max(cfg.MinVersion, tls.VersionTLS12)
			if err := c.StartTLS(cfg); err != nil {
				return smtpError("STARTTLS", err)
			}
		} else if e.tls == TLSRequired {
			return permanent(ErrNoStartTLS)
		}
	}
	if e.username != "" {
		// net/smtp's PlainAuth refuses this too; say it in our words, and never try.
		if _, isTLS := c.TLSConnectionState(); !isTLS && !loopback(e.host) {
			return permanent(ErrInsecureAuth)
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			return permanent(errors.New("smtp AUTH: the server offers no AUTH, and a username is set"))
		}
		if err := c.Auth(smtp.PlainAuth("", e.username, e.password, e.host)); err != nil {
			return smtpError("AUTH", err)
		}
	}
	if err := c.Mail(e.from.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	var refused []error
	for _, to := range e.to {
		if err := c.Rcpt(to.Address); err != nil {
			refused = append(refused, smtpError("RCPT TO "+to.Address, err))
		}
	}
	if len(refused) == len(e.to) {
		// Permanent only when every refusal is: one 4xx may go better later.
		for _, err := range refused {
			if t, ok := errors.AsType[retryable](err); !ok || t.temporary() {
				return temporary(errors.Join(refused...))
			}
		}
		return permanent(errors.Join(refused...))
	}
	for _, err := range refused {
		e.log.Warn("notify email recipient refused", "review", r.ID, "error", err.Error())
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("DATA", err)
	}
	c.Quit() // the message is accepted: a failed QUIT changes nothing
	return nil
}

func (e *emailTarget) close() {}

// message returns the e-mail for r, CRLF line endings, body quoted-printable. Every
// header value is either from the config (checked by ParseAddress) or from the review
// through oneLine and RFC 2047 encoding, so no value can start a header of its own.
func (e *emailTarget) message(r *api.Review, now time.Time) ([]byte, error) {
	f := factsOf(r)
	to := make([]string, len(e.to))
	for i, a := range e.to {
		to[i] = a.String()
	}
	subject := "hoop: review " + f.ID + " — " + f.headline("")
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k + ": " + v + "\r\n")
	}
	header("From", e.from.String())
	header("To", strings.Join(to, ",\r\n "))
	// Encoded words of at most 75 characters, one per line: a long requester or
	// connection name does not make a line longer than SMTP allows.
	header("Subject", strings.ReplaceAll(mime.QEncoding.Encode("utf-8", subject), "?= =?", "?=\r\n =?"))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(f.ID, e.from.Address))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated") // RFC 3834: no vacation replies
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(emailBody(f))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// messageID is "<r-17.1f2e3d4c5b6a7980@example.com>": the review, a random part, and
// the sender's domain.
func messageID(id, from string) string {
	keep := func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return -1
	}
	var random [8]byte
	rand.Read(random[:])
	domain := "hoop"
	if i := strings.LastIndexByte(from, '@'); i >= 0 {
		domain = strings.Map(keep, from[i+1:])
	}
	return "<" + strings.Map(keep, id) + "." + hex.EncodeToString(random[:]) + "@" + domain + ">"
}

// emailBody is the message's text: the facts, the URL, and the command that answers.
func emailBody(f facts) string {
	var b strings.Builder
	b.WriteString(f.headline(""))
	if f.Access && f.Reason != "" {
		b.WriteString(": " + f.Reason)
	}
	b.WriteString(".\n\n")
	if f.Statement != "" {
		b.WriteString("    " + f.Statement + "\n\n")
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%-12s%s\n", k+":", v)
		}
	}
	line("Requester", f.Requester)
	line("Groups", f.Groups)
	line("Connection", f.Connection)
	if f.Access {
		line("Duration", f.For)
	} else {
		line("Class", f.Class)
	}
	line("Rule", f.Rule)
	line("Reason", f.Reason)
	line("Expires", f.Expires)
	b.WriteString("\n")
	if f.URL != "" {
		b.WriteString("Approve or deny review " + f.ID + ": " + f.URL + "\n")
	}
	b.WriteString("Or in a terminal: hoop approvals approve " + f.ID + "\n")
	return b.String()
}
