package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/term"
	"github.com/muesli/termenv"
	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
)

// newApprovalsCmd is hoop approvals: the approvers' terminal UI, and its scriptable
// subcommands list, approve and deny.
func newApprovalsCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "approvals",
		Short: "Decide held statements and access requests (a terminal UI; list, approve, deny for scripts)",
		Long: `Without a subcommand, open the approvers' terminal UI: the pending reviews, live,
oldest first. Enter shows one; a approves, d denies with a reason, / filters, ? lists
every key. The UI needs a terminal; scripts use the subcommands.

NO_COLOR=1 turns colors off.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return approvalsTUI(cmd.Context(), f)
		},
	}
	cmd.AddCommand(newApprovalsListCmd(f), newApprovalsDecideCmd(f, decisionApprove), newApprovalsDecideCmd(f, decisionDeny))
	return cmd
}

// errApprovalsNeedTerminal says what to run instead of the UI when there is no terminal.
var errApprovalsNeedTerminal = errors.New("hoop approvals is interactive and needs a terminal; " +
	"in scripts use hoop approvals list [--all] [--output json], hoop approvals approve ID, hoop approvals deny ID --reason R")

// approvalsTUI runs the terminal UI until the user quits.
func approvalsTUI(ctx context.Context, f *factory) error {
	out, ok := f.io.Out.(*os.File)
	if !ok || !term.IsTerminal(out.Fd()) {
		return &usageError{errApprovalsNeedTerminal}
	}
	c := newReviewClient(f)
	// List once before taking over the screen, so a login problem is an ordinary error
	// with its exit code.
	list, err := c.Reviews(ctx, false)
	if err != nil {
		return err
	}
	r := approvalsRenderer(out, f.env)
	if r.ColorProfile() != termenv.Ascii {
		// Ask the terminal for its background now: asked later, its answer would arrive
		// on the input that the UI reads keys from. Without colors, there is no need.
		r.HasDarkBackground()
	}
	return runApprovalsProgram(ctx, approvalsConfig{
		api:     c,
		reviews: list,
		styles:  newApprovalsStyles(r),
		watch:   defaultWatchConfig(),
	}, f.io.In, out)
}

type approvalsListOptions struct {
	all    bool
	output string
}

func newApprovalsListCmd(f *factory) *cobra.Command {
	var o approvalsListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the pending reviews you may decide (and your own), oldest first",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			return approvalsList(cmd.Context(), f, o, time.Now())
		},
	}
	cmd.Flags().BoolVar(&o.all, "all", false, "also reviews that are decided, expired or withdrawn")
	addOutputFlag(cmd, &o.output)
	return cmd
}

// noArgs is cobra.NoArgs as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return &usageError{fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

func approvalsList(ctx context.Context, f *factory, o approvalsListOptions, now time.Time) error {
	state := api.ReviewPending
	if o.all {
		state = "all"
	}
	var list []api.Review
	if _, err := f.get(ctx, "/api/v1/reviews?state="+state, &list); err != nil {
		return err
	}
	sortReviews(list)
	if o.output == "json" {
		if list == nil {
			list = []api.Review{}
		}
		return writeJSON(f, list)
	}
	if len(list) == 0 {
		if o.all {
			fmt.Fprintln(f.io.ErrOut, "No reviews.")
		} else {
			fmt.Fprintln(f.io.ErrOut, "No pending reviews.")
		}
		return nil
	}
	w := tabwriter.NewWriter(f.io.Out, 0, 0, 2, ' ', 0)
	if o.all {
		fmt.Fprintln(w, "ID\tKIND\tSTATE\tREQUESTER\tCONNECTION\tWAITING\tWHAT")
	} else {
		fmt.Fprintln(w, "ID\tKIND\tREQUESTER\tCONNECTION\tWAITING\tWHAT")
	}
	for _, r := range list {
		waiting := "-"
		if r.State == api.ReviewPending {
			waiting = formatWait(now.Sub(r.Created))
		}
		what := ansi.Truncate(reviewWhat(r), listWhatWidth, "…")
		if o.all {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", printable(r.ID), printable(r.Kind), printable(r.State),
				printable(r.Requester), printable(r.Connection), waiting, what)
		} else {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", printable(r.ID), printable(r.Kind),
				printable(r.Requester), printable(r.Connection), waiting, what)
		}
	}
	return w.Flush()
}

// listWhatWidth is where hoop approvals list cuts a statement: the table is for a glance,
// approvals list --output json and the UI's detail view have the whole text.
const listWhatWidth = 60

// decision is what an approver answers, as the API's path names it.
type decision string

const (
	decisionApprove decision = "approve"
	decisionDeny    decision = "deny"
)

type approvalsDecideOptions struct {
	id, reason, output string
}

func newApprovalsDecideCmd(f *factory, d decision) *cobra.Command {
	var o approvalsDecideOptions
	cmd := &cobra.Command{
		Use:   "approve ID [--reason R]",
		Short: "Approve a held statement or an access request",
		Args:  exactArgs(1, "a review id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.id = args[0]
			if err := checkOutput(o.output); err != nil {
				return err
			}
			if d == decisionDeny && strings.TrimSpace(o.reason) == "" {
				return &usageError{errors.New("hoop approvals deny wants --reason R: the requester sees why")}
			}
			return approvalsDecide(cmd.Context(), f, d, o)
		},
	}
	if d == decisionDeny {
		cmd.Use, cmd.Short = "deny ID --reason R", "Deny a held statement or an access request, saying why"
		cmd.Flags().StringVar(&o.reason, "reason", "", "why, for the requester (required)")
	} else {
		cmd.Flags().StringVar(&o.reason, "reason", "", "a note kept with the approval")
	}
	addOutputFlag(cmd, &o.output)
	return cmd
}

func approvalsDecide(ctx context.Context, f *factory, d decision, o approvalsDecideOptions) error {
	var r api.Review
	if _, err := f.post(ctx, reviewPath(o.id, d), api.ReviewAnswer{Reason: strings.TrimSpace(o.reason)}, &r); err != nil {
		return fmt.Errorf("%s %s: %w", d, o.id, err)
	}
	if o.output == "json" {
		return writeJSON(f, r)
	}
	_, err := fmt.Fprintln(f.io.Out, reviewOutcome(r))
	return err
}

// reviewOutcome is a review's state in a line: "r-17 approved", "r-17 pending: 1 of 2
// approvals", "r-17 denied: not during the freeze".
func reviewOutcome(r api.Review) string {
	id := printable(r.ID)
	switch r.State {
	case api.ReviewPending:
		return fmt.Sprintf("%s pending: %d of %d approvals", id, len(r.Approvals), max(r.MinApprovals, 1))
	case api.ReviewDenied:
		if r.Denial != nil && r.Denial.Reason != "" {
			return fmt.Sprintf("%s denied: %s", id, reviewOneLine(r.Denial.Reason))
		}
	}
	return id + " " + printable(r.State)
}

// sortReviews orders reviews oldest first, the order approvers work in.
func sortReviews(list []api.Review) {
	slices.SortStableFunc(list, func(a, b api.Review) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// reviewWhat is what a review asks for, in one line: the statement, or
// "access 1h: INC-123".
func reviewWhat(r api.Review) string {
	if r.Kind == api.ReviewAccess {
		s := "access"
		if r.Duration != "" {
			s += " " + shortDuration(r.Duration)
		}
		if r.Reason != "" {
			s += ": " + reviewOneLine(r.Reason)
		}
		return s
	}
	return reviewOneLine(r.SQL)
}

// shortDuration drops a Go duration's zero units: "1h0m0s" is "1h", "1h30m0s" "1h30m".
func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return printable(s)
	}
	s = d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// formatWait is how long something has waited, to the second under an hour and coarser
// above: "42s", "3m07s", "2h05m", "3d04h".
func formatWait(d time.Duration) string {
	d = max(d, 0).Truncate(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd%02dh", int(d.Hours())/24, int(d.Hours())%24)
}

// reviewOneLine collapses white space (newlines, indentation) and makes the rest safe
// to print.
func reviewOneLine(s string) string { return printable(oneLine(s)) }

// printable makes text from the gateway safe for a terminal. Reviews carry what
// requesters typed: a statement with an escape sequence could rewrite the approver's
// screen, and a bidirectional override could show other text than the one approved. Such
// runes are shown escaped (\x1b, \u202e), like invalid UTF-8; newlines are kept, tabs
// become spaces.
func printable(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || r == '\t' || (r != '\n' && suspicious(r)) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteByte('\n')
		case r == '\t':
			b.WriteString("    ")
		case r < 0x80 && suspicious(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case suspicious(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// suspicious runes: C0 and C1 controls, DEL, bidirectional controls, line and paragraph
// separators.
func suspicious(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r == 0x061c, r == 0x200e, r == 0x200f, r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	}
	return false
}

// printableLines is printable for text shown on several lines: each line is cleaned.
func printableLines(s string) []string {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	return strings.Split(printable(strings.TrimSpace(s)), "\n")
}
