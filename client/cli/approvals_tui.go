package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/client"
)

// The approvals UI is one model with two screens, the list of pending reviews and one
// review's details, and three prompts over either: confirm an approval (y/n), a reason to
// deny, a filter. All I/O is in commands: decisions call the API, and a watcher
// (watchReviews) feeds the list from the gateway's event stream through a channel.

// approvalsConfig is what the UI starts from.
type approvalsConfig struct {
	ctx     context.Context  // ends the watcher and pending calls; nil: Background
	api     reviewsAPI       // the gateway
	reviews []api.Review     // the pending reviews, listed before the UI started
	styles  approvalsStyles  //
	feed    chan tea.Msg     // where the watcher sends; nil: no live updates (tests)
	watch   watchConfig      // the watcher's backoff
	now     func() time.Time // nil: time.Now
	tick    time.Duration    // how often the waiting times move on: time.Second; 0: never (tests)
}

type approvalsScreen int

const (
	screenList approvalsScreen = iota
	screenDetail
)

type approvalsPrompt int

const (
	promptNone    approvalsPrompt = iota
	promptApprove                 // "approve r-17? y/n"
	promptDeny                    // a reason to deny
	promptFilter                  // what to show
)

// streamConnecting is the stream's state until it first opens.
const streamConnecting = "connecting…"

type statusKind int

const (
	statusInfo statusKind = iota
	statusOK
	statusErr
)

// Messages of the UI itself.
type (
	// decidedMsg is the gateway's answer to a decision.
	decidedMsg struct {
		id     string
		d      decision
		review *api.Review
		err    error
	}
	// tickMsg moves the clock on.
	tickMsg time.Time
)

// approvalsModel is the approvals UI.
type approvalsModel struct {
	ctx   context.Context
	api   reviewsAPI
	feed  chan tea.Msg
	watch watchConfig
	tick  time.Duration
	keys  approvalsKeys
	st    approvalsStyles
	help  help.Model
	input textinput.Model

	now           time.Time
	width, height int

	reviews []api.Review // pending, oldest first
	filter  string       // shown: the reviews whose requester, connection or text has this
	selID   string       // the selected review
	selIdx  int          // its row among the shown ones: where the selection stays when it leaves
	top     int          // the first row on screen

	screen  approvalsScreen
	detail  api.Review // the review on the detail screen, as last heard of
	scroll  int        // the detail screen's first line
	showAll bool       // the help screen is up

	prompt   approvalsPrompt
	target   api.Review          // what the prompt decides
	inflight map[string]decision // decisions sent, not answered yet
	decided  map[string]bool     // decisions we made: their events need no news

	status     string
	statusKind statusKind
	live       bool   // the event stream is up
	streamErr  string // why it is not
}

func newApprovalsModel(cfg approvalsConfig) approvalsModel {
	now := time.Now
	if cfg.now != nil {
		now = cfg.now
	}
	ctx := cfg.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	st := cfg.styles
	h := help.New()
	h.Styles = st.help
	in := textinput.New()
	in.Prompt = ""
	in.CharLimit = 500
	in.PromptStyle, in.TextStyle = st.r.NewStyle(), st.r.NewStyle()
	in.PlaceholderStyle, in.CompletionStyle = st.faint, st.faint
	in.Cursor.Style, in.Cursor.TextStyle = st.r.NewStyle(), st.r.NewStyle()
	in.Cursor.SetMode(cursor.CursorStatic)
	m := approvalsModel{
		ctx:      ctx,
		api:      cfg.api,
		feed:     cfg.feed,
		watch:    cfg.watch,
		tick:     cfg.tick,
		keys:     newApprovalsKeys(),
		st:       st,
		help:     h,
		input:    in,
		now:      now(),
		width:    80,
		height:   24,
		inflight: map[string]decision{},
		decided:  map[string]bool{},
		live:     cfg.feed == nil, // without a watcher, the first list is all there is
	}
	if cfg.feed != nil {
		m.streamErr = streamConnecting
	}
	m.setReviews(cfg.reviews)
	return m
}

// runApprovalsProgram runs the UI on a terminal until the user quits.
func runApprovalsProgram(ctx context.Context, cfg approvalsConfig, in io.Reader, out io.Writer, opts ...tea.ProgramOption) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // ends the watcher
	cfg.ctx = ctx
	cfg.feed = make(chan tea.Msg, 64)
	cfg.tick = time.Second
	opts = append([]tea.ProgramOption{tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithAltScreen()}, opts...)
	_, err := tea.NewProgram(newApprovalsModel(cfg), opts...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // a signal ended hoop: that is a way to quit
	}
	return err
}

