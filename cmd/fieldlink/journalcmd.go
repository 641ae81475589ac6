package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"github.com/fieldlink/fieldlink/backend/fleet/upload"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/journal"
	"github.com/fieldlink/fieldlink/backend/report"
)

// journalPath is where this front end's journal lives: --db, then the
// config's journal.path, then the state directory. Demos and scenarios
// journal apart, so a demo never pollutes the real record.
func (c *common) journalPath(cfg config.Config) (string, error) {
	return c.journalPathFor(cfg, "demo-journal.db")
}

// journalPathFor is journalPath with the demo journal's name (a demo
// apart from another has its own: charge.Claim.DemoJournal).
func (c *common) journalPathFor(cfg config.Config, demoName string) (string, error) {
	if c.db != "" {
		return c.db, nil
	}
	if cfg.Journal.Path != "" && !c.simulated() {
		return cfg.Journal.Path, nil
	}
	dir, err := c.stateDirectory()
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(dir); err == nil {
		if err := checkStateDir(dir); err != nil {
			return "", err
		}
	}
	if c.simulated() {
		return filepath.Join(dir, demoName), nil
	}
	return journal.DefaultPath(dir), nil
}

// journalOptions are the recorder's settings from the config.
func journalOptions(cfg config.Config) journal.Options {
	return journal.Options{
		SampleEvery: cfg.Journal.SampleInterval.D(),
		Heartbeat:   cfg.Journal.Heartbeat.D(),
		Retention:   time.Duration(cfg.Journal.RetentionDays) * 24 * time.Hour,
		ResumeVisit: cfg.Journal.VisitResume.D(),
	}
}

// areaMap reads the area map the config names (relative to the config
// file); nil when it names none.
func areaMap(cfg config.Config) (*areas.Map, error) {
	p := cfg.Journal.AreaMap
	if p == "" {
		return nil, nil
	}
	if !filepath.IsAbs(p) && cfg.Path != "" {
		p = filepath.Join(filepath.Dir(cfg.Path), p)
	}
	return areas.Load(p)
}

// oneLine is the first line of a many-line error, with how many more
// there are: a warning band has one line.
func oneLine(err error) string {
	first, rest, _ := strings.Cut(err.Error(), "\n")
	if n := strings.Count(rest, "\n") + 1; rest != "" {
		return fmt.Sprintf("%s (and %d more)", first, n)
	}
	return first
}

// dateFlag parses --since/--until: a date (UTC day) or an RFC 3339 time,
// or a duration back from now ("30d", "12h").
type dateFlag struct {
	t time.Time
	// through makes a date the last day included (--until 2026-11-30
	// reports November 30th too, as a manager means it); a time stays
	// the first instant left out.
	through bool
}

func (d *dateFlag) String() string {
	if d.t.IsZero() {
		return ""
	}
	return d.t.Format(time.RFC3339)
}

func (d *dateFlag) Set(s string) error {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		d.t = t
		if d.through {
			d.t = t.AddDate(0, 0, 1)
		}
		return nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		d.t = t
		return nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days > 0 {
			d.t = time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -days+1)
			return nil
		}
	}
	if dur, err := time.ParseDuration(s); err == nil && dur > 0 {
		d.t = time.Now().Add(-dur)
		return nil
	}
	return fmt.Errorf("want a date (2026-11-01), a time (2026-11-01T09:00:00Z) or a span back from now (30d, 12h)")
}

