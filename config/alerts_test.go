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
	t.Setenv("OPSGENIE_API_KEY", "eb243592-faa2-4ba2-a551-1afdf565c889")
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
    - url: https://chat.googleapis.com/v1/spaces/AAA/messages?key=k&token=t
      format: googlechat
    - format: opsgenie
      url: https://api.eu.opsgenie.com
      api_key: ${OPSGENIE_API_KEY}
      events: [rolled_back, paused, resumed, promoted]
`))
	if err != nil {
		t.Fatal(err)
	}
	a := g.Rollouts.Alerts
	if len(a) != 6 || a[4].Format != "googlechat" || a[5].Format != "opsgenie" || a[5].URL != "https://api.eu.opsgenie.com" ||
		a[5].APIKey != "eb243592-faa2-4ba2-a551-1afdf565c889" || a[5].RoutingKey != "" || strings.Join(a[5].Events, ",") != "rolled_back,paused,resumed,promoted" {
		t.Fatalf("alerts: %+v", a)
	}
	if a[1].Severity != "warning" || strings.Join(a[2].Events, ",") != "rolled_back,promoted" ||
		a[3].Format != "pagerduty" || a[3].URL != "" || a[3].RoutingKey != "R0UT1NGKEY0123456789abcdef012345" || a[3].Severity != "critical" {
		t.Fatalf("alerts: %+v", a)
	}
	for _, c := range []struct{ name, hook, want string }{
		{"BadFormat", "{url: https://x.example/h, format: teams}", `rollouts.alerts[0].format: "teams" is not one of json, slack, msteams, discord, googlechat, pagerduty, opsgenie; did you mean msteams?`},
		{"FormatTypo", "{url: https://x.example/h, format: google_chat}", `rollouts.alerts[0].format: "google_chat" is not one of json, slack, msteams, discord, googlechat, pagerduty, opsgenie; did you mean googlechat?`},
		{"FormatTypoOpsgenie", "{format: opsgenei, api_key: k}", `did you mean opsgenie?`},
		{"GoogleChatNoURL", "{format: googlechat}", "rollouts.alerts[0].url: a googlechat webhook needs the URL it posts to"},
		{"OpsgenieNoKey", "{format: opsgenie}", "rollouts.alerts[0].api_key: an opsgenie webhook needs the key of an API integration in Opsgenie"},
		{"OpsgenieKeyWithSpace", "{format: opsgenie, api_key: \"abc\\n\"}", "rollouts.alerts[0].api_key: holds a space or line break"},
		{"OpsgenieRoutingKey", "{format: opsgenie, routing_key: k}", "rollouts.alerts[0].routing_key: an opsgenie webhook takes api_key (the key of an API integration in Opsgenie), not routing_key: rename it api_key"},
		{"OpsgenieURLWithQuery", "{format: opsgenie, api_key: k, url: \"https://api.opsgenie.com/v2/alerts?x=1\"}", "rollouts.alerts[0].url: an opsgenie webhook's url is the Opsgenie API's base, with no query"},
		{"OpsgenieBadURL", "{format: opsgenie, api_key: k, url: \"api.eu.opsgenie.com\"}", "rollouts.alerts[0].url: "},
		{"PagerDutyAPIKey", "{format: pagerduty, routing_key: k, api_key: k}", "rollouts.alerts[0].api_key: a pagerduty webhook takes routing_key (its Events API v2 integration's key), not api_key"},
		{"APIKeyOnSlack", "{url: https://x.example/h, format: slack, api_key: k}", "rollouts.alerts[0].api_key: only an opsgenie webhook takes an API key; this one's format is slack"},
		{"NoURL", "{format: discord}", "rollouts.alerts[0].url: a discord webhook needs the URL it posts to"},
		{"PagerDutyNoKey", "{format: pagerduty}", "rollouts.alerts[0].routing_key: a pagerduty webhook needs the routing key"},
		{"PagerDutyKeyWithSpace", "{format: pagerduty, routing_key: \"abc def\"}", "rollouts.alerts[0].routing_key: holds a space"},
		{"KeyOnSlack", "{url: https://x.example/h, format: slack, routing_key: k}", "rollouts.alerts[0].routing_key: only a pagerduty webhook takes a routing key"},
		{"BadSeverity", "{url: https://x.example/h, severity: error}", `rollouts.alerts[0].severity: "error" is not one of info, warning, critical`},
		{"UnknownEvent", "{url: https://x.example/h, events: [failed, rollback]}", `rollouts.alerts[0].events[1]: "rollback" is not an alert event; the events are rolled_back, aborted, failed, undone, paused, resumed, promoted, baking, completed, concluded; did you mean rolled_back?`},
		{"NoEvents", "{url: https://x.example/h, events: []}", "rollouts.alerts[0].events: names no event"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte("rollouts:\n  alerts:\n    - "+c.hook+"\n"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v\nwant %s", err, c.want)
			}
		})
	}
	// The routing key and the API key are secrets: an error about them
	// never shows them.
	for _, hook := range []string{"{url: https://x.example/h, routing_key: TOPSECRETKEY}", "{url: https://x.example/h, api_key: TOPSECRETKEY}",
		"{format: opsgenie, api_key: \"TOPSECRETKEY \"}", "{format: pagerduty, routing_key: TOPSECRETKEY, api_key: TOPSECRETKEY}"} {
		_, err = config.ParseGateway("g.yaml", []byte("rollouts:\n  alerts:\n    - "+hook+"\n"))
		if err == nil || strings.Contains(err.Error(), "TOPSECRETKEY") {
			t.Errorf("%s: error %v", hook, err)
		}
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
