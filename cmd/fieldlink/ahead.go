package main

import (
	"context"
	"encoding/json"

	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// aheadNews carries a fresh fleet summary from the sync to the watcher.
type aheadNews = chan *report.Ahead

// readAhead is the fleet summary kept in the journal at path (nil when it
// has none, or cannot be read: nothing to show is no error for a screen).
func readAhead(ctx context.Context, path string) *report.Ahead {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return nil
	}
	defer j.Close()
	doc, _, err := j.Ahead(ctx)
	if err != nil || doc == nil {
		return nil
	}
	var a report.Ahead
	if json.Unmarshal(doc, &a) != nil {
		return nil
	}
	return &a
}

// watchAhead tells every screen what the fleet found in the area the
// device is in now: the summary the last sync brought (read from the
// journal at start, replaced by news from each sync), looked up by the
// area of the link carrying the work as it changes.
func (r *running) watchAhead(ctx context.Context, news aheadNews) {
	sum := readAhead(ctx, r.journal)
	states, stop := r.eng.Subscribe()
	defer stop()
	area := ""
	show := func() {
		if sum == nil {
			r.eng.SetAhead("")
			return
		}
		r.eng.SetAhead(sum.Line(area))
	}
	show()
	for {
		select {
		case <-ctx.Done():
			return
		case a := <-news:
			sum = a
			show()
		case st := <-states:
			here := ""
			if l := st.Snapshot.PrimaryLink(); l != nil {
				here = l.Area
			}
			if here != area {
				area = here
				show()
			}
		}
	}
}