// output opens --output, or stdout; files are created 0600 (a report
// names devices and places).
func output(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "" || path == "-" {
		return stdout, func() error { return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, nil, err
	}
	return f, f.Close, nil
}

const reportUsage = `Usage: fieldlink report [flags]

Which operators give workable signal in which areas, per visit: a table of
areas by network ("Northfield: EE workable in 92% of 61 visits"), dead
zones first; a line per operator; the headline managers quote (the share
of clinicians' devices with workable signal in at least --device-share of
their visits, for the period); then time by network, area, device, week
and day. Areas are named by the area map (journal.area_map, or --areas);
codes it does not name are listed. Reads this device's journal, or a
fleet's (see 'fieldlink journal import').

Flags:
`

func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink report", flag.ContinueOnError)
	var c common
	c.register(fs)
	var since dateFlag
	until := dateFlag{through: true}
	fs.Var(&since, "since", "first day reported: 2026-11-01, an RFC 3339 time, or back from now: 30d")
	fs.Var(&until, "until", "last day reported (included): 2026-11-30; or an RFC 3339 time (left out)")
	format := fs.String("format", "table", "table, csv, json or html (one self-contained file with charts)")
	out := fs.String("output", "", "write to this file (created 0600) instead of standard output")
	visitShare := fs.Float64("visit-share", 0, "a visit is workable when its link was workable for this share of it (default: config journal.visit_share, 0.8)")
	deviceShare := fs.Float64("device-share", 0, "the headline's mark: share of a device's visits that must be workable (default: config journal.device_share, 0.85)")
	device := fs.String("device", "", "report on one device: its hostname, its id or a unique start of the id")
	areaFile := fs.String("areas", "", "the area map naming places (default: config journal.area_map)")
	server := fs.String("server", "", "read the fleet report from a fieldlink serve (https://…) instead of a journal")
	viewerToken := fs.String("token-file", "", "with --server: a file holding a viewer token ('fieldlink serve viewer'); default $FIELDLINK_VIEWER_TOKEN")
	group := fs.String("group", "", "with --server: one group of devices")
	caFile := fs.String("ca-file", "", "with --server: a CA certificate to trust for it besides the system's (default: config sync.ca_file)")
	ahead := fs.Bool("areas-ahead", false, "what the fleet found in this device's areas of recent weeks (the summary its last sync brought; works offline)")
	if err := parse(fs, args, reportUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	cfg, err := config.Load(c.config)
	if err != nil {
		return err
	}
	if *areaFile != "" {
		cfg.Journal.AreaMap, cfg.Path = *areaFile, ""
	}
	names, err := areaMap(cfg)
	if err != nil {
		return err
	}
	q := report.Query{Since: since.t, Until: until.t, VisitShare: cfg.Journal.VisitShare, DeviceShare: cfg.Journal.DeviceShare,
		Device: *device, Areas: names}
	if *visitShare != 0 {
		q.VisitShare = *visitShare
	}
	if *deviceShare != 0 {
		q.DeviceShare = *deviceShare
	}
	for name, v := range map[string]float64{"--visit-share": q.VisitShare, "--device-share": q.DeviceShare} {
		if v <= 0 || v > 1 {
			return fmt.Errorf("%s %g: want a share between 0 and 1 (0.8 is 80%%)", name, v)
		}
	}
	write := map[string]func(*report.Report, io.Writer) error{
		"table": (*report.Report).WriteTable, "csv": (*report.Report).WriteCSV,
		"json": (*report.Report).WriteJSON, "html": (*report.Report).WriteHTML,
	}[*format]
	if write == nil {
		return fmt.Errorf("--format %q: want table, csv, json or html", *format)
	}
	if *server != "" {
		rep, err := fetchReport(*server, *viewerToken, cmp.Or(*caFile, cfg.Sync.CAFile), since, until, *device, *group, q)
		if err != nil {
			return err
		}
		return writeReport(rep, write, *out, stdout, stderr)
	}
	path, err := c.journalPath(cfg)
	if err != nil {
		return err
	}
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		if os.IsNotExist(err) || strings.Contains(err.Error(), "no such file") {
			return fmt.Errorf("no journal at %s yet: fieldlink records one while it runs (or give --db)", path)
		}
		return err
	}
	defer j.Close()
	if *ahead {
		return writeAhead(j, *format, *out, stdout, stderr)
	}
	q.PeriodsOfUse = true // a journal's own report; a fleet's (--server) counts marked visits only
	rep, err := report.Build(context.Background(), j.DB(), q)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeReport(rep, write, *out, stdout, stderr)
}

// writeAhead writes the fleet's summary kept in the journal, as text or
// JSON (the document the server sent).
func writeAhead(j *journal.Journal, format, out string, stdout, stderr io.Writer) error {
	doc, _, err := j.Ahead(context.Background())
	if err != nil {
		return fmt.Errorf("%s: %w", j.Path(), err)
	}
	if doc == nil {
		return errors.New("no summary from the fleet yet: it comes with this device's first sync to a fleet server ([sync] in the config; 'fieldlink journal sync')")
	}
	var a report.Ahead
	if err := json.Unmarshal(doc, &a); err != nil {
		return fmt.Errorf("%s: the fleet's summary kept there: %w", j.Path(), err)
	}
	w, closeOut, err := output(out, stdout)
	if err != nil {
		return err
	}
	switch format {
	case "json":
		_, err = w.Write(append(doc, '\n'))
	case "table":
		err = a.WriteText(w, time.Local)
	default:
		err = fmt.Errorf("--format %q: with --areas-ahead, want table or json", format)
	}
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err == nil && out != "" && out != "-" {
		fmt.Fprintf(stderr, "fieldlink: written to %s\n", out)
	}
	return err
}