func (m approvalsModel) Init() tea.Cmd {
	var cmds []tea.Cmd
	if m.feed != nil {
		ctx, a, feed, cfg := m.ctx, m.api, m.feed, m.watch
		cmds = append(cmds, func() tea.Msg {
			go watchReviews(ctx, a, feed, cfg)
			return nextFeed(ctx, feed)
		})
	}
	return tea.Batch(append(cmds, m.tickCmd())...)
}

func nextFeed(ctx context.Context, feed chan tea.Msg) tea.Msg {
	select {
	case msg := <-feed:
		return msg
	case <-ctx.Done():
		return nil
	}
}

// waitFeed waits for the watcher's next message.
func (m approvalsModel) waitFeed() tea.Cmd {
	if m.feed == nil {
		return nil
	}
	ctx, feed := m.ctx, m.feed
	return func() tea.Msg { return nextFeed(ctx, feed) }
}

func (m approvalsModel) tickCmd() tea.Cmd {
	if m.tick <= 0 {
		return nil
	}
	return tea.Tick(m.tick, func(t time.Time) tea.Msg { return tickMsg(t) })
}

func (m approvalsModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = max(msg.Width, 20), max(msg.Height, 8)
		m.sizeInput()
		m.keepInView()
		return m, nil
	case tickMsg:
		m.now = time.Time(msg)
		return m, m.tickCmd()
	case reviewsMsg:
		m.live, m.streamErr = true, ""
		m.setReviews(msg.reviews)
		return m, m.waitFeed()
	case reviewMsg:
		m.apply(msg.review)
		return m, m.waitFeed()
	case streamDownMsg:
		m.live = false
		m.streamErr = fmt.Sprintf("reconnecting in %s", msg.retry.Round(100*time.Millisecond))
		if msg.err != nil {
			m.streamErr += ": " + oneLineError(msg.err)
		}
		return m, m.waitFeed()
	case decidedMsg:
		return m.answered(msg), nil
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m approvalsModel) key(k tea.KeyMsg) (tea.Model, tea.Cmd) {
	if key.Matches(k, m.keys.ForceQuit) {
		return m, tea.Quit
	}
	switch m.prompt {
	case promptApprove:
		switch {
		case key.Matches(k, m.keys.Yes):
			m.prompt = promptNone
			return m.send(m.target, decisionApprove, "")
		case key.Matches(k, m.keys.No):
			m.prompt = promptNone
			m.setStatus(statusInfo, "not approved: "+printable(m.target.ID))
		}
		return m, nil
	case promptDeny:
		switch k.Type {
		case tea.KeyEnter:
			reason := strings.TrimSpace(m.input.Value())
			if reason == "" {
				m.setStatus(statusErr, "a denial needs a reason: the requester sees it (esc cancels)")
				return m, nil
			}
			m.prompt = promptNone
			m.input.Blur()
			return m.send(m.target, decisionDeny, reason)
		case tea.KeyEsc:
			m.prompt = promptNone
			m.input.Blur()
			m.setStatus(statusInfo, "not denied: "+printable(m.target.ID))
			return m, nil
		}
		m.status = ""
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(k)
		return m, cmd
	case promptFilter:
		switch k.Type {
		case tea.KeyEnter:
			m.prompt = promptNone
			m.input.Blur()
			return m, nil
		case tea.KeyEsc:
			m.prompt = promptNone
			m.input.Blur()
			m.setFilter("")
			return m, nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(k)
		m.setFilter(m.input.Value())
		return m, cmd
	}

	if m.showAll {
		switch {
		case key.Matches(k, m.keys.Quit):
			return m, tea.Quit
		case key.Matches(k, m.keys.Help), key.Matches(k, m.keys.Back):
			m.showAll = false
		}
		return m, nil
	}

	switch {
	case key.Matches(k, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(k, m.keys.Help):
		m.showAll = true
	case key.Matches(k, m.keys.Up):
		m.move(-1)
	case key.Matches(k, m.keys.Down):
		m.move(1)
	case key.Matches(k, m.keys.Top):
		m.move(-1 << 30)
	case key.Matches(k, m.keys.Bottom):
		m.move(1 << 30)
	case key.Matches(k, m.keys.Open):
		if r, ok := m.selected(); ok && m.screen == screenList {
			m.screen, m.detail, m.scroll = screenDetail, r, 0
		}
	case key.Matches(k, m.keys.Back):
		switch {
		case m.screen == screenDetail:
			m.screen = screenList
		case m.filter != "":
			m.setFilter("")
		}
	case key.Matches(k, m.keys.Approve):
		return m.ask(promptApprove)
	case key.Matches(k, m.keys.Deny):
		return m.ask(promptDeny)
	case key.Matches(k, m.keys.Filter):
		if m.screen == screenList {
			m.prompt = promptFilter
			m.input.Placeholder = "requester, connection or text"
			m.input.SetValue(m.filter)
			m.input.CursorEnd()
			m.sizeInput()
			return m, m.input.Focus()
		}
	}
	return m, nil
}

// ask starts deciding the review in view: a y/n question to approve, a reason to deny.
func (m approvalsModel) ask(p approvalsPrompt) (tea.Model, tea.Cmd) {
	r, ok := m.current()
	if !ok {
		m.setStatus(statusInfo, "nothing to decide")
		return m, nil
	}
	id := printable(r.ID)
	if r.State != api.ReviewPending {
		m.setStatus(statusInfo, fmt.Sprintf("%s is %s: nothing left to decide", id, printable(r.State)))
		return m, nil
	}
	if d, ok := m.inflight[r.ID]; ok {
		m.setStatus(statusInfo, fmt.Sprintf("%s: still waiting for the gateway to %s it", id, d))
		return m, nil
	}
	m.prompt, m.target = p, r
	m.status = ""
	if p == promptDeny {
		m.input.Placeholder = "why, for the requester"
		m.input.SetValue("")
		m.sizeInput()
		return m, m.input.Focus()
	}
	return m, nil
}

// send sends a decision to the gateway.
func (m approvalsModel) send(r api.Review, d decision, reason string) (tea.Model, tea.Cmd) {
	m.inflight[r.ID] = d
	verb := map[decision]string{decisionApprove: "approving", decisionDeny: "denying"}[d]
	m.setStatus(statusInfo, fmt.Sprintf("%s %s…", verb, printable(r.ID)))
	ctx, a, id := m.ctx, m.api, r.ID
	return m, func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		got, err := a.Decide(ctx, id, d, reason)
		return decidedMsg{id: id, d: d, review: got, err: err}
	}
}

// answered takes the gateway's answer to a decision.
func (m approvalsModel) answered(msg decidedMsg) approvalsModel {
	delete(m.inflight, msg.id)
	id := printable(msg.id)
	if msg.err != nil {
		m.setStatus(statusErr, fmt.Sprintf("could not %s %s: %s", msg.d, id, oneLineError(msg.err)))
		return m
	}
	m.decided[msg.id] = true
	r := *msg.review
	m.apply(r)
	switch {
	case msg.d == decisionApprove && r.State == api.ReviewPending:
		m.setStatus(statusOK, fmt.Sprintf("approved %s: %d of %d approvals, still pending", id, len(r.Approvals), max(r.MinApprovals, 1)))
	case msg.d == decisionApprove && r.State == api.ReviewApproved:
		m.setStatus(statusOK, "approved "+id)
	case msg.d == decisionDeny && r.State == api.ReviewDenied:
		m.setStatus(statusOK, "denied "+id)
	default:
		m.setStatus(statusInfo, reviewOutcome(r))
	}
	return m
}

// oneLineError is an error for the status line: the gateway's own message when it sent
// one ("you may not approve your own request").
func oneLineError(err error) string {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return reviewOneLine(ae.Message)
	}
	return reviewOneLine(err.Error())
}

