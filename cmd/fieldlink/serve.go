package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/fieldlink/fieldlink/backend/areas"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/fleet/server"
	"github.com/fieldlink/fieldlink/backend/fleet/store"
)

const serveUsage = `Usage: fieldlink serve [flags]

The fleet server: devices send their journals to it (fieldlink's [sync]
section), it keeps them in PostgreSQL, and IT reads the fleet report in a
browser (sign in with a link from 'fieldlink serve viewer'), as CSV or
JSON, or with 'fieldlink report --server'. It migrates its database
itself, and rebuilds the report's pre-aggregates as uploads arrive.

Commands:
  fieldlink serve enroll NAME [--group G]   a device's upload token
  fieldlink serve viewer NAME [--url URL]   a sign-in link for the report
  fieldlink serve devices                   enrolled devices, last upload
  fieldlink serve replace NAME              a new token for a device (the old stops)
  fieldlink serve revoke NAME               withdraw a device's token

Flags:
`

type serveFlags struct {
	config, db string
}

func (s *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.config, "config", "", "config file (default: $XDG_CONFIG_HOME/fieldlink/config.toml, then /etc/fieldlink/config.toml)")
	fs.StringVar(&s.db, "db", "", "PostgreSQL URL (default: config server.db)")
}

func (s *serveFlags) open(ctx context.Context) (config.Config, *store.Store, error) {
	cfg, err := config.Load(s.config)
	if err != nil {
		return cfg, nil, err
	}
	url := s.db
	if url == "" {
		url = cfg.Server.DB
	}
	st, err := store.Open(ctx, url)
	return cfg, st, err
}

