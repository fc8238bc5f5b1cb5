package amtest

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// waitLimit bounds every wait on Alertmanager: generous, for a loaded
// two-core CI machine. The waits poll a condition; none asserts a time.
const waitLimit = 2 * time.Minute

func waitCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), waitLimit)
	t.Cleanup(cancel)
	return ctx
}

// alert builds a firing alert as rackpulse labels it: where the hardware
// is, plus kv (name, value pairs: server, component label, ...).
func alert(name, severity, rack string, kv ...string) PostableAlert {
	l := map[string]string{
		"alertname": name,
		"severity":  severity,
		"site":      "dc1",
		"room":      "hall-1",
		"row":       "row-a",
		"rack":      rack,
	}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return PostableAlert{
		Labels:       l,
		Annotations:  map[string]string{"summary": name + " on " + l["server"] + l["rack"]},
		StartsAt:     time.Now().Add(-time.Minute),
		EndsAt:       time.Now().Add(10 * time.Minute),
		GeneratorURL: "http://127.0.0.1:9290/api/servers",
	}
}

// one finds the single alert with exactly these labels in alerts.
func one(t *testing.T, alerts []Alert, want PostableAlert) Alert {
	t.Helper()
	for _, a := range alerts {
		if maps.Equal(a.Labels, want.Labels) {
			return a
		}
	}
	t.Fatalf("alert %v not in Alertmanager: %s", want.Labels, Describe(alerts))
	return Alert{}
}

func find(alerts []Alert, want PostableAlert) (Alert, bool) {
	for _, a := range alerts {
		if maps.Equal(a.Labels, want.Labels) {
			return a, true
		}
	}
	return Alert{}, false
}

// inhibitedBy waits until target is in Alertmanager and inhibited by
// source, and returns every alert then held.
func inhibitedBy(t *testing.T, am *Server, target, source PostableAlert) []Alert {
	t.Helper()
	alerts, err := am.WaitAlerts(waitCtx(t), func(alerts []Alert) bool {
		src, ok1 := find(alerts, source)
		tgt, ok2 := find(alerts, target)
		return ok1 && ok2 && slices.Contains(tgt.Status.InhibitedBy, src.Fingerprint)
	})
	if err != nil {
		t.Fatalf("%v was not inhibited by %v: %v", target.Labels, source.Labels, err)
	}
	return alerts
}

// notInhibited checks that each of want is held, active and not muted.
func notInhibited(t *testing.T, alerts []Alert, want ...PostableAlert) {
	t.Helper()
	for _, w := range want {
		a := one(t, alerts, w)
		if a.Inhibited() || a.Status.State != "active" {
			t.Errorf("%v: state %s, inhibitedBy %v; want active, not inhibited", w.Labels, a.Status.State, a.Status.InhibitedBy)
		}
	}
}

