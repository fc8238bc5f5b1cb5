package amtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// Notification is one webhook notification Alertmanager sent: one group's
// alerts at one flush (webhook payload version 4).
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // "firing" or "resolved"
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []NotifiedAlert   `json:"alerts"`
	// Received is when the webhook got it.
	Received time.Time `json:"-"`
}

// NotifiedAlert is one alert in a Notification.
type NotifiedAlert struct {
	Status       string            `json:"status"` // "firing" or "resolved"
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Webhook is an HTTP server in the test that records every notification
// Alertmanager sends it.
type Webhook struct {
	srv     *httptest.Server
	mu      sync.Mutex
	notes   []Notification
	bad     []string      // requests that did not decode
	changed chan struct{} // closed and replaced on each notification
}

func newWebhook() *Webhook {
	w := &Webhook{changed: make(chan struct{})}
	w.srv = httptest.NewServer(http.HandlerFunc(w.serve))
	return w
}

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	var n Notification
	if err == nil {
		err = json.Unmarshal(body, &n)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		w.bad = append(w.bad, fmt.Sprintf("%s %s: %v: %.200s", r.Method, r.URL, err, body))
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	n.Received = time.Now()
	w.notes = append(w.notes, n)
	close(w.changed)
	w.changed = make(chan struct{})
}

func (w *Webhook) close() { w.srv.Close() }

// URL is where the webhook listens.
func (w *Webhook) URL() string { return w.srv.URL }

// Notifications returns every notification received so far, oldest first.
func (w *Webhook) Notifications() []Notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]Notification(nil), w.notes...)
}

// Wait blocks until done accepts the notifications received so far, and
// returns them. It gives up when ctx ends, saying what it received.
func (w *Webhook) Wait(ctx context.Context, done func([]Notification) bool) ([]Notification, error) {
	for {
		w.mu.Lock()
		notes := append([]Notification(nil), w.notes...)
		bad := append([]string(nil), w.bad...)
		changed := w.changed
		w.mu.Unlock()
		if len(bad) > 0 {
			return notes, fmt.Errorf("webhook received requests it could not decode: %s", strings.Join(bad, "; "))
		}
		if done(notes) {
			return notes, nil
		}
		select {
		case <-ctx.Done():
			return notes, fmt.Errorf("waiting for notifications: %w (received: %s)", ctx.Err(), DescribeNotifications(notes))
		case <-changed:
		}
	}
}

// NotifiedAlerts returns every alert of notes whose labels include each
// name=value of want, with the given status ("firing", "resolved", or ""
// for either).
func NotifiedAlerts(notes []Notification, status string, want map[string]string) []NotifiedAlert {
	var out []NotifiedAlert
	for _, n := range notes {
		for _, a := range n.Alerts {
			if (status == "" || a.Status == status) && hasLabels(a.Labels, want) {
				out = append(out, a)
			}
		}
	}
	return out
}

// DescribeNotifications prints notifications compactly for a failure
// message.
func DescribeNotifications(notes []Notification) string {
	if len(notes) == 0 {
		return "no notifications"
	}
	var b strings.Builder
	for i, n := range notes {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s %v [", n.Status, n.GroupLabels)
		for j, a := range n.Alerts {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s %v", a.Status, a.Labels)
		}
		b.WriteString("]")
	}
	return b.String()
}

// routeToWebhook rewrites an Alertmanager configuration so that every route
// sends to a webhook receiver at url, with short group timings. Receivers,
// matchers and inhibition rules are otherwise kept.
func routeToWebhook(config []byte, url string, wait, interval time.Duration) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(config, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if doc == nil {
		doc = map[string]any{}
	}
	receivers, _ := doc["receivers"].([]any)
	doc["receivers"] = append(receivers, map[string]any{
		"name": WebhookReceiver,
		"webhook_configs": []any{map[string]any{
			"url":           url,
			"send_resolved": true,
		}},
	})
	route, _ := doc["route"].(map[string]any)
	if route == nil {
		route = map[string]any{}
		doc["route"] = route
	}
	var walk func(r map[string]any)
	walk = func(r map[string]any) {
		r["receiver"] = WebhookReceiver
		r["group_wait"] = promDuration(wait)
		r["group_interval"] = promDuration(interval)
		children, _ := r["routes"].([]any)
		for _, c := range children {
			if child, ok := c.(map[string]any); ok {
				walk(child)
			}
		}
	}
	walk(route)
	return yaml.Marshal(doc)
}

// promDuration formats d as a Prometheus duration ("1500ms", "2s").
func promDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}
