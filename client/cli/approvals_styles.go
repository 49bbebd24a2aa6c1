package cli

import (
	"io"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
)

// approvalsRenderer is the lipgloss renderer for out: its colors are what the terminal
// supports, and none at all when NO_COLOR is set (https://no-color.org: any value but
// the empty string).
func approvalsRenderer(out io.Writer, env Env, opts ...termenv.OutputOption) *lipgloss.Renderer {
	r := lipgloss.NewRenderer(out, opts...)
	if v, ok := env("NO_COLOR"); ok && v != "" {
		r.SetColorProfile(termenv.Ascii)
	}
	return r
}

// approvalsStyles are the UI's styles, all from one renderer, bubbles' widgets included:
// a style made with lipgloss.NewStyle would use the default renderer and ignore NO_COLOR.
type approvalsStyles struct {
	r *lipgloss.Renderer

	title    lipgloss.Style // the top line
	header   lipgloss.Style // the list's column names
	selected lipgloss.Style // the selected row
	label    lipgloss.Style // field names in the detail view
	faint    lipgloss.Style // less important text
	ok       lipgloss.Style // a decision went through
	err      lipgloss.Style // the gateway said no, the stream is down
	prompt   lipgloss.Style // a question waiting for the user
	help     help.Styles
}

func newApprovalsStyles(r *lipgloss.Renderer) approvalsStyles {
	faint := r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "245", Dark: "243"})
	return approvalsStyles{
		r:        r,
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "25", Dark: "75"}),
		header:   r.NewStyle().Bold(true),
		selected: r.NewStyle().Reverse(true),
		label:    r.NewStyle().Bold(true),
		faint:    faint,
		ok:       r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "28", Dark: "42"}),
		err:      r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "160", Dark: "203"}),
		prompt:   r.NewStyle().Bold(true).Foreground(lipgloss.AdaptiveColor{Light: "130", Dark: "214"}),
		help: help.Styles{
			Ellipsis:       faint,
			ShortKey:       r.NewStyle().Bold(true),
			ShortDesc:      faint,
			ShortSeparator: faint,
			FullKey:        r.NewStyle().Bold(true),
			FullDesc:       r.NewStyle(),
			FullSeparator:  faint,
		},
	}
}
