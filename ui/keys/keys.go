// Package keys is fieldlink's key map, shared by the root model and the
// help footer.
package keys

import "charm.land/bubbles/v2/key"

// Map holds every binding.
type Map struct {
	Up      key.Binding
	Down    key.Binding
	Scroll  key.Binding // help text only: Up/Down scroll the detail view
	Choose  key.Binding // help text only: Up/Down move on the list of networks
	Details key.Binding
	Back    key.Binding
	Visit   key.Binding
	Reports key.Binding
	// Networks opens the list of Wi-Fi networks, to join one.
	Networks key.Binding
	VPN      key.Binding
	App      key.Binding
	Help     key.Binding
	Quit     key.Binding
}

// New returns the key map; ascii picks help labels the Linux console can
// draw.
func New(ascii bool) Map {
	up, down, both := "↑/k", "↓/j", "↑/↓"
	if ascii {
		up, down, both = "up/k", "down/j", "up/down"
	}
	return Map{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp(up, "previous link")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp(down, "next link")),
		Scroll:   key.NewBinding(key.WithKeys("up", "down"), key.WithHelp(both, "scroll")),
		Choose:   key.NewBinding(key.WithKeys("up", "down"), key.WithHelp(both, "choose a network")),
		Details:  key.NewBinding(key.WithKeys("enter", "d"), key.WithHelp("enter", "details")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Visit:    key.NewBinding(key.WithKeys("v"), key.WithHelp("v", "visit in/out")),
		Reports:  key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "reports")),
		Networks: key.NewBinding(key.WithKeys("w"), key.WithHelp("w", "Wi-Fi networks, join one")),
		VPN:      key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "connect the VPN now")),
		App:      key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "start the app")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
	}
}

// ShortHelp is the footer line.
func (m Map) ShortHelp() []key.Binding {
	return []key.Binding{m.Down, m.Details, m.Visit, m.Reports, m.Help, m.Quit}
}

// FullHelp is the help screen, one column per group.
func (m Map) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{m.Up, m.Down, m.Details, m.Back},
		{m.Visit, m.Reports, m.Networks, m.VPN, m.App, m.Help, m.Quit},
	}
}