// writeReport writes a report in its format to --output or stdout.
func writeReport(rep *report.Report, write func(*report.Report, io.Writer) error, out string, stdout, stderr io.Writer) error {
	w, closeOut, err := output(out, stdout)
	if err != nil {
		return err
	}
	if err := write(rep, w); err != nil {
		closeOut()
		return err
	}
	if err := closeOut(); err != nil {
		return err
	}
	if out != "" && out != "-" {
		fmt.Fprintf(stderr, "fieldlink: report written to %s\n", out)
	}
	return nil
}

// fetchReport reads the fleet report from a fieldlink serve.
func fetchReport(serverURL, tokenFile, caFile string, since, until dateFlag, device, group string, q report.Query) (*report.Report, error) {
	tok := os.Getenv("FIELDLINK_VIEWER_TOKEN")
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, err
		}
		tok = strings.TrimSpace(string(b))
	}
	if err := upload.CheckServer(serverURL); err != nil {
		return nil, fmt.Errorf("report --server: %w", err)
	}
	if tok == "" {
		return nil, errors.New("report --server: a viewer token, in --token-file or $FIELDLINK_VIEWER_TOKEN ('fieldlink serve viewer NAME' makes one)")
	}
	v := url.Values{}
	if !since.t.IsZero() {
		v.Set("since", since.t.UTC().Format(time.DateOnly))
	}
	if !until.t.IsZero() {
		v.Set("until", until.t.UTC().AddDate(0, 0, -1).Format(time.DateOnly))
	}
	v.Set("visit_share", strconv.FormatFloat(q.VisitShare, 'f', -1, 64))
	v.Set("device_share", strconv.FormatFloat(q.DeviceShare, 'f', -1, 64))
	for k, x := range map[string]string{"device": device, "group": group} {
		if x != "" {
			v.Set(k, x)
		}
	}
	req, err := http.NewRequest(http.MethodGet, strings.TrimRight(serverURL, "/")+"/report.json?"+v.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("report --server %q: %w", serverURL, err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	client, err := upload.Client(caFile, time.Minute)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, upload.Explain(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fleet server: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	var rep report.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		return nil, fmt.Errorf("fleet server: a report that does not parse: %w", err)
	}
	return &rep, nil
}

const journalUsage = `Usage: fieldlink journal COMMAND [flags]

The on-device record of connection sessions, signal samples, events and
visits (no patient data, ever).

Commands:
  export [--since …] [--format ndjson|csv] [--records …] [--output FILE]
        records keyed by device id + session/visit UUID, so repeated
        exports merge without duplicates
  import FILE…   merge exports (from many devices) into --db
  sync [--now]   send what changed to the fleet server ([sync] server)
  check          integrity check and row counts
  path           where the journal is

Flags (every command):
`

// journalArgs are a journal subcommand's flags, parsed.
type journalArgs struct {
	sub                     string
	c                       common
	since, until            dateFlag
	format, records, output string
	allowDemo, now          bool
	files                   []string
}

func cmdJournal(args []string, stdout, stderr io.Writer) error {
	a, err := parseJournal(args, stdout, stderr)
	if err != nil {
		return err
	}
	cfg, err := config.Load(a.c.config)
	if err != nil {
		return err
	}
	path, err := a.c.journalPath(cfg)
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch a.sub {
	case "path":
		fmt.Fprintln(stdout, path)
		return nil
	case "sync":
		return journalSync(ctx, a, cfg, path, stdout)
	case "check":
		return journalCheck(ctx, path, stdout)
	case "export":
		return journalExport(ctx, a, path, stdout, stderr)
	default:
		return journalImport(ctx, a, path, stderr)
	}
}

// parseJournal reads the subcommand and its flags; a bare "journal" or an
// unknown subcommand is the usage.
func parseJournal(args []string, stdout, stderr io.Writer) (*journalArgs, error) {
	a := &journalArgs{until: dateFlag{through: true}}
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs := flag.NewFlagSet("fieldlink journal", flag.ContinueOnError)
		a.c.register(fs)
		if err := parse(fs, args, journalUsage, stdout, stderr); err != nil {
			return nil, err
		}
		fs.Usage()
		return nil, errUsage
	}
	a.sub, args = args[0], args[1:]
	fs := flag.NewFlagSet("fieldlink journal "+a.sub, flag.ContinueOnError)
	a.c.register(fs)
	switch a.sub {
	case "export":
		fs.Var(&a.since, "since", "records from this day or time on: 2026-11-01, RFC 3339, or 30d")
		fs.Var(&a.until, "until", "records up to this day (included), or before this RFC 3339 time")
		fs.StringVar(&a.format, "format", "ndjson", "ndjson (one JSON record a line, for import) or csv (one record type, default session, for spreadsheets)")
		fs.StringVar(&a.records, "records", "", "comma-separated record types (default all): "+strings.Join(journal.RecordTypes(), ","))
		fs.StringVar(&a.output, "output", "", "write to this file (created 0600) instead of standard output")
	case "import":
		fs.BoolVar(&a.allowDemo, "allow-demo", false, "merge a demo's records (simulated data) into a real journal")
	case "sync":
		fs.BoolVar(&a.now, "now", false, "send even when the last sync is more recent than [sync] interval")
	case "check", "path":
	default:
		fmt.Fprintf(stderr, "fieldlink journal: unknown command %q\n\n", a.sub)
		fs.SetOutput(stderr)
		fmt.Fprint(stderr, journalUsage)
		fs.PrintDefaults()
		return nil, errUsage
	}
	if err := parse(fs, args, journalUsage, stdout, stderr); err != nil {
		return nil, err
	}
	if (a.sub == "import") != (fs.NArg() > 0) {
		fs.Usage()
		return nil, errUsage
	}
	a.files = fs.Args()
	return a, nil
}

