package server

import (
	"context"
	"time"

	"github.com/fieldlink/fieldlink/backend/report"
)

// TrendMonths is how many whole months the trends show.
const TrendMonths = 6

// trends are the operators' shares month by month, over every area or in
// one, for the last TrendMonths months (this one included).
func (s *Server) trends(ctx context.Context, area string, now time.Time) ([]report.Trend, error) {
	months, err := s.monthFigures(ctx, now)
	if err != nil {
		return nil, err
	}
	return report.Trends(months, area), nil
}

// monthFigures reads each month's report, at most every aheadEvery.
func (s *Server) monthFigures(ctx context.Context, now time.Time) ([]report.MonthFigures, error) {
	return s.monthly.get(now, func() ([]report.MonthFigures, error) {
		y, m, _ := now.UTC().Date()
		var out []report.MonthFigures
		for i := TrendMonths - 1; i >= 0; i-- {
			from := time.Date(y, m-time.Month(i), 1, 0, 0, 0, 0, time.UTC)
			rep, _, err := report.From(ctx, s.store.Fetcher(), report.Query{Since: from, Until: from.AddDate(0, 1, 0),
				VisitShare: s.opt.VisitShare, DeviceShare: s.opt.DeviceShare, Areas: s.opt.Areas})
			if err != nil {
				return nil, err
			}
			out = append(out, report.FiguresOf(from.Format("Jan 2006"), rep))
		}
		return out, nil
	})
}
