package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/retry"
)

// httpTarget POSTs one JSON body per review, built by body: the Slack and the generic
// webhook targets.
//
// A 2xx answer delivers the review. A network error, a timeout, 408, 429 and 5xx are
// tried again (a Retry-After in seconds is honoured up to MaxBackoff); any other answer
// (400, 401, 404, a redirect) will not get better and gives the review up at once.
// Redirects are not followed: the headers may carry a credential meant for this URL only.
type httpTarget struct {
	name    string
	url     string
	headers http.Header
	body    func(*api.Review) ([]byte, error)
	client  *http.Client
}

func newHTTP(c Config, body func(*api.Review) ([]byte, error)) (*httpTarget, error) {
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || u.Host == "" || u.Scheme != "http" && u.Scheme != "https":
		// Not the URL: a Slack URL is a credential.
		return nil, errors.New("want an http or https URL")
	case c.Type == TypeSlack && u.Scheme == "http" && !loopback(u.Hostname()):
		return nil, errors.New("want an https URL (the URL is the webhook's credential; plain http only on a loopback address)")
	}
	if c.Address != "" || c.From != "" || len(c.To) > 0 || c.Username != "" || c.Password != "" || c.TLS != "" {
		return nil, errors.New("address, from, to, username, password and tls are for an email target only")
	}
	if len(c.Headers) > 0 && c.Type != TypeWebhook {
		return nil, errors.New("headers are for a webhook target only")
	}
	h, err := retry.Header(c.Headers)
	if err != nil {
		return nil, err
	}
	return &httpTarget{
		name:    c.name(),
		url:     c.URL,
		headers: h,
		body:    body,
		client:  retry.NewClient(),
	}, nil
}

func (t *httpTarget) send(ctx context.Context, r *api.Review) error {
	// A new body for each try: the transport may still read a request's body after Do
	// returns (on a timeout).
	body, err := t.body(r)
	if err != nil {
		return permanent(err)
	}
	err = retry.Post(ctx, t.client, t.url, t.headers, body)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, retry.ErrRequest):
		return permanent(fmt.Errorf("post %s: bad URL", t.name))
	}
	// A *url.Error names the URL, and a Slack URL is a credential: keep the cause only.
	if ue, ok := errors.AsType[*url.Error](err); ok {
		err = ue.Err
	}
	return fmt.Errorf("post %s: %w", t.name, err)
}

func (t *httpTarget) close() { t.client.CloseIdleConnections() }

// marshal is json.Marshal without HTML escaping: "a < b" stays as it is, and so do the
// &lt; entities of Slack text.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// webhookMessage is the generic webhook's body.
type webhookMessage struct {
	Event  string      `json:"event"`  // "review.opened"
	Review *api.Review `json:"review"` //
}

func webhookBody(r *api.Review) ([]byte, error) {
	return marshal(webhookMessage{Event: EventOpened, Review: r})
}

// slackMessage is an incoming webhook's body: text, which notifications show, and blocks,
// which the channel shows.
type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`               // "section" or "context"
	Text     *slackText  `json:"text,omitempty"`     // section
	Elements []slackText `json:"elements,omitempty"` // context
}

type slackText struct {
	Type string `json:"type"` // "mrkdwn"
	Text string `json:"text"`
}

// slackEscape escapes what Slack's mrkdwn reads as markup: & < and >. It is the only
// escaping Slack has; so "<!channel>" in a requester's name stays text.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

func slackBody(r *api.Review) ([]byte, error) {
	f := factsOf(r).escape(slackEscape)
	var b strings.Builder
	b.WriteString(f.headline("*"))
	if f.Access && f.Reason != "" {
		b.WriteString(": " + f.Reason)
	}
	if f.Statement != "" {
		// A statement of three backticks would end the code block early.
		b.WriteString("\n```" + strings.ReplaceAll(f.Statement, "```", "`\u200b`\u200b`") + "```")
	}
	var meta []string
	if f.Rule != "" {
		meta = append(meta, "Rule: "+f.Rule)
	}
	if !f.Access && f.Reason != "" {
		meta = append(meta, "Reason: "+f.Reason)
	}
	if len(meta) > 0 {
		b.WriteString("\n" + strings.Join(meta, " · "))
	}
	b.WriteString("\n" + slackLink(f.URL, "Review "+f.ID))
	text := b.String()

	foot := "`hoop approvals approve " + f.ID + "`"
	if f.Expires != "" {
		foot = "Expires " + f.Expires + " · " + foot
	}
	return marshal(slackMessage{Text: text, Blocks: []slackBlock{
		{Type: "section", Text: &slackText{Type: "mrkdwn", Text: text}},
		{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: foot}}},
	}})
}

// slackLink is <url|label>, with url and label already escaped; a '|' in the URL would
// end it early. Without a URL, the label alone.
func slackLink(url, label string) string {
	if url == "" {
		return label
	}
	return "<" + strings.ReplaceAll(url, "|", "%7C") + "|" + label + ">"
}
