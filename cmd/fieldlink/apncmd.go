package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/fieldlink/fieldlink/backend/apn"
	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/mm"
	"github.com/fieldlink/fieldlink/backend/netstate"
	"github.com/fieldlink/fieldlink/backend/system"
)

const apnUsage = `Usage: fieldlink apn [--create] [--apn APN] [--modem ID]

Shows each modem's SIM, its mobile data profile in NetworkManager, and the
APN that fits the SIM: --apn, else [cellular] apn in the config, else the
mobile-broadband-provider-info database by the SIM's MCC-MNC. With --create,
adds a NetworkManager profile for a modem that has none (it does not
autoconnect: fieldlink brings cellular up when it is needed).

Flags:
`

func cmdAPN(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fieldlink apn", flag.ContinueOnError)
	configPath := fs.String("config", "", "config file")
	create := fs.Bool("create", false, "create the profile when a modem has none")
	value := fs.String("apn", "", "use this APN")
	modem := fs.String("modem", "", "only this modem (link ID, such as cdc-wdm0)")
	if err := parse(fs, args, apnUsage, stdout, stderr); err != nil {
		return err
	}
	cfg, err := config.Load(*configPath)
	if err != nil {
		return err
	}
	src, err := system.New(system.Options{Timeout: cfg.DBus.Timeout.D(), Modem: mm.Options{SignalRate: cfg.Cellular.SignalRate.D()}})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first := make(chan netstate.Snapshot, 1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go src.Run(runCtx, func(u netstate.Update) {
		select {
		case first <- u.Snapshot:
		default:
		}
	})
	var snap netstate.Snapshot
	select {
	case snap = <-first:
	case <-ctx.Done():
		return errors.New("no answer from NetworkManager within 20 s")
	}
	if svc := snap.Service("NetworkManager"); svc == nil || !svc.Running {
		return errors.New("NetworkManager is not running")
	}
	var gsm []string
	for _, p := range src.NM().Profiles() {
		if p.Type == "gsm" {
			gsm = append(gsm, fmt.Sprintf("%q (APN %s)", p.ID, orDash(p.APN)))
		}
	}
	found := false
	for _, l := range snap.Links {
		if l.Kind != netstate.KindCellular || (*modem != "" && l.ID != *modem) {
			continue
		}
		found = true
		mcc, mnc := l.Cell.SIM.MCC, l.Cell.SIM.MNC
		if mcc == "" {
			mcc, mnc = l.Cell.MCC, l.Cell.MNC
		}
		fmt.Fprintf(stdout, "modem %s: SIM %s, network %s\n", l.ID, plmn(l.Cell.SIM.Operator, mcc, mnc), plmn(l.Cell.Operator, l.Cell.MCC, l.Cell.MNC))
		if len(gsm) > 0 {
			fmt.Fprintf(stdout, "  mobile data profile: %s\n", gsm[0])
			continue
		}
		fmt.Fprintln(stdout, "  no mobile data profile in NetworkManager")
		choice, err := chooseAPN(*value, cfg.Cellular.APN, cfg.Cellular.Providers, mcc, mnc, stdout)
		if err != nil {
			return err
		}
		if !*create {
			fmt.Fprintln(stdout, "  run 'fieldlink apn --create' to add it")
			continue
		}
		id := choice.Provider
		if id == "" {
			id = "Mobile data"
		}
		id += " (fieldlink)"
		if _, err := src.NM().AddProfile(ctx, apn.Settings(id, choice)); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "  created profile %q with APN %s\n", id, choice.Value)
	}
	if !found {
		if *modem != "" {
			return fmt.Errorf("no modem %s", *modem)
		}
		fmt.Fprintln(stdout, "no modem found (ModemManager sees none)")
	}
	return nil
}

func chooseAPN(flagAPN, cfgAPN, providers, mcc, mnc string, out io.Writer) (apn.APN, error) {
	switch {
	case flagAPN != "":
		fmt.Fprintf(out, "  APN %s (from --apn)\n", flagAPN)
		return apn.APN{Value: flagAPN}, nil
	case cfgAPN != "":
		fmt.Fprintf(out, "  APN %s (from the config)\n", cfgAPN)
		return apn.APN{Value: cfgAPN}, nil
	case mcc == "":
		return apn.APN{}, errors.New("the SIM's network code is unknown; give the APN with --apn")
	}
	db, err := apn.Load(providers)
	if err != nil {
		return apn.APN{}, err
	}
	cands := db.Lookup(mcc, mnc)
	if len(cands) == 0 {
		return apn.APN{}, fmt.Errorf("no APN for %s-%s in %s; give it with --apn", mcc, mnc, providers)
	}
	for i, a := range cands {
		mark := " "
		if i == 0 {
			mark = "*"
		}
		fmt.Fprintf(out, "  %s APN %-16s %s (%s)\n", mark, a.Value, a.Provider, orDash(a.Name))
	}
	return cands[0], nil
}

func plmn(name, mcc, mnc string) string {
	if mcc == "" {
		return orDash(name)
	}
	if name == "" {
		return mcc + "-" + mnc
	}
	return name + " " + mcc + "-" + mnc
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