// openForName parses a `serve` subcommand that takes one NAME and opens
// the store: the steps enroll, viewer, replace and revoke share.
func (s *serveFlags) openForName(fs *flag.FlagSet, args []string, usage string, stdout, stderr io.Writer) (config.Config, *store.Store, string, error) {
	if err := parse(fs, args, usage, stdout, stderr); err != nil {
		return config.Config{}, nil, "", err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return config.Config{}, nil, "", errUsage
	}
	cfg, st, err := s.open(context.Background())
	return cfg, st, fs.Arg(0), err
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "enroll":
			return cmdServeEnroll(args[1:], stdout, stderr)
		case "viewer":
			return cmdServeViewer(args[1:], stdout, stderr)
		case "devices":
			return cmdServeDevices(args[1:], stdout, stderr)
		case "replace", "revoke":
			return cmdServeToken(args[0], args[1:], stdout, stderr)
		}
		fmt.Fprintf(stderr, "fieldlink serve: unknown command %q (enroll, viewer, devices, replace, revoke)\n", args[0])
		return errUsage
	}
	fs := flag.NewFlagSet("fieldlink serve", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	listen := fs.String("listen", "", "address to serve on (default: config server.listen, :8443)")
	cert := fs.String("tls-cert", "", "certificate for HTTPS (default: config server.tls_cert)")
	key := fs.String("tls-key", "", "its private key (default: config server.tls_key)")
	insecure := fs.Bool("insecure-http", false, "serve plain HTTP (behind a TLS proxy, or for a test on this machine)")
	if err := parse(fs, args, serveUsage, stdout, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cfg, st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	st.SetVisitShare(cfg.Journal.VisitShare)
	if *listen == "" {
		*listen = cfg.Server.Listen
	}
	// Each from the config unless given: the service passes its key as a
	// credential (--tls-key) and names the certificate in the config.
	if *cert == "" {
		*cert = cfg.Server.TLSCert
	}
	if *key == "" {
		*key = cfg.Server.TLSKey
	}
	if (*cert == "" || *key == "") && !*insecure {
		return errors.New("serve: no TLS certificate (--tls-cert and --tls-key, or [server] tls_cert and tls_key); --insecure-http serves plain HTTP behind a TLS proxy")
	}
	names, err := areaMap(cfg)
	if err != nil {
		return err
	}
	logger := log.New(stderr, "fieldlink serve: ", log.LstdFlags)
	srv := server.New(st, server.Options{VisitShare: cfg.Journal.VisitShare, DeviceShare: cfg.Journal.DeviceShare,
		Areas: names, Secure: !*insecure, BehindTLSProxy: cfg.Server.BehindTLSProxy, Log: logger})
	hs := &http.Server{Addr: *listen, Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: logger}
	go srv.Refresher(ctx, cfg.Server.Refresh.D(), logger.Printf)
	errs := make(chan error, 1)
	go func() {
		if *insecure {
			errs <- hs.ListenAndServe()
		} else {
			errs <- hs.ListenAndServeTLS(*cert, *key)
		}
	}()
	logger.Printf("serving on %s (%s)", *listen, map[bool]string{true: "plain HTTP", false: "HTTPS"}[*insecure])
	select {
	case err := <-errs:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Uploads in flight finish (or are cut off and sent again by their
	// devices: nothing is committed half-way).
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	logger.Printf("stopped")
	return nil
}

const enrollUsage = `Usage: fieldlink serve enroll NAME [flags]

Makes a device's upload token and prints it, once (the server keeps only
its hash). Put it on the device in the file [sync] token_file names
(/etc/fieldlink/sync.token, mode 0600), with [sync] server set. The token
binds to the device that first uploads with it, and writes only that
device's records.

Flags:
`

func cmdServeEnroll(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink serve enroll", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	group := fs.String("group", "", "the device's group (a team, a locality), for the report's group filter")
	_, st, name, err := sf.openForName(fs, args, enrollUsage, stdout, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	tok, err := st.Enroll(context.Background(), name, *group)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Enrolled %s", name)
	if *group != "" {
		fmt.Fprintf(stdout, " (group %s)", *group)
	}
	fmt.Fprintf(stdout, ". Its upload token, shown once:\n\n%s\n\nOn the device: put it in /etc/fieldlink/sync.token (owner root, mode 0600) and set [sync] server.\n", tok)
	return nil
}

const viewerUsage = `Usage: fieldlink serve viewer NAME [flags]

Makes a sign-in link to the fleet report for one person, and prints it.
Anyone with the link can read the report: send it as privately as a
password. Making a new link for the same NAME withdraws the old one.

Flags:
`

func cmdServeViewer(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink serve viewer", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	base := fs.String("url", "", "the server's address as browsers reach it (https://fleet.example.nhs.uk:8443)")
	cfg, st, name, err := sf.openForName(fs, args, viewerUsage, stdout, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	tok, err := st.AddViewer(ctx, name)
	if err != nil {
		return err
	}
	u := strings.TrimRight(*base, "/")
	if u == "" {
		host, _ := os.Hostname()
		u = "https://" + host + cfg.Server.Listen
		if !strings.HasPrefix(cfg.Server.Listen, ":") {
			u = "https://" + cfg.Server.Listen
		}
	}
	fmt.Fprintf(stdout, "Sign-in link for %s (private: anyone with it can read the fleet report):\n\n%s/login?%s\n\n"+
		"For 'fieldlink report --server', the token alone:\n%s\n", name, u, url.Values{"token": {tok}}.Encode(), tok)
	return nil
}

const devicesUsage = `Usage: fieldlink serve devices [flags]

The enrolled devices: name, group, device id, when each last uploaded,
and where and how it last worked (its last session's area and the verdict
it spent most of it at). Devices silent for --quiet-days are marked and
listed first: a laptop left in a drawer, or one whose sync is broken.

Flags:
`

func cmdServeDevices(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink serve devices", flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	quietDays := fs.Int("quiet-days", 3, "a device that has not uploaded for this many days is silent")
	if err := parse(fs, args, devicesUsage, stdout, stderr); err != nil {
		return err
	}
	if *quietDays < 1 {
		return fmt.Errorf("--quiet-days %d: want 1 or more", *quietDays)
	}
	ctx := context.Background()
	cfg, st, err := sf.open(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	devs, err := st.Devices(ctx)
	if err != nil {
		return err
	}
	names, _ := areaMap(cfg)
	writeDevices(stdout, devs, names, time.Now(), time.Duration(*quietDays)*24*time.Hour)
	return nil
}

// writeDevices lists the devices, the silent ones first.
func writeDevices(w io.Writer, devs []store.DeviceStatus, names *areas.Map, now time.Time, quiet time.Duration) {
	silent := 0
	sort.SliceStable(devs, func(i, j int) bool { return devs[i].Silent(now, quiet) && !devs[j].Silent(now, quiet) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tGROUP\tDEVICE\tHOSTNAME\tLAST UPLOAD\tLAST AREA\tVERDICT\t")
	for _, d := range devs {
		last := "never"
		if !d.LastUpload.IsZero() {
			last = d.LastUpload.Local().Format("2006-01-02 15:04")
		}
		if d.Silent(now, quiet) {
			silent++
			last += " (silent" + silentFor(d, now) + ")"
		}
		id := d.ID
		if id == "" {
			id = "(not yet uploaded)"
		}
		area := d.LastArea
		if n := names.Name(area); n != "" {
			area = n
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", d.Name, d.Group, id, d.Hostname, last, area, d.LastVerdict)
	}
	tw.Flush()
	if silent > 0 {
		fmt.Fprintf(w, "\n%d of %d devices silent for %d days or more\n", silent, len(devs), int(quiet.Hours()/24))
	}
}

// silentFor says how long a device has not uploaded (" 9 days").
func silentFor(d store.DeviceStatus, now time.Time) string {
	if d.LastUpload.IsZero() {
		return ""
	}
	days := int(now.Sub(d.LastUpload).Hours() / 24)
	if days == 1 {
		return " 1 day"
	}
	return fmt.Sprintf(" %d days", days)
}

const tokenUsage = `Usage: fieldlink serve replace|revoke NAME [flags]

replace gives the enrolled device NAME a new upload token (a laptop's
token leaked, or it was rebuilt): the old token stops at once, the new one
writes the same device; put it in the device's [sync] token_file.
revoke withdraws NAME's token: its uploads are refused from now on. What
it uploaded stays in the fleet's figures.

Flags:
`

func cmdServeToken(op string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink serve "+op, flag.ContinueOnError)
	var sf serveFlags
	sf.register(fs)
	_, st, name, err := sf.openForName(fs, args, tokenUsage, stdout, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	ctx := context.Background()
	if op == "revoke" {
		if err := st.Revoke(ctx, name); err != nil {
			return fmt.Errorf("serve revoke: %w", err)
		}
		fmt.Fprintf(stdout, "%s's upload token is withdrawn: its uploads are refused from now on.\n", name)
		return nil
	}
	tok, err := st.Replace(ctx, name)
	if err != nil {
		return fmt.Errorf("serve replace: %w", err)
	}
	fmt.Fprintf(stdout, "New upload token for %s (the old one no longer works; shown once, put it in the device's [sync] token_file):\n%s\n", name, tok)
	return nil
}