func (m *approvalsModel) setStatus(k statusKind, s string) { m.status, m.statusKind = s, k }

// setReviews replaces the list with a fresh one.
func (m *approvalsModel) setReviews(list []api.Review) {
	m.reviews = m.reviews[:0:0]
	for _, r := range list {
		if r.State == api.ReviewPending {
			m.reviews = append(m.reviews, r)
		}
	}
	sortReviews(m.reviews)
	if m.screen == screenDetail {
		if i := m.index(m.detail.ID); i >= 0 {
			m.detail = m.reviews[i]
		}
	}
	m.fixSelection()
}

// apply takes one event: a pending review joins or changes, any other leaves.
func (m *approvalsModel) apply(r api.Review) {
	i := m.index(r.ID)
	switch {
	case r.State == api.ReviewPending && i >= 0:
		m.reviews[i] = r
	case r.State == api.ReviewPending:
		m.reviews = append(m.reviews, r)
		sortReviews(m.reviews)
	case i >= 0:
		m.reviews = slices.Delete(m.reviews, i, i+1)
		if !m.decided[r.ID] {
			m.setStatus(statusInfo, departure(r))
		}
	}
	if m.screen == screenDetail && m.detail.ID == r.ID {
		m.detail = r
	}
	if m.prompt != promptNone && m.prompt != promptFilter && m.target.ID == r.ID && r.State != api.ReviewPending {
		m.prompt = promptNone
		m.input.Blur()
		m.setStatus(statusInfo, departure(r)+" before you decided")
	}
	m.fixSelection()
}