// journalSync sends what changed to the fleet server, unless the last
// sync is recent and --now was not given.
func journalSync(ctx context.Context, a *journalArgs, cfg config.Config, path string, stdout io.Writer) error {
	if a.c.simulated() {
		return errors.New("journal sync: a demo's journal never goes to the fleet server")
	}
	if cfg.Sync.Server == "" {
		return errors.New("journal sync: no fleet server: set [sync] server (and token_file) in the config")
	}
	j, err := journal.Open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	st, err := j.Sync(ctx, cfg.Sync.Server)
	if err != nil {
		return err
	}
	failed := st.LastError != "" && st.LastTry.After(st.LastOK)
	if !a.now && !failed && !st.LastOK.IsZero() && time.Since(st.LastOK) < cfg.Sync.Interval.D() {
		fmt.Fprintf(stdout, "the journal reached %s at %s; nothing due before %s (--now sends anyway)\n", cfg.Sync.Server,
			st.LastOK.Local().Format("15:04"), st.LastOK.Add(cfg.Sync.Interval.D()).Local().Format("15:04"))
		return nil
	}
	if failed {
		fmt.Fprintf(stdout, "the last sync failed at %s: %s; trying again\n", st.LastTry.Local().Format("15:04"), st.LastError)
	}
	res, err := syncJournal(ctx, j, cfg)
	if err != nil {
		return fmt.Errorf("journal sync: %w; %s", err, unsent(ctx, j, cfg.Sync.Server))
	}
	fmt.Fprintf(stdout, "%s: %s\n", cfg.Sync.Server, res)
	switch {
	case res.Ahead != nil:
		fmt.Fprintf(stdout, "the fleet's summary of this device's areas: %d areas, from %s ('fieldlink report --areas-ahead')\n",
			len(res.Ahead.Areas), res.Ahead.Source(time.Local))
	case res.AheadErr != nil:
		fmt.Fprintf(stdout, "the fleet's summary of this device's areas could not be had (%v); the one before is kept\n", res.AheadErr)
	}
	return nil
}

