package rollout

import (
	"encoding/json"
	"net/url"
	"strings"
)

// The pagers (pagerduty, opsgenie) keep incidents open, so an alert to
// them opens one or closes some. Two kinds are kept per model, each under
// a key the gateway derives from the model alone, so that it keeps no
// state: the model's (a rollback opens it, a second adds to it, the
// model's next promotion closes it) and its pause's (the controller's
// pause opens it; the resume closes it, and so do the paused rollout's
// promotion and its end by any other way, an abort's, through the alert of
// that end (Alert.PauseClose), as does the model's next promotion). They
// are apart so that a resume or an abort closes no rollback's page of an
// earlier rollout. sluice alert test's incident is a third, that no
// model's shares.

// incident names one of the incidents a pager keeps for sluice.
type incident struct {
	model  string
	paused bool // the model's pause's, not the model's
	test   bool // sluice alert test's
}

// pagerOpens returns the incident a opens (or adds to), and ok false when
// a closes incidents instead (pagerCloses).
func pagerOpens(a Alert) (incident, bool) {
	switch {
	case a.Test:
		return incident{test: true}, true
	case a.Event == "promoted" || a.Event == "resumed":
		return incident{}, false
	}
	return incident{model: a.Model, paused: a.Event == "paused"}, true
}

// pagerCloses returns the incidents a closes: a resume its pause's, a
// promotion the model's and its pause's.
func pagerCloses(a Alert) []incident {
	switch {
	case a.Test:
		return nil
	case a.Event == "resumed":
		return []incident{{model: a.Model, paused: true}}
	case a.Event == "promoted":
		return []incident{{model: a.Model}, {model: a.Model, paused: true}}
	}
	return nil
}

// isPager says whether format keeps incidents.
func isPager(format string) bool {
	return format == "pagerduty" || format == "opsgenie"
}

// pagerDutyAction is the Events API's event_action for a: a promotion or
// a resume resolves, every other alert triggers (or adds to) a page.
func pagerDutyAction(a Alert) string {
	if _, opens := pagerOpens(a); !opens {
		return "resolve"
	}
	return "trigger"
}

// PagerDutyDedupKey is the dedup_key of model's alerts: one per model, so a
// rollback's page stays one incident through the rollouts that follow
// (a second rollback adds to it) until a rollout of the model is promoted
// and resolves it. A test alert has its own, PagerDutyTestDedupKey.
func PagerDutyDedupKey(model string) string {
	if model == "" {
		return PagerDutyTestDedupKey
	}
	return "sluice/" + model
}

// PagerDutyPauseDedupKey is the dedup_key of model's pause: the
// controller's pause triggers it, the resume (or the model's next
// promotion) resolves it. Outside sluice/, so that no model's key (a model
// may be named x/paused) is the same.
func PagerDutyPauseDedupKey(model string) string {
	return "sluice-paused/" + model
}

// PagerDutyTestDedupKey is the dedup_key of sluice alert test's event:
// outside sluice/, so that no model's (a model may be named test) shares
// its incident.
const PagerDutyTestDedupKey = "sluice:test"

func (i incident) pagerDutyKey() string {
	switch {
	case i.test:
		return PagerDutyTestDedupKey
	case i.paused:
		return PagerDutyPauseDedupKey(i.model)
	}
	return PagerDutyDedupKey(i.model)
}

// pagerDutyPosts are the Events API v2 events of a: one trigger, or one
// resolve per incident a closes.
func pagerDutyPosts(h Webhook, a Alert, source string) []post {
	target := h.target()
	open, ok := pagerOpens(a)
	if !ok {
		var out []post
		for _, i := range pagerCloses(a) {
			out = append(out, pagerDutyResolve(h, i))
		}
		return out
	}
	severity := a.Severity
	if sev := map[string]bool{"critical": true, "error": true, "warning": true, "info": true}; !sev[severity] {
		severity = "error"
	}
	summary := "sluice: " + a.Message
	component := a.Model
	if a.Test {
		summary = "TEST from sluice alert test (no rollout moved): " + a.Message
		component = "sluice"
	}
	details := map[string]any{"rollout": a.Rollout, "model": a.Model, "event": a.Event, "phase": a.Phase, "message": a.Message}
	if len(a.Timings) > 0 {
		details["timings"] = a.Timings
	}
	if a.Test {
		details["test"] = true
	}
	return []post{jsonPost(target, map[string]any{
		"routing_key":  h.RoutingKey,
		"event_action": "trigger",
		"dedup_key":    open.pagerDutyKey(),
		"payload": map[string]any{
			"summary":        cutRunes(summary, 1024),
			"source":         source,
			"severity":       severity,
			"timestamp":      a.At.UTC().Format("2006-01-02T15:04:05.000Z"),
			"component":      component,
			"group":          "sluice",
			"class":          a.Event,
			"custom_details": details,
		},
	})}
}