// departure says why a review left the list: "r-17 was approved by dana@example.com".
func departure(r api.Review) string {
	id := printable(r.ID)
	switch r.State {
	case api.ReviewApproved, api.ReviewUsed:
		if n := len(r.Approvals); n > 0 {
			return fmt.Sprintf("%s was approved by %s", id, printable(r.Approvals[n-1].By))
		}
		return id + " was approved"
	case api.ReviewDenied:
		if r.Denial != nil {
			return fmt.Sprintf("%s was denied by %s", id, printable(r.Denial.By))
		}
		return id + " was denied"
	case api.ReviewExpired:
		return id + " expired"
	case api.ReviewWithdrawn:
		return id + " was withdrawn by its requester"
	}
	return fmt.Sprintf("%s is %s", id, printable(r.State))
}

func (m *approvalsModel) index(id string) int {
	return slices.IndexFunc(m.reviews, func(r api.Review) bool { return r.ID == id })
}

// setFilter shows only the reviews that match f.
func (m *approvalsModel) setFilter(f string) {
	m.filter = strings.TrimSpace(f)
	m.fixSelection()
}

// shown is the reviews on the list: those that match the filter.
func (m approvalsModel) shown() []api.Review {
	if m.filter == "" {
		return m.reviews
	}
	f := strings.ToLower(m.filter)
	var out []api.Review
	for _, r := range m.reviews {
		for _, s := range []string{r.Requester, r.Connection, r.SQL, r.Reason, r.ID} {
			if strings.Contains(strings.ToLower(s), f) {
				out = append(out, r)
				break
			}
		}
	}
	return out
}

// fixSelection keeps the selected review selected wherever it moved, or, when it left,
// selects the one that took its row.
func (m *approvalsModel) fixSelection() {
	shown := m.shown()
	if i := slices.IndexFunc(shown, func(r api.Review) bool { return r.ID == m.selID }); i >= 0 {
		m.selIdx = i
	} else if len(shown) > 0 {
		m.selIdx = min(max(m.selIdx, 0), len(shown)-1)
		m.selID = shown[m.selIdx].ID
	} else {
		m.selIdx, m.selID = 0, ""
	}
	m.keepInView()
}

// move moves the selection, or scrolls the detail screen, by n rows.
func (m *approvalsModel) move(n int) {
	if m.screen == screenDetail {
		m.scroll = max(0, min(m.scroll+n, len(m.detailLines())-m.bodyHeight()))
		return
	}
	shown := m.shown()
	if len(shown) == 0 {
		return
	}
	m.selIdx = min(max(m.selIdx+n, 0), len(shown)-1)
	m.selID = shown[m.selIdx].ID
	m.keepInView()
}

// keepInView scrolls the list so the selection is on screen.
func (m *approvalsModel) keepInView() {
	rows := m.bodyHeight() - 1 // the column names
	if m.selIdx < m.top {
		m.top = m.selIdx
	}
	if m.selIdx >= m.top+rows {
		m.top = m.selIdx - rows + 1
	}
	m.top = max(0, min(m.top, len(m.shown())-rows))
	if m.screen == screenDetail {
		m.scroll = max(0, min(m.scroll, len(m.detailLines())-m.bodyHeight()))
	}
}

func (m approvalsModel) selected() (api.Review, bool) {
	shown := m.shown()
	if m.selID == "" || m.selIdx >= len(shown) {
		return api.Review{}, false
	}
	return shown[m.selIdx], true
}

// current is the review a key acts on: the one on the detail screen, else the selected.
func (m approvalsModel) current() (api.Review, bool) {
	if m.screen == screenDetail {
		return m.detail, true
	}
	return m.selected()
}