// unsent says what the fleet server has not acknowledged yet: kept on the
// device, sent with the next sync that gets through.
func unsent(ctx context.Context, j *journal.Journal, server string) string {
	st, err := j.Sync(ctx, server)
	if err != nil {
		return "what is unsent is kept and sent next time"
	}
	stats, err := j.Export(ctx, io.Discard, journal.ExportOptions{Since: st.Acked, Records: upload.Records()})
	if err != nil {
		return "what is unsent is kept and sent next time"
	}
	var parts []string
	for _, t := range upload.Records() {
		if n := stats[t]; n > 0 && t != "device" {
			parts = append(parts, fmt.Sprintf("%d %s", n, t))
		}
	}
	since := "ever"
	if !st.Acked.IsZero() {
		since = st.Acked.Local().Format("2 Jan 15:04")
	}
	if len(parts) == 0 {
		return "nothing is waiting to be sent"
	}
	return fmt.Sprintf("not yet on the server (since %s), kept on this device and sent next time: %s", since, strings.Join(parts, ", "))
}

// journalCheck prints the integrity check and the row counts.
func journalCheck(ctx context.Context, path string, stdout io.Writer) error {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer j.Close()
	res, counts, err := j.Check(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(stdout, "journal     %s\ndevice      %s (%s)\nintegrity   %s\n", path, j.Device().ID, j.Device().Hostname, res)
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(stdout, "%-11s %d\n", n, counts[n])
	}
	if res != "ok" {
		return fmt.Errorf("%s: integrity check failed: %s", path, res)
	}
	return nil
}

// journalExport writes the records asked for, as NDJSON or CSV.
func journalExport(ctx context.Context, a *journalArgs, path string, stdout, stderr io.Writer) error {
	j, err := journal.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer j.Close()
	opt := journal.ExportOptions{Since: a.since.t, Until: a.until.t, Format: a.format}
	if a.records != "" {
		opt.Records = strings.Split(a.records, ",")
	} else if a.format == "csv" {
		opt.Records = []string{"session"} // a spreadsheet's usual question
	}
	w, closeOut, err := output(a.output, stdout)
	if err != nil {
		return err
	}
	stats, err := j.Export(ctx, w, opt)
	if cerr := closeOut(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fieldlink: exported %s\n", stats)
	return nil
}

// journalImport merges export files into the journal; every file must be
// there before the journal is touched.
func journalImport(ctx context.Context, a *journalArgs, path string, stderr io.Writer) error {
	for _, name := range a.files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		f.Close()
	}
	j, err := journal.Open(path)
	if err != nil {
		return err
	}
	defer j.Close()
	for _, name := range a.files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		stats, warnings, err := j.Import(ctx, f, name, journal.ImportOptions{AllowDemo: a.allowDemo})
		f.Close()
		if err != nil {
			return err
		}
		for _, w := range warnings {
			fmt.Fprintln(stderr, "fieldlink: warning: "+w)
		}
		fmt.Fprintf(stderr, "fieldlink: %s: merged %s\n", name, stats)
	}
	return nil
}

// syncOptions are the fleet server's address and this device's token, from
// the config; the token file must not be readable by everyone.
func syncOptions(cfg config.Config) (upload.Options, error) {
	o := upload.Options{Server: cfg.Sync.Server, CAFile: cfg.Sync.CAFile}
	fi, err := os.Stat(cfg.Sync.TokenFile)
	if err != nil {
		return o, fmt.Errorf("the device's upload token: %w (enroll it with 'fieldlink serve enroll' on the server)", err)
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return o, fmt.Errorf("the upload token %s can be read by everyone (mode %04o): chmod 600 it", cfg.Sync.TokenFile, fi.Mode().Perm())
	}
	b, err := os.ReadFile(cfg.Sync.TokenFile)
	if err != nil {
		return o, fmt.Errorf("the device's upload token: %w", err)
	}
	o.Token = strings.TrimSpace(string(b))
	return o, nil
}

// syncJournal sends the journal to the fleet server once, then brings
// back the fleet's summary of this device's areas (kept in the journal and
// shown offline). A summary that could not be had leaves the one before:
// the sync itself went through.
func syncJournal(ctx context.Context, j *journal.Journal, cfg config.Config) (upload.Result, error) {
	o, err := syncOptions(cfg)
	if err != nil {
		return upload.Result{}, err
	}
	res, err := upload.Sync(ctx, j, o)
	if err == nil {
		res.Ahead, res.AheadErr = upload.FetchAhead(ctx, j, o)
	}
	return res, err
}
