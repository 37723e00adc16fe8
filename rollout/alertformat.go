package rollout

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf16"
)

// alertBody renders a for h's format.
func alertBody(h Webhook, a Alert, source string) []byte {
	var v any
	switch h.Format {
	case "slack":
		icon := map[string]string{"critical": ":rotating_light:", "warning": ":warning:"}[a.Severity]
		if icon == "" {
			icon = ":white_check_mark:"
		}
		// Slack reads &, < and > as control characters (<!channel>
		// notifies everyone); the text is escaped as its docs say.
		v = map[string]string{"text": fmt.Sprintf("%s *%s* %s", icon, slackEscape(alertTitle(a)), slackEscape(a.Message))}
	case "discord":
		v = discordBody(a)
	case "msteams":
		v = teamsBody(a)
	case "pagerduty":
		v = pagerDutyBody(h, a, source)
	default:
		v = a
	}
	body, _ := json.Marshal(v)
	return body
}

// alertTitle is what a chat message leads with: the rollout, or TEST.
func alertTitle(a Alert) string {
	if a.Test {
		return "TEST"
	}
	return a.Rollout
}

// DiscordMaxContent is the most characters Discord takes in a message's
// content (counted as JavaScript does, in UTF-16 units).
const DiscordMaxContent = 2000

// discordBody is slack's text in Discord's markdown, cut to Discord's
// limit. Mentions are not parsed: a model or reason holding @everyone
// must not notify the channel. The rollout and the message are escaped
// (discordEscape): a model my_model_v2 or a reason quoting `code` is
// shown as written, not formatted.
func discordBody(a Alert) any {
	icon := map[string]string{"critical": "🚨", "warning": "⚠️"}[a.Severity]
	if icon == "" {
		icon = "✅"
	}
	text := fmt.Sprintf("%s **%s** %s", icon, discordEscape(alertTitle(a)), discordEscape(a.Message))
	return map[string]any{
		"content":          cutDiscord(text, DiscordMaxContent),
		"allowed_mentions": map[string]any{"parse": []string{}},
	}
}

// discordMarkdown are the characters Discord's markdown reads: emphasis,
// code, strike-through, spoilers, quotes and headings at a line's start,
// masked links, and the backslash that escapes them all.
const discordMarkdown = "\\*_`~|><#[]"

// discordEscape puts a backslash before each of s's characters Discord
// would read as markdown, which Discord then shows as written.
func discordEscape(s string) string {
	if !strings.ContainsAny(s, discordMarkdown) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(discordMarkdown, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// cutDiscord cuts escaped text as cutUTF16 does, and drops a backslash the
// cut parted from the character it escaped: left before the "…", it would
// show, or escape the "…".
func cutDiscord(s string, n int) string {
	cut := cutUTF16(s, n)
	if cut == s {
		return s
	}
	kept := strings.TrimSuffix(cut, "…")
	if n := len(kept) - len(strings.TrimRight(kept, "\\")); n%2 == 1 {
		kept = kept[:len(kept)-1]
	}
	return kept + "…"
}

// cutUTF16 cuts s to at most n UTF-16 units, ending a cut one with "…".
func cutUTF16(s string, n int) string {
	if len(utf16.Encode([]rune(s))) <= n {
		return s
	}
	var b strings.Builder
	units := 0
	for _, r := range s {
		u := utf16.RuneLen(r)
		if u < 0 {
			u = 1
		}
		if units+u > n-1 { // room for the "…", one unit
			break
		}
		units += u
		b.WriteRune(r)
	}
	return b.String() + "…"
}

// teamsBody is a message holding one Adaptive Card, the envelope Teams'
// incoming webhooks and its Workflows ("Post to a channel when a webhook
// request is received") take.
func teamsBody(a Alert) any {
	color := map[string]string{"critical": "Attention", "warning": "Warning"}[a.Severity]
	if color == "" {
		color = "Good"
	}
	title := fmt.Sprintf("%s: rollout %s of %s %s", strings.ToUpper(a.Severity), a.Rollout, a.Model, strings.ReplaceAll(a.Event, "_", " "))
	facts := []map[string]string{
		{"title": "Model", "value": a.Model},
		{"title": "Rollout", "value": a.Rollout},
		{"title": "Event", "value": a.Event},
		{"title": "Phase", "value": string(a.Phase)},
		{"title": "Severity", "value": a.Severity},
		{"title": "At", "value": a.At.UTC().Format("2006-01-02T15:04:05Z")},
	}
	if a.Test {
		title = "TEST: an alert from sluice alert test; no rollout moved"
		facts = []map[string]string{{"title": "Severity", "value": a.Severity}, {"title": "At", "value": a.At.UTC().Format("2006-01-02T15:04:05Z")}}
	}
	card := map[string]any{
		"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
		"type":    "AdaptiveCard",
		"version": "1.2",
		"body": []any{
			map[string]any{"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "color": color, "wrap": true},
			map[string]any{"type": "TextBlock", "text": a.Message, "wrap": true},
			map[string]any{"type": "FactSet", "facts": facts},
		},
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"contentUrl":  nil,
			"content":     card,
		}},
	}
}

// pagerDutyAction is the Events API's event_action for a: a promotion
// resolves the model's page, every other alert triggers (or adds to) it.
func pagerDutyAction(a Alert) string {
	if a.Event == "promoted" && !a.Test {
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

// PagerDutyTestDedupKey is the dedup_key of sluice alert test's event:
// outside sluice/, so that no model's (a model may be named test) shares
// its incident.
const PagerDutyTestDedupKey = "sluice:test"

// pagerDutyBody is an Events API v2 event.
func pagerDutyBody(h Webhook, a Alert, source string) any {
	ev := map[string]any{
		"routing_key":  h.RoutingKey,
		"event_action": pagerDutyAction(a),
		"dedup_key":    PagerDutyDedupKey(a.Model),
	}
	if a.Test {
		ev["dedup_key"] = PagerDutyDedupKey("")
	}
	if ev["event_action"] == "resolve" {
		return ev // a resolve takes no payload
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
	ev["payload"] = map[string]any{
		"summary":        cutRunes(summary, 1024),
		"source":         source,
		"severity":       severity,
		"timestamp":      a.At.UTC().Format("2006-01-02T15:04:05.000Z"),
		"component":      component,
		"group":          "sluice",
		"class":          a.Event,
		"custom_details": details,
	}
	return ev
}
