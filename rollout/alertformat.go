package rollout

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// post is one request an alert makes of a webhook: a pager's may make
// several (a promotion closes two incidents).
type post struct {
	url  string
	body []byte
}

func jsonPost(url string, v any) post {
	body, _ := json.Marshal(v)
	return post{url: url, body: body}
}

// alertPosts renders a for h's format: the requests to make, in order.
func alertPosts(h Webhook, a Alert, source string) []post {
	switch h.Format {
	case "pagerduty":
		return pagerDutyPosts(h, a, source)
	case "opsgenie":
		return opsgeniePosts(h, a, source)
	}
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
	case "googlechat":
		v = googleChatBody(a)
	case "discord":
		v = discordBody(a)
	case "msteams":
		v = teamsBody(a)
	default:
		v = a
	}
	return []post{jsonPost(h.target(), v)}
}

// GoogleChatMaxText is the most characters Google Chat takes in a
// message's text (its API answers 400 "Message is longer than 4096
// characters"); counted here in UTF-16 units, as no fewer than Google
// counts.
const GoogleChatMaxText = 4096

// googleChatBody is a Google Chat incoming webhook's text message, in
// Chat's own formatting (*bold*), cut to its limit. Chat reads <users/all>
// as a mention of everyone and <url|text> as a link: a < in the rollout or
// the message is followed by a zero-width space, which shows nothing and
// makes it neither.
func googleChatBody(a Alert) any {
	icon := map[string]string{"critical": "🚨", "warning": "⚠️"}[a.Severity]
	if icon == "" {
		icon = "✅"
	}
	text := fmt.Sprintf("%s *%s* %s", icon, googleChatEscape(alertTitle(a)), googleChatEscape(a.Message))
	return map[string]string{"text": cutUTF16(text, GoogleChatMaxText)}
}

func googleChatEscape(s string) string {
	return strings.ReplaceAll(s, "<", "<\u200b")
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
// would read as markdown, which Discord then shows as written. A URL
// (http:// or https:// up to a space or a <) is left as written: Discord
// links it whole, backslashes included (a reason's https://ci/run_42
// escaped linked to run\_42), and formats nothing inside it.
func discordEscape(s string) string {
	if !strings.ContainsAny(s, discordMarkdown) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "http://") || strings.HasPrefix(s[i:], "https://") {
			n := strings.IndexFunc(s[i:], func(r rune) bool { return r == '<' || unicode.IsSpace(r) })
			if n < 0 {
				n = len(s) - i
			}
			b.WriteString(s[i : i+n])
			i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if strings.ContainsRune(discordMarkdown, r) {
			b.WriteByte('\\')
		}
		b.WriteString(s[i : i+size])
		i += size
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
