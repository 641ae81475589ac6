package frames

import (
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
)

// screen is a model whose view is the last word it was sent.
type screen struct {
	pacer *Pacer
	word  string
}

type wordMsg string

func (s *screen) Init() tea.Cmd { return nil }

func (s *screen) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	s.pacer.Activity()
	if w, ok := msg.(wordMsg); ok {
		s.word = string(w)
	}
	return s, nil
}

func (s *screen) View() tea.View { return tea.NewView("word: " + s.word) }

// terminal records what the program writes, and when a word first shows.
type terminal struct {
	mu   sync.Mutex
	out  strings.Builder
	want string
	seen chan struct{}
}

func (t *terminal) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out.Write(b)
	if t.want != "" && strings.Contains(t.out.String(), t.want) {
		close(t.seen)
		t.want = ""
	}
	return len(b), nil
}

func (t *terminal) expect(word string) <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.want, t.seen = word, make(chan struct{})
	return t.seen
}

// TestPacerFindsTheTicker: on this Bubble Tea the pacer holds the
// program's frame ticker (an upgrade that moves it fails here, and the
// screen would fall back to frames at a fixed rate), and a change made
// after a long quiet shows within a few frames: frames stop while idle,
// not the screen.
func TestPacerFindsTheTicker(t *testing.T) {
	term := &terminal{}
	s := &screen{}
	p := tea.NewProgram(s, tea.WithInput(nil), tea.WithOutput(term), tea.WithFPS(30), tea.WithoutSignalHandler(),
		tea.WithWindowSize(40, 5))
	s.pacer = New(p, 30)
	done := make(chan error, 1)
	go func() { _, err := p.Run(); done <- err }()
	defer func() { p.Quit(); <-done }()
	first := term.expect("hello")
	p.Send(wordMsg("hello"))
	select {
	case <-first:
	case <-time.After(2 * time.Second):
		t.Fatal("the first word never showed")
	}
	if !s.pacer.Hooked() {
		t.Fatal("the pacer cannot reach Bubble Tea's frame ticker: frames would run at a fixed rate all day")
	}
	time.Sleep(Quiet + 500*time.Millisecond) // asleep: the ticker is at idleFrame
	shown := term.expect("after-quiet")
	sent := time.Now()
	p.Send(wordMsg("after-quiet"))
	select {
	case <-shown:
		if took := time.Since(sent); took > 200*time.Millisecond {
			t.Fatalf("a change after a quiet spell took %v to show (a frame is 33 ms)", took)
		} else {
			t.Logf("a change after a quiet spell showed in %v", took)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a change after a quiet spell never showed: the frames did not wake")
	}
}
