package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/hoopgw/hoop/api"
)

// The screen is a title line, a body, a status line (or the prompt) and a line of keys;
// every line is cut to the terminal's width, and the body to what is left of its height.

func (m approvalsModel) bodyHeight() int { return max(m.height-3, 1) }

func (m approvalsModel) View() string {
	var body []string
	switch {
	case m.showAll:
		body = m.helpLines()
	case m.screen == screenDetail:
		body = m.detailLines()
		body = body[min(m.scroll, len(body)):]
	default:
		body = m.listLines()
	}
	n := m.bodyHeight()
	if len(body) > n {
		body = body[:n]
	}
	for len(body) < n {
		body = append(body, "")
	}
	lines := make([]string, 0, m.height)
	lines = append(lines, m.titleLine())
	lines = append(lines, body...)
	lines = append(lines, m.statusLine(), m.keysLine())
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, m.width, "…")
	}
	return strings.Join(lines, "\n")
}

func (m approvalsModel) titleLine() string {
	st := m.st
	parts := []string{st.title.Render("hoop approvals")}
	if m.screen == screenDetail && !m.showAll {
		parts = append(parts, st.header.Render(printable(m.detail.ID)))
	}
	pending := fmt.Sprintf("%d pending", len(m.reviews))
	if m.filter != "" {
		pending = fmt.Sprintf("%d of %d pending match %q", len(m.shown()), len(m.reviews), printable(m.filter))
	}
	parts = append(parts, st.faint.Render(pending))
	switch {
	case m.live:
		parts = append(parts, st.faint.Render("live"))
	case m.streamErr == streamConnecting:
		parts = append(parts, st.faint.Render(m.streamErr))
	default:
		parts = append(parts, st.err.Render(m.streamErr))
	}
	return strings.Join(parts, st.faint.Render(" · "))
}

// listColumns are the list's column widths for a terminal w cells wide.
type listColumns struct{ id, requester, connection, waiting, what int }

const columnGap = 2

func (m approvalsModel) columns(shown []api.Review) listColumns {
	widest := func(head string, f func(api.Review) string) int {
		n := len(head)
		for _, r := range shown {
			n = max(n, ansi.StringWidth(printable(f(r))))
		}
		return n
	}
	c := listColumns{
		id:         min(widest("ID", func(r api.Review) string { return r.ID }), 14),
		requester:  min(widest("REQUESTER", func(r api.Review) string { return r.Requester }), 24),
		connection: min(widest("CONNECTION", func(r api.Review) string { return r.Connection }), 16),
		waiting:    len("WAITING"),
	}
	// The statement gets what is left, and at least 24 cells if the others can give them.
	for {
		c.what = m.width - 2 - c.id - c.requester - c.connection - c.waiting - 4*columnGap
		if c.what >= 24 {
			break
		}
		switch {
		case c.requester > 12 && c.requester >= c.connection:
			c.requester--
		case c.connection > 10:
			c.connection--
		case c.id > 8:
			c.id--
		case c.requester > 12:
			c.requester--
		default:
			c.what = max(c.what, 4)
			return c
		}
	}
	return c
}

// cell is s cut or padded to w cells.
func cell(s string, w int) string {
	s = ansi.Truncate(s, w, "…")
	return s + strings.Repeat(" ", max(w-ansi.StringWidth(s), 0))
}

// row is one line of the list; id comes with the selection mark ("> r-17", "  r-17").
func (c listColumns) row(id, requester, connection, waiting, what string) string {
	gap := strings.Repeat(" ", columnGap)
	return strings.TrimRight(cell(id, 2+c.id)+gap+cell(requester, c.requester)+gap+cell(connection, c.connection)+gap+
		cell(waiting, c.waiting)+gap+ansi.Truncate(what, c.what, "…"), " ")
}

func (m approvalsModel) listLines() []string {
	shown := m.shown()
	c := m.columns(shown)
	lines := []string{m.st.header.Render(c.row("  ID", "REQUESTER", "CONNECTION", "WAITING", "WHAT"))}
	if len(shown) == 0 {
		switch {
		case m.filter != "":
			lines = append(lines, "", fmt.Sprintf("  No pending review matches %q; esc clears the filter.", printable(m.filter)))
		default:
			lines = append(lines, "", "  No pending reviews. New ones appear here as they come.")
		}
		return lines
	}
	end := min(m.top+m.bodyHeight()-1, len(shown))
	for i := m.top; i < end; i++ {
		r := shown[i]
		mark := "  "
		if i == m.selIdx {
			mark = "> "
		}
		line := c.row(mark+printable(r.ID), printable(r.Requester), printable(r.Connection),
			formatWait(m.now.Sub(r.Created)), reviewWhat(r))
		if i == m.selIdx {
			line = m.st.selected.Render(line)
		}
		lines = append(lines, line)
	}
	return lines
}

// labelWidth is the detail screen's field-name column.
const labelWidth = 12