// pagerDutyResolve is the Events API v2 event that resolves i. A resolve
// takes no payload (PagerDuty ignores one): the incident's log says it was
// resolved through the integration.
func pagerDutyResolve(h Webhook, i incident) post {
	return jsonPost(h.target(), map[string]any{"routing_key": h.RoutingKey, "event_action": "resolve", "dedup_key": i.pagerDutyKey()})
}

// pauseClosePost is the close of a's model's pause's incident that a
// carries (Alert.PauseClose): PagerDuty's resolve, or Opsgenie's close by
// alias with a.PauseClose as its note.
func pauseClosePost(h Webhook, a Alert, source string) post {
	i := incident{model: a.Model, paused: true}
	if h.Format == "opsgenie" {
		return opsgenieClose(h, i, source, a.PauseClose)
	}
	return pagerDutyResolve(h, i)
}

// OpsgenieAPIURL is where an opsgenie alert webhook posts when it gives no
// url: Opsgenie's API (an account in Opsgenie's EU region gives
// https://api.eu.opsgenie.com).
const OpsgenieAPIURL = "https://api.opsgenie.com"

// OpsgenieAlias is the alias of model's alerts in Opsgenie, its dedup key:
// one per model, as PagerDutyDedupKey. A model's "/" is written ":" (which
// no name holds), so that the alias is one segment of the close's path.
func OpsgenieAlias(model string) string {
	return "sluice:" + strings.ReplaceAll(model, "/", ":")
}

// OpsgeniePauseAlias is the alias of model's pause, as
// PagerDutyPauseDedupKey.
func OpsgeniePauseAlias(model string) string {
	return "sluice-paused:" + strings.ReplaceAll(model, "/", ":")
}

// OpsgenieTestAlias is the alias of sluice alert test's alert: not
// sluice:test, which is a model's.
const OpsgenieTestAlias = "sluice-test"

func (i incident) opsgenieAlias() string {
	switch {
	case i.test:
		return OpsgenieTestAlias
	case i.paused:
		return OpsgeniePauseAlias(i.model)
	}
	return OpsgenieAlias(i.model)
}

// opsgenieBase is h's Opsgenie API without a trailing / or /v2/alerts,
// which the requests' paths add.
func opsgenieBase(h Webhook) string {
	return strings.TrimSuffix(strings.TrimSuffix(h.target(), "/"), "/v2/alerts")
}

// opsgenieClose is the Alert API v2 request that closes i by its alias,
// with note (cut to Opsgenie's 25,000 characters); source is already cut.
func opsgenieClose(h Webhook, i incident, source, note string) post {
	return jsonPost(opsgenieBase(h)+"/v2/alerts/"+url.PathEscape(i.opsgenieAlias())+"/close?identifierType=alias",
		map[string]any{"source": cutRunes(source, 100), "note": cutRunes(note, 25000)})
}

// opsgeniePriority is the priority of an alert of severity.
func opsgeniePriority(severity string) string {
	switch severity {
	case "critical":
		return "P1"
	case "warning":
		return "P3"
	}
	return "P5"
}

// opsgeniePosts are the Alert API v2 requests of a: a create, or a close
// by alias per incident a closes. Every field is cut to Opsgenie's limits
// (message 130 characters, description 15,000, source 100, tags 50 each,
// a note 25,000), which it would otherwise refuse or cut itself.
func opsgeniePosts(h Webhook, a Alert, source string) []post {
	base := opsgenieBase(h)
	source = cutRunes(source, 100)
	open, ok := pagerOpens(a)
	if !ok {
		var out []post
		for _, i := range pagerCloses(a) {
			out = append(out, opsgenieClose(h, i, source, a.Message))
		}
		return out
	}
	message := "sluice: " + a.Message
	entity := a.Model
	tags := []string{"sluice", a.Event, a.Severity}
	details := map[string]string{"rollout": a.Rollout, "model": a.Model, "event": a.Event, "phase": string(a.Phase), "severity": a.Severity}
	if len(a.Timings) > 0 {
		t, _ := json.Marshal(a.Timings)
		details["timings"] = string(t) // details take strings only
	}
	if a.Test {
		message = "TEST from sluice alert test (no rollout moved): " + a.Message
		entity = "sluice"
		tags = []string{"sluice", "test", a.Severity}
		details = map[string]string{"test": "true", "severity": a.Severity}
	}
	return []post{jsonPost(base+"/v2/alerts", map[string]any{
		"message":     cutRunes(message, 130),
		"alias":       open.opsgenieAlias(),
		"description": cutRunes(a.Message, 15000),
		"priority":    opsgeniePriority(a.Severity),
		"tags":        tags,
		"details":     details,
		"entity":      cutRunes(entity, 512),
		"source":      source,
	})}
}
