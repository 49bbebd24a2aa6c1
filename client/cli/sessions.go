package cli

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/hoopgw/hoop/api"
	"github.com/hoopgw/hoop/internal/retry"
)

func newSessionsCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List, show and replay recorded sessions (recordings readers only)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newSessionsListCmd(f), newSessionsShowCmd(f), newSessionsReplayCmd(f))
	return cmd
}

type sessionsListOptions struct {
	user, connection, since, output string
	limit                           int
}

func newSessionsListCmd(f *factory) *cobra.Command {
	var o sessionsListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List recorded sessions, newest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(o.output); err != nil {
				return err
			}
			return sessionsList(cmd.Context(), f, o)
		},
	}
	cmd.Flags().StringVar(&o.user, "user", "", "only this user's sessions (subject or e-mail)")
	cmd.Flags().StringVar(&o.connection, "connection", "", "only sessions on this connection")
	cmd.Flags().StringVar(&o.since, "since", "", "only sessions started since: a duration back (24h) or a time (2026-01-02T15:04:05Z)")
	cmd.Flags().IntVar(&o.limit, "limit", 100, "at most this many sessions")
	addOutputFlag(cmd, &o.output)
	return cmd
}

func sessionsList(ctx context.Context, f *factory, o sessionsListOptions) error {
	q := url.Values{}
	for k, v := range map[string]string{"user": o.user, "connection": o.connection, "since": o.since} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", fmt.Sprint(o.limit))
	var list []api.Session
	if _, err := f.get(ctx, "/api/v1/sessions?"+q.Encode(), &list); err != nil {
		return err
	}
	if o.output == "json" {
		if list == nil {
			list = []api.Session{}
		}
		return writeJSON(f, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(f.io.ErrOut, "No recorded sessions match.")
		return nil
	}
	w := tabwriter.NewWriter(f.io.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tUSER\tCONNECTION\tAPPLICATION\tSTART\tDURATION\tSTATEMENTS\tEND")
	for _, s := range list {
		dur, end := "open", "-"
		if !s.End.IsZero() {
			dur, end = s.End.Sub(s.Start).Round(time.Millisecond).String(), s.EndReason
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.User, s.Connection, orDash(s.Application),
			s.Start.Local().Format("2006-01-02 15:04:05"), dur, s.Statements, end)
	}
	return w.Flush()
}

func newSessionsShowCmd(f *factory) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a session: its statements, decisions and results",
		Args:  exactArgs(1, "a session id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			d, err := getSession(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(f, d)
			}
			return showSession(f.io.Out, d)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// exactArgs is cobra.ExactArgs with a message that says what is missing.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return &usageError{fmt.Errorf("%s wants %s", cmd.CommandPath(), what)}
		}
		return nil
	}
}

func getSession(ctx context.Context, f *factory, id string) (*api.SessionDetail, error) {
	var d api.SessionDetail
	if _, err := f.get(ctx, "/api/v1/sessions/"+url.PathEscape(id), &d); err != nil {
		return nil, err
	}
	return &d, nil
}