// detailLines is the detail screen, wrapped to the terminal's width.
func (m approvalsModel) detailLines() []string {
	r, st, w := m.detail, m.st, m.width
	var lines []string
	field := func(label, value string) {
		wrapped := strings.Split(ansi.Wrap(value, max(w-labelWidth, 10), ""), "\n")
		for i, l := range wrapped {
			head := strings.Repeat(" ", labelWidth)
			if i == 0 {
				head = st.label.Render(cell(label, labelWidth))
			}
			lines = append(lines, head+l)
		}
	}
	block := func(title string, text []string) {
		lines = append(lines, "", st.label.Render(title))
		for _, l := range text {
			for _, wl := range strings.Split(ansi.Wrap(l, max(w-2, 10), ""), "\n") {
				lines = append(lines, "  "+wl)
			}
		}
	}

	state := printable(r.State)
	if r.State != api.ReviewPending {
		state = st.err.Render(state)
	}
	kind := printable(r.Kind)
	switch {
	case r.Kind == api.ReviewAccess:
		kind = "access for " + orDash(shortDuration(r.Duration))
	case r.Class != "":
		kind = fmt.Sprintf("%s (%s)", kind, printable(r.Class))
	}
	field("review", kind+", "+state)
	field("requester", printable(r.Requester))
	field("groups", printable(groups(r.Groups)))
	conn := printable(r.Connection)
	if r.Session != "" {
		conn += ", session " + printable(r.Session)
	}
	field("connection", conn)
	field("rule", printable(orDash(r.Rule)))
	field("reason", printable(orDash(strings.TrimSpace(r.Reason))))
	if r.State == api.ReviewPending {
		field("waiting", fmt.Sprintf("%s, since %s", formatWait(m.now.Sub(r.Created)), clock(r.Created, m.now)))
		if left := r.Expires.Sub(m.now); left > 0 {
			field("expires", fmt.Sprintf("in %s, at %s", formatWait(left), clock(r.Expires, m.now)))
		} else {
			field("expires", "now: "+clock(r.Expires, m.now))
		}
	} else {
		field("created", clock(r.Created, m.now))
	}
	field("approvals", fmt.Sprintf("%d of %d", len(r.Approvals), max(r.MinApprovals, 1)))
	for _, a := range r.Approvals {
		s := fmt.Sprintf("%s at %s", printable(a.By), clock(a.At, m.now))
		if a.Reason != "" {
			s += ": " + reviewOneLine(a.Reason)
		}
		field("", s)
	}
	if d := r.Denial; d != nil {
		field("denied", fmt.Sprintf("by %s at %s: %s", printable(d.By), clock(d.At, m.now), reviewOneLine(d.Reason)))
	}
	if r.URL != "" {
		field("web", printable(r.URL))
	}
	if r.Kind != api.ReviewAccess {
		block("statement", printableLines(r.SQL))
		if len(r.Params) > 0 {
			ps := make([]string, len(r.Params))
			for i, p := range r.Params {
				ps[i] = fmt.Sprintf("$%d = %s", i+1, printable(value(p)))
			}
			block("params", ps)
		}
	}
	return lines
}

// clock is a time for the screen: "15:04:05" today, "Jan 2 15:04:05" on another day.
func clock(t, now time.Time) string {
	t, now = t.Local(), now.Local()
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04:05")
	}
	return t.Format("Jan 2 15:04:05")
}

func (m approvalsModel) helpLines() []string {
	h := m.help
	h.Width = m.width
	lines := []string{m.st.label.Render("Keys"), ""}
	lines = append(lines, strings.Split(h.FullHelpView(listHelp{m.keys}.FullHelp()), "\n")...)
	lines = append(lines, "",
		m.st.label.Render("In a prompt"), "",
		"  y          approve, after a",
		"  n, esc     do not approve",
		"  enter      send the reason to deny; keep the filter",
		"  esc        do not deny; clear the filter",
		"  ctrl+c     quit, anywhere",
		"",
		m.st.faint.Render("The list follows the gateway live, oldest first. The filter matches the"),
		m.st.faint.Render("requester, the connection, the statement and the reason."),
	)
	return lines
}

// promptLabel is the question in front of the prompt's input.
func (m approvalsModel) promptLabel() string {
	switch m.prompt {
	case promptApprove:
		return fmt.Sprintf("Approve %s by %s on %s? y/n ", printable(m.target.ID), printable(m.target.Requester), printable(m.target.Connection))
	case promptDeny:
		return fmt.Sprintf("Deny %s, reason: ", printable(m.target.ID))
	case promptFilter:
		return "Filter: "
	}
	return ""
}

// sizeInput fits the prompt's input between its label and the right edge.
func (m *approvalsModel) sizeInput() {
	m.input.Width = max(m.width-ansi.StringWidth(m.promptLabel())-1, 8)
}

func (m approvalsModel) statusLine() string {
	switch m.prompt {
	case promptApprove:
		return m.st.prompt.Render(m.promptLabel())
	case promptDeny, promptFilter:
		return m.st.prompt.Render(m.promptLabel()) + m.input.View()
	}
	switch m.statusKind {
	case statusOK:
		return m.st.ok.Render(m.status)
	case statusErr:
		return m.st.err.Render(m.status)
	}
	return m.st.faint.Render(m.status)
}

func (m approvalsModel) keysLine() string {
	h := m.help
	h.Width = m.width
	var k help.KeyMap = listHelp{m.keys}
	switch {
	case m.prompt == promptDeny && m.status != "":
		return m.st.err.Render(m.status) // why the reason was not taken
	case m.prompt != promptNone:
		return h.ShortHelpView(m.keys.promptKeys(m.prompt))
	case m.showAll:
		return h.ShortHelpView([]key.Binding{
			key.NewBinding(key.WithKeys("?"), key.WithHelp("?/esc", "close help")), m.keys.Quit,
		})
	case m.screen == screenDetail:
		k = detailHelp{m.keys}
	}
	return h.View(k)
}
