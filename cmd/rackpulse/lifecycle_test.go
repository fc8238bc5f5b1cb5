package main

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// events records what the components of a test lifecycle did, in order.
type events struct {
	mu  sync.Mutex
	got []string
}

func (e *events) add(s string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, s)
}

func (e *events) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.got)
}

// waitingComponent runs until its context is done, recording its start,
// its end and its stop; stopErr is what its stop returns.
func waitingComponent(ev *events, name string, stopErr error) component {
	return component{
		name: name,
		run: func(ctx context.Context) error {
			ev.add("start " + name)
			<-ctx.Done()
			ev.add("end " + name)
			return nil
		},
		stop: func(context.Context) error {
			ev.add("stop " + name)
			return stopErr
		},
	}
}

func TestLifecycleStopsComponentsInReverseOrder(t *testing.T) {
	ev := &events{}
	l := newLifecycle(slog.New(slog.DiscardHandler))
	for _, name := range []string{"storage", "scheduler", "http"} {
		l.add(waitingComponent(ev, name, nil))
	}
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- l.run(ctx, func() { close(started) }) }()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after a requested stop: %v, want nil", err)
	}
	got := ev.list()
	// Starts run concurrently; stops are strictly in reverse.
	stops := slices.DeleteFunc(slices.Clone(got), func(s string) bool { return strings.HasPrefix(s, "start ") })
	want := []string{"end http", "stop http", "end scheduler", "stop scheduler", "end storage", "stop storage"}
	if !slices.Equal(stops, want) {
		t.Errorf("stop order %v, want %v", stops, want)
	}
}

func TestLifecycleComponentThatDiesTakesTheDaemonDown(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(ctx context.Context) error
		want string
	}{
		{"error", func(context.Context) error { return errors.New("spool disk gone") }, "storage stopped: spool disk gone"},
		{"returns early", func(context.Context) error { return nil }, "storage stopped unexpectedly"},
		{"panics", func(context.Context) error { panic("nil map") }, "storage stopped: panicked: nil map"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := &events{}
			l := newLifecycle(slog.New(slog.DiscardHandler))
			l.add(waitingComponent(ev, "listener", nil))
			l.add(component{name: "storage", run: tc.run, stop: func(context.Context) error { ev.add("stop storage"); return nil }})
			l.add(waitingComponent(ev, "scheduler", errors.New("session left open")))
			done := make(chan error, 1)
			go func() { done <- l.run(t.Context(), nil) }()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("the daemon kept running after a component died")
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run = %v, want an error naming the component: %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "stopping scheduler: session left open") {
				t.Errorf("run = %v, want the errors met while stopping too", err)
			}
			stops := slices.DeleteFunc(ev.list(), func(s string) bool { return !strings.HasPrefix(s, "stop ") })
			if want := []string{"stop scheduler", "stop storage", "stop listener"}; !slices.Equal(stops, want) {
				t.Errorf("stops %v, want every component stopped once, in reverse: %v", stops, want)
			}
		})
	}
}

func TestLifecycleFinalComponentEndsTheDaemonNormally(t *testing.T) {
	ev := &events{}
	l := newLifecycle(slog.New(slog.DiscardHandler))
	l.add(waitingComponent(ev, "writer", nil))
	l.add(component{name: "loop", run: func(context.Context) error { return nil }, final: true})
	if err := l.run(t.Context(), nil); err != nil {
		t.Fatalf("run = %v, want nil once the final component is done", err)
	}
	if got := ev.list(); !slices.Contains(got, "stop writer") {
		t.Errorf("events %v: the writer was not stopped", got)
	}
	l = newLifecycle(slog.New(slog.DiscardHandler))
	l.add(component{name: "loop", run: func(context.Context) error { return errors.New("no rack totals") }, final: true})
	if err := l.run(t.Context(), nil); err == nil || err.Error() != "no rack totals" {
		t.Errorf("run = %v, want the final component's own error", err)
	}
}

func TestLifecycleAbortStopsWhatWasAdded(t *testing.T) {
	ev := &events{}
	l := newLifecycle(slog.New(slog.DiscardHandler))
	l.add(waitingComponent(ev, "listener", nil))
	l.add(waitingComponent(ev, "storage", errors.New("spool not closed")))
	err := l.abort(errors.New("alertmanager URL bad"))
	if err == nil || !strings.Contains(err.Error(), "alertmanager URL bad") || !strings.Contains(err.Error(), "stopping storage: spool not closed") {
		t.Errorf("abort = %v, want the cause and the stop errors", err)
	}
	if got, want := ev.list(), []string{"stop storage", "stop listener"}; !slices.Equal(got, want) {
		t.Errorf("abort did %v, want %v (nothing runs, every stop in reverse)", got, want)
	}
}
