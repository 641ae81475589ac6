package server

import "time"

type preset struct{ name, since, until string }

// periodPresets are the periods offered as one click, from today (a
// date): the last 7, 30 and 90 days, this month, and the last whole
// quarter.
func periodPresets(today string) []preset {
	t, err := time.Parse(time.DateOnly, today)
	if err != nil {
		return nil
	}
	d := func(x time.Time) string { return x.Format(time.DateOnly) }
	y, m, _ := t.Date()
	q := (int(m)-1)/3*3 + 1 // this quarter's first month
	lastQ := time.Date(y, time.Month(q)-3, 1, 0, 0, 0, 0, time.UTC)
	return []preset{
		{"last 7 days", d(t.AddDate(0, 0, -6)), d(t)},
		{"last 30 days", d(t.AddDate(0, 0, -29)), d(t)},
		{"last 90 days", d(t.AddDate(0, 0, -89)), d(t)},
		{"this month", d(time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)), d(t)},
		{"last quarter", d(lastQ), d(lastQ.AddDate(0, 3, -1))},
	}
}
