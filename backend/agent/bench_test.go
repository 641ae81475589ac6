package agent

import (
	"testing"
	"time"

	"github.com/fieldlink/fieldlink/backend/testbed/fakebus"
)

// BenchmarkSecretRoundTrip: NetworkManager's GetSecrets to the agent, the
// prompt handed to the screen, answered at once, and the reply back to
// NetworkManager: fieldlink's share of a Wi-Fi key prompt (the person's
// typing aside), over a private bus.
func BenchmarkSecretRoundTrip(b *testing.B) {
	r := start(b, 5*time.Second)
	prof := r.profile(b, fakebus.WiFiProfileSettings("NHS-Community", "NHS-Community"))
	go func() {
		for q := range r.screen {
			if !q.Withdrawn {
				r.a.Answer(q.ID, map[string]string{"psk": "k"})
			}
		}
	}()
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := r.n.AskSecrets(prof, "802-11-wireless-security", []string{"psk"}, 1, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(t0).Microseconds())/float64(b.N), "us/prompt-round-trip")
}
