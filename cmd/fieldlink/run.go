package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fieldlink/fieldlink/backend/config"
	"github.com/fieldlink/fieldlink/backend/control"
	"github.com/fieldlink/fieldlink/backend/engine"
	"github.com/fieldlink/fieldlink/backend/failover"
	"github.com/fieldlink/fieldlink/backend/lock"
	"github.com/fieldlink/fieldlink/backend/probe"
	"github.com/fieldlink/fieldlink/backend/system"
)

// running is an engine started for a front end.
type running struct {
	eng    *engine.Engine
	role   engine.Role
	holder string
	lock   *lock.Lock
	errs   chan error
}

func (c *common) socketPath() (string, error) {
	dir, err := c.stateDirectory()
	if err != nil {
		return "", err
	}
	name := control.SocketName
	if c.simulated() {
		name = control.DemoSocketName
	}
	return filepath.Join(dir, name), nil
}

// start takes the lock (or becomes an observer) and runs the engine: the
// holder probes, fails over and acts, and serves its decisions to
// observers; an observer follows the holder's socket and changes nothing.
func (c *common) start(ctx context.Context, cfg config.Config, src engine.Source, mode string) (*running, error) {
	lk, role, holder, err := c.acquire(mode)
	if err != nil {
		return nil, err
	}
	sock, err := c.socketPath()
	if err != nil {
		lk.Release()
		return nil, err
	}
	opts := engine.Options{Thresholds: cfg.NetThresholds(), Role: role, Holder: holder}
	if role == engine.Holder {
		opts.Failover = failover.New(cfg.FailoverPolicy())
		if act, ok := src.(engine.Actuator); ok {
			opts.Actuator = act
		}
		if _, real := src.(*system.Source); real {
			pc := cfg.ProbeConfig()
			bind := probe.CanBind()
			opts.Prober = probe.NewProber(pc, probe.Dialer{Timeout: pc.Timeout, NoBind: !bind}, nil, bind)
		}
	}
	r := &running{eng: engine.New(src, opts), role: role, holder: holder, lock: lk, errs: make(chan error, 2)}
	go func() { r.errs <- r.eng.Run(ctx) }()
	if role == engine.Holder {
		self := lock.Holder{PID: pid(), Since: time.Now(), Mode: mode}.String()
		go func() {
			if err := control.Serve(ctx, sock, self, r.eng); err != nil {
				r.eng.AddEvents(warning(fmt.Sprintf("observers cannot follow this instance: %v", err)))
			}
		}()
	} else {
		go control.Follow(ctx, sock, r.eng, time.Now)
	}
	return r, nil
}
