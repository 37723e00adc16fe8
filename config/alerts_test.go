package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_Alerts: the alert webhooks' formats, PagerDuty's routing
// key from the environment, and filters, each refused with the key named.
func TestParseGateway_Alerts(t *testing.T) {
	t.Setenv("PD_ROUTING_KEY", "R0UT1NGKEY0123456789abcdef012345")
	g, err := config.ParseGateway("g.yaml", []byte(`
rollouts:
  alerts:
    - url: https://hooks.slack.com/services/T/B/X
      format: slack
    - url: https://example.webhook.office.com/workflows/x
      format: msteams
      severity: warning
    - url: https://discord.com/api/webhooks/1/x
      format: discord
      events: [rolled_back, promoted]
    - format: pagerduty
      routing_key: ${PD_ROUTING_KEY}
      severity: critical
      events: [rolled_back, failed, promoted]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := g.Rollouts.Alerts
	if len(a) != 4 || a[1].Severity != "warning" || strings.Join(a[2].Events, ",") != "rolled_back,promoted" ||
		a[3].Format != "pagerduty" || a[3].URL != "" || a[3].RoutingKey != "R0UT1NGKEY0123456789abcdef012345" || a[3].Severity != "critical" {
		t.Fatalf("alerts: %+v", a)
	}
	for _, c := range []struct{ name, hook, want string }{
		{"BadFormat", "{url: https://x.example/h, format: teams}", `rollouts.alerts[0].format: "teams" is not one of json, slack, msteams, discord, pagerduty`},
		{"NoURL", "{format: discord}", "rollouts.alerts[0].url: a discord webhook needs the URL it posts to"},
		{"PagerDutyNoKey", "{format: pagerduty}", "rollouts.alerts[0].routing_key: a pagerduty webhook needs the routing key"},
		{"PagerDutyKeyWithSpace", "{format: pagerduty, routing_key: \"abc def\"}", "rollouts.alerts[0].routing_key: holds a space"},
		{"KeyOnSlack", "{url: https://x.example/h, format: slack, routing_key: k}", "rollouts.alerts[0].routing_key: only a pagerduty webhook takes a routing key"},
		{"BadSeverity", "{url: https://x.example/h, severity: error}", `rollouts.alerts[0].severity: "error" is not one of info, warning, critical`},
		{"UnknownEvent", "{url: https://x.example/h, events: [failed, rollback]}", `rollouts.alerts[0].events[1]: "rollback" is not an alert event; the events are rolled_back, aborted, failed, undone, paused, promoted, baking, completed, concluded; did you mean rolled_back?`},
		{"NoEvents", "{url: https://x.example/h, events: []}", "rollouts.alerts[0].events: names no event"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte("rollouts:\n  alerts:\n    - "+c.hook+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// The routing key is a secret: an error about it never shows it.
	_, err = config.ParseGateway("g.yaml", []byte("rollouts:\n  alerts:\n    - {url: https://x.example/h, routing_key: TOPSECRETKEY}\n"))
	if err == nil || strings.Contains(err.Error(), "TOPSECRETKEY") {
		t.Errorf("error %v", err)
	}
}

// TestNeedRestart_Alerts: SIGHUP applies rollouts.alerts, so a change of
// them alone needs no restart; the rest of rollouts still does.
func TestNeedRestart_Alerts(t *testing.T) {
	run := config.Default()
	next := run
	next.Rollouts.Alerts = []config.Webhook{{Format: "pagerduty", RoutingKey: "k"}}
	if got := config.NeedRestart(run, next); len(got) != 0 {
		t.Errorf("NeedRestart = %v for a change of rollouts.alerts alone", got)
	}
	next.Rollouts.Tick = 7 * time.Second
	if got := config.NeedRestart(run, next); len(got) != 1 || got[0] != "rollouts" {
		t.Errorf("NeedRestart = %v, want [rollouts] for rollouts.tick", got)
	}
}