func showSession(w io.Writer, d *api.SessionDetail) error {
	s := d.Session
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "session:\t%s\n", s.ID)
	fmt.Fprintf(tw, "user:\t%s (groups: %s)\n", s.User, groups(s.Groups))
	fmt.Fprintf(tw, "connection:\t%s as %s (%s access)\n", s.Connection, s.DBUser, s.Access)
	fmt.Fprintf(tw, "client:\t%s from %s\n", orDash(s.Application), s.Source)
	fmt.Fprintf(tw, "started:\t%s\n", s.Start.Local().Format(time.RFC3339))
	if !s.End.IsZero() {
		fmt.Fprintf(tw, "ended:\t%s (%s), after %s\n", s.End.Local().Format(time.RFC3339), s.EndReason, s.End.Sub(s.Start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(tw, "ended:\tstill open\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range d.Statements {
		fmt.Fprintf(w, "\n#%d  %s  +%s  %s %s", st.Seq, st.Start.Local().Format("15:04:05.000"),
			st.Start.Sub(s.Start).Round(time.Millisecond), st.Class, st.Decision)
		if st.Rule != "" {
			fmt.Fprintf(w, " (rule %s)", st.Rule)
		}
		fmt.Fprintf(w, "  %s\n", st.State)
		fmt.Fprintf(w, "  %s\n", indent(st.SQL, "  "))
		if len(st.Params) > 0 {
			ps := make([]string, len(st.Params))
			for i, p := range st.Params {
				ps[i] = fmt.Sprintf("$%d=%s", i+1, value(p))
			}
			fmt.Fprintf(w, "  params: %s\n", strings.Join(ps, " "))
		}
		var parts []string
		if st.CommandTag != "" {
			parts = append(parts, st.CommandTag)
		}
		if st.State != "refused" {
			parts = append(parts, fmt.Sprintf("%d rows", st.Rows), fmt.Sprintf("%.3f ms", st.DurationMS))
		}
		if len(parts) > 0 {
			fmt.Fprintf(w, "  -> %s\n", strings.Join(parts, ", "))
		}
		if st.Error != "" {
			fmt.Fprintf(w, "  error: %s\n", st.Error)
		}
		if st.ReviewID != "" {
			fmt.Fprintf(w, "  review: %s\n", st.ReviewID)
		}
		if len(st.Masking) > 0 {
			fmt.Fprintf(w, "  masked: %s\n", masking(st.Masking))
		}
	}
	return nil
}

func indent(s, pad string) string { return strings.ReplaceAll(strings.TrimSpace(s), "\n", "\n"+pad) }

func value(p *string) string {
	if p == nil {
		return "NULL"
	}
	return fmt.Sprintf("%q", *p)
}

func masking(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, " ")
}

type replayOptions struct {
	speed   float64
	maxWait time.Duration
}

func newSessionsReplayCmd(f *factory) *cobra.Command {
	o := replayOptions{speed: 1, maxWait: 2 * time.Second}
	cmd := &cobra.Command{
		Use:   "replay ID",
		Short: "Print a session as it happened, with its timing, as psql would have shown it",
		Args:  exactArgs(1, "a session id"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.speed <= 0 {
				return &usageError{fmt.Errorf("--speed %v: want a number above 0", o.speed)}
			}
			d, err := getSession(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			return replay(cmd.Context(), f.io.Out, d, o, retry.Sleep)
		},
	}
	cmd.Flags().Float64Var(&o.speed, "speed", o.speed, "replay this many times faster (2: twice as fast)")
	cmd.Flags().DurationVar(&o.maxWait, "max-wait", o.maxWait, "cap each pause at this long (0: no cap)")
	return cmd
}

// replay prints each statement at its time, scaled by speed, after a prompt, with its
// result as psql's aligned format shows it.
func replay(ctx context.Context, w io.Writer, d *api.SessionDetail, o replayOptions, sleep func(context.Context, time.Duration) error) error {
	s := d.Session
	fmt.Fprintf(w, "-- hoop replay of session %s: %s on %s as %s (%s), %s\n", s.ID, s.User, s.Connection, s.DBUser,
		orDash(s.Application), s.Start.Local().Format(time.RFC3339))
	prompt := s.Connection + "=> "
	at := s.Start
	for _, st := range d.Statements {
		wait := time.Duration(float64(st.Start.Sub(at)) / o.speed)
		if o.maxWait > 0 && wait > o.maxWait {
			wait = o.maxWait
		}
		if wait > 0 {
			if err := sleep(ctx, wait); err != nil {
				return err
			}
		}
		at = st.Start
		fmt.Fprintf(w, "%s%s\n", prompt, strings.ReplaceAll(strings.TrimSpace(st.SQL), "\n", "\n"+strings.Repeat(" ", len(prompt)-3)+"-> "))
		if len(st.Params) > 0 {
			ps := make([]string, len(st.Params))
			for i, p := range st.Params {
				ps[i] = fmt.Sprintf("$%d=%s", i+1, value(p))
			}
			fmt.Fprintf(w, "-- params: %s\n", strings.Join(ps, " "))
		}
		switch {
		case st.State == "refused" || (st.Error != "" && len(st.Columns) == 0):
			fmt.Fprintf(w, "ERROR:  %s\n", st.Error)
		case len(st.Columns) > 0:
			printTable(w, st)
			if st.Error != "" {
				fmt.Fprintf(w, "ERROR:  %s\n", st.Error)
			}
		case st.CommandTag != "":
			fmt.Fprintln(w, st.CommandTag)
		}
		if st.State == "interrupted" || st.State == "sent" {
			fmt.Fprintf(w, "-- %s: %s\n", st.State, orDash(st.Error))
		}
		fmt.Fprintln(w)
	}
	if !s.End.IsZero() {
		fmt.Fprintf(w, "-- session ended %s: %s\n", s.End.Local().Format(time.RFC3339), s.EndReason)
	}
	return nil
}

// printTable prints rows like psql's aligned format: centred headers, " | " between
// columns, a "-+-" rule, and the row count.
func printTable(w io.Writer, st api.Statement) {
	widths := make([]int, len(st.Columns))
	for i, c := range st.Columns {
		widths[i] = utf8.RuneCountInString(c)
	}
	cell := func(v *string) string {
		if v == nil {
			return ""
		}
		return *v
	}
	for _, r := range st.Result {
		for i := range widths {
			if i < len(r) {
				widths[i] = max(widths[i], utf8.RuneCountInString(cell(r[i])))
			}
		}
	}
	var b strings.Builder
	for i, c := range st.Columns {
		if i > 0 {
			b.WriteString("|")
		}
		pad := widths[i] - utf8.RuneCountInString(c)
		left := pad / 2
		fmt.Fprintf(&b, " %s%s%s ", strings.Repeat(" ", left), c, strings.Repeat(" ", pad-left))
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	b.Reset()
	for i := range st.Columns {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Repeat("-", widths[i]+2))
	}
	fmt.Fprintln(w, b.String())
	for _, r := range st.Result {
		b.Reset()
		for i := range st.Columns {
			if i > 0 {
				b.WriteString("|")
			}
			v := ""
			if i < len(r) {
				v = cell(r[i])
			}
			fmt.Fprintf(&b, " %s%s ", v, strings.Repeat(" ", widths[i]-utf8.RuneCountInString(v)))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	rows := "rows"
	if st.Rows == 1 {
		rows = "row"
	}
	if int64(len(st.Result)) < st.Rows {
		fmt.Fprintf(w, "(%d %s; the recording kept %d)\n", st.Rows, rows, len(st.Result))
	} else {
		fmt.Fprintf(w, "(%d %s)\n", st.Rows, rows)
	}
}

func newAuditCmd(f *factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check the gateway's audit trail (recordings readers only)",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newOutputCmd("verify", "Recompute the audit hash chain; exit 1 at the first edited, inserted or missing event", auditVerify, f))
	return cmd
}

// errChainBroken is the exit of a failed verify: the report is already printed.
type errChainBroken struct{ reason string }

func (e *errChainBroken) Error() string { return "the audit trail is broken: " + e.reason }

func auditVerify(ctx context.Context, f *factory, output string) error {
	var r api.AuditReport
	if _, err := f.get(ctx, "/api/v1/audit/verify", &r); err != nil {
		return err
	}
	if output == "json" {
		if err := writeJSON(f, r); err != nil {
			return err
		}
	} else if r.OK {
		fmt.Fprintf(f.io.Out, "audit trail intact: %d events verified\n", r.Checked)
	}
	if !r.OK {
		return &errChainBroken{reason: r.Reason}
	}
	return nil
}
