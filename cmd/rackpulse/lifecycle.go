package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"
)

// component is one part of a daemon (the storage writer, the scheduler,
// the HTTP server, ...) as its lifecycle sees it.
type component struct {
	name string
	// run runs the component until its context is done. Returning
	// earlier, with an error or without, is the component dying; a panic
	// is turned into an error. Nil: nothing runs (a resource with only a
	// stop).
	run func(ctx context.Context) error
	// stop releases what the component holds once run has returned (or
	// when it never ran because the start failed). Its context is bounded
	// by the lifecycle's stop timeout. Nil: nothing to release.
	stop func(ctx context.Context) error
	// final marks the component whose end is the daemon's normal end (the
	// site rollup's loop under --once): its error, or nil, is the
	// daemon's.
	final bool
}

// lifecycle starts a daemon's components in the order they were added and
// stops them in reverse: the first to die takes the daemon down, with an
// error naming it, rather than leaving it running half-alive.
type lifecycle struct {
	log   *slog.Logger
	comps []component
	// stopTimeout bounds each component's stop; stopWait is how long a
	// component's run may take to return once told to stop before the
	// lifecycle gives up on it and goes on stopping the others.
	stopTimeout time.Duration
	stopWait    time.Duration
}

// Lifecycle bounds.
const (
	defaultStopTimeout = 10 * time.Second
	defaultStopWait    = 2 * time.Minute
)

func newLifecycle(log *slog.Logger) *lifecycle {
	return &lifecycle{log: log, stopTimeout: defaultStopTimeout, stopWait: defaultStopWait}
}

// add appends a component; it starts after those added before it and
// stops before them.
func (l *lifecycle) add(c component) { l.comps = append(l.comps, c) }

// abort stops, in reverse, the components added so far (none has run):
// for a start that failed with cause. It returns cause with any error
// met while stopping.
func (l *lifecycle) abort(cause error) error {
	return errors.Join(cause, l.stopAll(context.Background(), nil, -1))
}

// running is a started component's goroutine.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// run starts every component in order, calls started (nil: nothing), and
// waits until ctx is done or a component returns. Then it stops every
// component in reverse order, logging how long each took. It returns nil
// after a stop asked for by ctx; otherwise the component that ended it
// and what it said; with, in both cases, every error met while stopping.
func (l *lifecycle) run(ctx context.Context, started func()) error {
	ended := make(chan int, len(l.comps))
	rs := make([]*running, len(l.comps))
	for i, c := range l.comps {
		if c.run == nil {
			continue
		}
		// Each component has its own context, so that they stop one by
		// one in reverse order rather than all at once with ctx.
		cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{cancel: cancel, done: make(chan struct{})}
		rs[i] = r
		go func() {
			defer close(r.done)
			r.err = runRecovered(cctx, c)
			ended <- i
		}()
	}
	if started != nil {
		started()
	}

	var cause error
	failed := -1
	select {
	case <-ctx.Done():
		l.log.Info("stopping")
	case i := <-ended:
		c, err := l.comps[i], rs[i].err
		failed = i
		switch {
		case c.final:
			cause = err
		case err != nil:
			cause = fmt.Errorf("%s stopped: %w", c.name, err)
		default:
			cause = fmt.Errorf("%s stopped unexpectedly", c.name)
		}
		if cause != nil {
			l.log.Error("a component stopped; stopping the others", "component", c.name, "err", err)
		}
	}
	return errors.Join(cause, l.stopAll(ctx, rs, failed))
}

// stopAll stops the components in reverse order: cancels a running one
// and waits (at most stopWait) for it to return, then calls its stop.
// failed is the component that ended the run (its error is the cause,
// not repeated here).
func (l *lifecycle) stopAll(ctx context.Context, rs []*running, failed int) error {
	var errs []error
	for i := len(l.comps) - 1; i >= 0; i-- {
		c := l.comps[i]
		start := time.Now()
		if i < len(rs) && rs[i] != nil {
			r := rs[i]
			r.cancel()
			select {
			case <-r.done:
				if r.err != nil && i != failed {
					errs = append(errs, fmt.Errorf("stopping %s: %w", c.name, r.err))
				}
			case <-time.After(l.stopWait):
				errs = append(errs, fmt.Errorf("stopping %s: still running after %s; left behind", c.name, l.stopWait))
			}
		}
		if c.stop != nil {
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.stopTimeout)
			if err := c.stop(sctx); err != nil {
				errs = append(errs, fmt.Errorf("stopping %s: %w", c.name, err))
			}
			cancel()
		}
		l.log.Debug("stopped", "component", c.name, "took", time.Since(start).Round(time.Millisecond))
	}
	for _, err := range errs {
		l.log.Error("stop", "err", err)
	}
	return errors.Join(errs...)
}

// runRecovered runs c, turning a panic into an error (its stack logged by
// the caller's error): the daemon then stops in order, logging out of
// every BMC, instead of dying at once.
func runRecovered(ctx context.Context, c component) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panicked: %v\n%s", r, debug.Stack())
		}
	}()
	return c.run(ctx)
}
