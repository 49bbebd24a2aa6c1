package cli

import (
	"slices"

	"github.com/charmbracelet/bubbles/key"
)

// approvalsKeys are the approvals UI's keys; the help screen lists them from here.
type approvalsKeys struct {
	Up, Down, Top, Bottom key.Binding
	Open, Back            key.Binding
	Approve, Deny         key.Binding
	Filter, Help          key.Binding
	Quit, ForceQuit       key.Binding

	// The answers to "approve r-17? y/n".
	Yes, No key.Binding
}

func newApprovalsKeys() approvalsKeys {
	return approvalsKeys{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Top:       key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g/home", "oldest")),
		Bottom:    key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G/end", "newest")),
		Open:      key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "details")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back, clear filter")),
		Approve:   key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "approve (y/n)")),
		Deny:      key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "deny (a reason)")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		Yes:       key.NewBinding(key.WithKeys("y", "Y")),
		No:        key.NewBinding(key.WithKeys("n", "N", "esc")),
	}
}

// listHelp is the list screen's keys, for help.Model.
type listHelp struct{ k approvalsKeys }

func (h listHelp) ShortHelp() []key.Binding {
	return []key.Binding{h.k.Open, h.k.Approve, h.k.Deny, h.k.Filter, h.k.Help, h.k.Quit}
}

func (h listHelp) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{h.k.Up, h.k.Down, h.k.Top, h.k.Bottom},
		{h.k.Open, h.k.Back, h.k.Filter},
		{h.k.Approve, h.k.Deny, h.k.Help, h.k.Quit, h.k.ForceQuit},
	}
}

// all is every key of the screens, as the help screen lists them.
func (k approvalsKeys) all() []key.Binding { return slices.Concat(listHelp{k}.FullHelp()...) }

// detailHelp is the detail screen's keys.
type detailHelp struct{ k approvalsKeys }

func (h detailHelp) ShortHelp() []key.Binding {
	back := key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back"))
	scroll := key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "scroll"))
	return []key.Binding{back, h.k.Approve, h.k.Deny, scroll, h.k.Help, h.k.Quit}
}

func (h detailHelp) FullHelp() [][]key.Binding { return listHelp(h).FullHelp() }

// promptKeys are the keys of a prompt, for its help line.
func (k approvalsKeys) promptKeys(p approvalsPrompt) []key.Binding {
	help := func(keys, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys), key.WithHelp(keys, desc))
	}
	switch p {
	case promptApprove:
		return []key.Binding{help("y", "approve"), help("n/esc", "cancel"), k.ForceQuit}
	case promptDeny:
		return []key.Binding{help("enter", "deny with this reason"), help("esc", "cancel"), k.ForceQuit}
	case promptFilter:
		return []key.Binding{help("enter", "keep the filter"), help("esc", "clear it"), k.ForceQuit}
	}
	return nil
}