func TestShippedConfigLoads(t *testing.T) {
	t.Parallel()
	am := Start(t)
	st, err := am.Status(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	// Alertmanager reports the configuration it parsed: the shipped
	// receiver, grouping and both inhibition rules made it in.
	for _, want := range []string{"receiver: default", "- rack", `alertname="BMCUnreachable"`, `severity="critical"`, "- feed"} {
		if !strings.Contains(st.Config.Original, want) {
			t.Errorf("loaded configuration lacks %q:\n%s", want, st.Config.Original)
		}
	}
	if st.Cluster.Status != "disabled" {
		t.Errorf("cluster status %q, want disabled", st.Cluster.Status)
	}
	alerts, err := am.Alerts(waitCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(alerts) != 0 {
		t.Errorf("a fresh Alertmanager holds alerts: %s", Describe(alerts))
	}
}

// TestShippedConfigInhibitsOnEveryComponent keeps the critical-mutes-warning
// rule in step with the alert labels: each component label must be one of
// its equal labels, or a critical on one DIMM would mute warnings on all.
func TestShippedConfigInhibitsOnEveryComponent(t *testing.T) {
	b, err := os.ReadFile(ShippedConfig())
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Route struct {
			Receiver string   `yaml:"receiver"`
			GroupBy  []string `yaml:"group_by"`
		} `yaml:"route"`
		InhibitRules []struct {
			SourceMatchers []string `yaml:"source_matchers"`
			TargetMatchers []string `yaml:"target_matchers"`
			Equal          []string `yaml:"equal"`
		} `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"alertname", "site", "rack"} {
		if !slices.Contains(cfg.Route.GroupBy, l) {
			t.Errorf("route group_by %v lacks %s", cfg.Route.GroupBy, l)
		}
	}
	components := map[string]string{ // alertname → its component label
		"DIMMFailing": "slot", "CPUHot": "cpu", "PSUFailed": "psu", "FanFailed": "fan",
		"DriveFailing": "drive", "InletHot": "sensor", "FeedFailoverUnsafe": "feed",
		"DiskSlow": "drive", "NICErrors": "nic",
	}
	found := false
	for _, r := range cfg.InhibitRules {
		if !slices.Equal(r.SourceMatchers, []string{`severity="critical"`}) {
			continue
		}
		found = true
		for _, l := range append([]string{"alertname", "site", "rack", "server"}, slices.Sorted(maps.Values(components))...) {
			if !slices.Contains(r.Equal, l) {
				t.Errorf("critical-mutes-warning rule: equal %v lacks %s", r.Equal, l)
			}
		}
	}
	if !found {
		t.Error("no inhibition rule with source severity=\"critical\"")
	}
}

func TestBMCUnreachableMutesThatServer(t *testing.T) {
	t.Parallel()
	am := Start(t)
	bmc := alert("BMCUnreachable", "critical", "r01", "server", "r01-u01", "position", "1")
	dimm := alert("DIMMFailing", "critical", "r01", "server", "r01-u01", "position", "1", "slot", "DIMM1")
	cpu := alert("CPUHot", "warning", "r01", "server", "r01-u01", "position", "1", "cpu", "CPU1")
	otherServer := alert("DIMMFailing", "critical", "r01", "server", "r01-u02", "position", "2", "slot", "DIMM1")
	rackLevel := alert("RackOverBudget", "warning", "r01")
	otherSite := alert("DIMMFailing", "critical", "r01", "server", "r01-u01", "position", "1", "slot", "DIMM1")
	otherSite.Labels["site"] = "dc2"
	// The host's own agent still reports: its alerts are current.
	fromAgent := alert("DIMMFailing", "warning", "r01", "server", "r01-u01", "position", "1", "slot", "P1-DIMMA1", "source", "agent")
	if err := am.Post(waitCtx(t), []PostableAlert{bmc, dimm, cpu, otherServer, rackLevel, otherSite, fromAgent}); err != nil {
		t.Fatal(err)
	}

	inhibitedBy(t, am, dimm, bmc)
	alerts := inhibitedBy(t, am, cpu, bmc)
	notInhibited(t, alerts, bmc, otherServer, rackLevel, otherSite, fromAgent)
}

func TestCriticalMutesWarningOfSamePart(t *testing.T) {
	t.Parallel()
	am := Start(t)
	crit := alert("CPUHot", "critical", "r01", "server", "r01-u01", "position", "1", "cpu", "CPU1")
	warnSame := alert("CPUHot", "warning", "r01", "server", "r01-u01", "position", "1", "cpu", "CPU1")
	warnOtherCPU := alert("CPUHot", "warning", "r01", "server", "r01-u01", "position", "1", "cpu", "CPU2")
	warnOtherServer := alert("CPUHot", "warning", "r01", "server", "r01-u02", "position", "2", "cpu", "CPU1")
	warnOtherAlert := alert("InletHot", "warning", "r01", "server", "r01-u01", "position", "1", "sensor", "Inlet Temp")
	// Rack-level alerts have no server label: missing on both sides counts
	// as equal, and the feed tells them apart.
	feedCrit := alert("FeedFailoverUnsafe", "critical", "r02", "feed", "A")
	feedWarnSame := alert("FeedFailoverUnsafe", "warning", "r02", "feed", "A")
	feedWarnOther := alert("FeedFailoverUnsafe", "warning", "r02", "feed", "B")
	if err := am.Post(waitCtx(t), []PostableAlert{crit, warnSame, warnOtherCPU, warnOtherServer, warnOtherAlert, feedCrit, feedWarnSame, feedWarnOther}); err != nil {
		t.Fatal(err)
	}

	alerts := inhibitedBy(t, am, warnSame, crit)
	notInhibited(t, alerts, crit, warnOtherCPU, warnOtherServer, warnOtherAlert)
	alerts = inhibitedBy(t, am, feedWarnSame, feedCrit)
	notInhibited(t, alerts, feedCrit, feedWarnOther)
}

func TestAlertsFilter(t *testing.T) {
	t.Parallel()
	am := Start(t)
	a := alert("FanFailed", "critical", "r01", "server", "r01-u01", "position", "1", "fan", "Fan3")
	b := alert("PSUFailed", "critical", "r01", "server", "r01-u01", "position", "1", "psu", "PSU2")
	if err := am.Post(waitCtx(t), []PostableAlert{a, b}); err != nil {
		t.Fatal(err)
	}
	got, err := am.WaitAlerts(waitCtx(t), func(alerts []Alert) bool { return len(alerts) > 0 }, `alertname="PSUFailed"`, `server="r01-u01"`)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !maps.Equal(got[0].Labels, b.Labels) {
		t.Fatalf("filtered alerts: %s; want only %v", Describe(got), b.Labels)
	}
	g := got[0]
	if g.Annotations["summary"] != b.Annotations["summary"] || g.GeneratorURL != b.GeneratorURL || g.Fingerprint == "" {
		t.Errorf("alert read back as %+v; posted %+v", g, b)
	}
	if g.StartsAt.Sub(b.StartsAt).Abs() > time.Second {
		t.Errorf("startsAt %s, posted %s", g.StartsAt, b.StartsAt)
	}
	if len(g.Receivers) != 1 || g.Receivers[0].Name != "default" {
		t.Errorf("receivers %+v, want the shipped default", g.Receivers)
	}
}

func TestWebhookReceivesFiringAndResolved(t *testing.T) {
	t.Parallel()
	am := Start(t, WithWebhook())
	dimm := alert("DIMMFailing", "warning", "r01", "server", "r01-u03", "position", "3", "slot", "DIMM7")
	if err := am.Post(waitCtx(t), []PostableAlert{dimm}); err != nil {
		t.Fatal(err)
	}
	notes, err := am.Webhook().Wait(waitCtx(t), func(n []Notification) bool {
		return len(NotifiedAlerts(n, "firing", dimm.Labels)) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	n := notes[0]
	if n.Receiver != WebhookReceiver || n.Status != "firing" || n.Version != "4" {
		t.Errorf("notification receiver %q status %q version %q", n.Receiver, n.Status, n.Version)
	}
	wantGroup := map[string]string{"alertname": "DIMMFailing", "site": "dc1", "rack": "r01"}
	if !maps.Equal(n.GroupLabels, wantGroup) {
		t.Errorf("group labels %v, want %v (the shipped grouping)", n.GroupLabels, wantGroup)
	}

	// A producer clears an alert by sending it again with endsAt now.
	dimm.EndsAt = time.Now()
	if err := am.Post(waitCtx(t), []PostableAlert{dimm}); err != nil {
		t.Fatal(err)
	}
	if _, err := am.Webhook().Wait(waitCtx(t), func(n []Notification) bool {
		return len(NotifiedAlerts(n, "resolved", dimm.Labels)) > 0
	}); err != nil {
		t.Fatal(err)
	}
}

// TestWebhookGetsNoInhibitedAlert: an inhibited alert is held but never
// notified, while its group's other alerts are.
func TestWebhookGetsNoInhibitedAlert(t *testing.T) {
	t.Parallel()
	am := Start(t, WithWebhook())
	bmc := alert("BMCUnreachable", "critical", "r01", "server", "r01-u01", "position", "1")
	canary := alert("FanFailed", "critical", "r01", "server", "r01-u01", "position", "1", "fan", "Fan1")
	if err := am.Post(waitCtx(t), []PostableAlert{bmc, canary}); err != nil {
		t.Fatal(err)
	}
	// Once the canary shows inhibited, the inhibitor holds the BMC alert:
	// anything for r01-u01 posted from now on is muted in every flush.
	inhibitedBy(t, am, canary, bmc)

	muted := alert("DIMMFailing", "critical", "r01", "server", "r01-u01", "position", "1", "slot", "DIMM1")
	other := alert("DIMMFailing", "critical", "r01", "server", "r01-u02", "position", "2", "slot", "DIMM1")
	if err := am.Post(waitCtx(t), []PostableAlert{muted, other}); err != nil {
		t.Fatal(err)
	}
	notes, err := am.Webhook().Wait(waitCtx(t), func(n []Notification) bool {
		return len(NotifiedAlerts(n, "firing", other.Labels)) > 0 &&
			len(NotifiedAlerts(n, "firing", bmc.Labels)) > 0
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := NotifiedAlerts(notes, "", muted.Labels); len(got) > 0 {
		t.Errorf("inhibited %v was notified: %s", muted.Labels, DescribeNotifications(notes))
	}
	alerts, err := am.Alerts(waitCtx(t), `alertname="DIMMFailing"`)
	if err != nil {
		t.Fatal(err)
	}
	if a := one(t, alerts, muted); !a.Inhibited() {
		t.Errorf("%v is not inhibited: %s", muted.Labels, Describe(alerts))
	}
}

func TestRouteToWebhookKeepsInhibitions(t *testing.T) {
	in := []byte(`
route:
  receiver: team
  group_by: [alertname]
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: team
  - name: pager
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
`)
	out, err := routeToWebhook(in, "http://127.0.0.1:1/hook", 500*time.Millisecond, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Route struct {
			Receiver      string `yaml:"receiver"`
			GroupWait     string `yaml:"group_wait"`
			GroupInterval string `yaml:"group_interval"`
			Routes        []struct {
				Receiver string   `yaml:"receiver"`
				Matchers []string `yaml:"matchers"`
			} `yaml:"routes"`
		} `yaml:"route"`
		Receivers []struct {
			Name           string `yaml:"name"`
			WebhookConfigs []struct {
				URL string `yaml:"url"`
			} `yaml:"webhook_configs"`
		} `yaml:"receivers"`
		InhibitRules []map[string]any `yaml:"inhibit_rules"`
	}
	if err := yaml.Unmarshal(out, &cfg); err != nil {
		t.Fatal(err)
	}
	r := cfg.Route
	if r.Receiver != WebhookReceiver || r.GroupWait != "500ms" || r.GroupInterval != "2s" {
		t.Errorf("route %+v", r)
	}
	if len(r.Routes) != 1 || r.Routes[0].Receiver != WebhookReceiver || len(r.Routes[0].Matchers) != 1 {
		t.Errorf("child routes %+v", r.Routes)
	}
	if n := len(cfg.Receivers); n != 3 || cfg.Receivers[2].Name != WebhookReceiver || cfg.Receivers[2].WebhookConfigs[0].URL != "http://127.0.0.1:1/hook" {
		t.Errorf("receivers %+v", cfg.Receivers)
	}
	if len(cfg.InhibitRules) != 1 {
		t.Errorf("inhibit rules %v", cfg.InhibitRules)
	}
}
