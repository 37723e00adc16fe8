package main

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// webhookSyntax is what a --webhook takes, for the errors.
const webhookSyntax = "give TYPE:NAME=URL, such as --webhook pre_rollout:golden-set=https://evals.internal/sluice/run (TYPE is pre_rollout, confirm_promotion or stage)"

// parseWebhookFlags builds a rollout's webhooks from sluice rollout
// start's flags: each --webhook TYPE:NAME=URL declares one, in order, and
// --webhook-timeout NAME=DURATION and --webhook-header NAME:Header=Value
// add to the one named. It checks only their syntax and that the names
// they give are declared: the rest (the type, the URL, a name given
// twice, a timeout out of range, a confirm_promotion that would never be
// asked) is the server's to check, as for a spec sent to the API, and
// webhookFlagError names the flag its error is about.
func parseWebhookFlags(hooks, timeouts, headers []string) ([]sluice.RolloutWebhook, error) {
	var out []sluice.RolloutWebhook
	index := map[string]int{}
	for _, h := range hooks {
		typ, rest, ok := strings.Cut(h, ":")
		name, url, ok2 := strings.Cut(rest, "=")
		if !ok || !ok2 || strings.Contains(typ, "/") {
			// "https://…" alone cuts at its scheme's colon: say what to write.
			return nil, fmt.Errorf("--webhook %q: %s", h, webhookSyntax)
		}
		typ, name, url = strings.TrimSpace(typ), strings.TrimSpace(name), strings.TrimSpace(url)
		if _, dup := index[name]; !dup {
			index[name] = len(out)
		}
		out = append(out, sluice.RolloutWebhook{Name: name, Type: typ, URL: url})
	}
	find := func(flag, arg, name string) (int, error) {
		i, ok := index[name]
		if !ok {
			return 0, fmt.Errorf("--%s %q: no --webhook is named %q: declare it first, such as --webhook confirm_promotion:%s=https://…", flag, arg, name, name)
		}
		return i, nil
	}
	for _, t := range timeouts {
		name, d, ok := strings.Cut(t, "=")
		if !ok {
			return nil, fmt.Errorf("--webhook-timeout %q: give NAME=DURATION, such as --webhook-timeout golden-set=10m", t)
		}
		i, err := find("webhook-timeout", t, strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		dur, err := time.ParseDuration(strings.TrimSpace(d))
		if err != nil || dur <= 0 {
			return nil, fmt.Errorf("--webhook-timeout %q: give a positive duration, such as %s=10m (default %s, at most %s)", t, name, sluice.DefaultWebhookTimeout, sluice.MaxWebhookTimeout)
		}
		out[i].Timeout = sluice.Duration(dur)
	}
	for _, h := range headers {
		name, kv, ok := strings.Cut(h, ":")
		key, value, ok2 := strings.Cut(kv, "=")
		if !ok || !ok2 || strings.TrimSpace(key) == "" {
			return nil, fmt.Errorf("--webhook-header %q: give NAME:Header=Value, such as --webhook-header \"golden-set:Authorization=Bearer $EVAL_TOKEN\"", h)
		}
		i, err := find("webhook-header", h, strings.TrimSpace(name))
		if err != nil {
			return nil, err
		}
		if out[i].Headers == nil {
			out[i].Headers = map[string]string{}
		}
		out[i].Headers[strings.TrimSpace(key)] = value
	}
	return out, nil
}

// webhookField matches the field a webhook's error names
// (webhooks[1].url).
var webhookField = regexp.MustCompile(`^webhooks\[(\d+)\]\.(\w+)$`)

// webhookFlagError rewrites the server's error about a rollout's webhook
// (rollout.webhooks[1].url: …, as a model file spells it) to name the
// flag that declared it; any other error is returned as it is.
func webhookFlagError(err error, hooks []string) error {
	var se *sluice.Error
	if !errors.As(err, &se) || len(se.Fields) != 1 {
		return err
	}
	m := webhookField.FindStringSubmatch(se.Fields[0])
	if m == nil {
		return err
	}
	i, _ := strconv.Atoi(m[1])
	if i >= len(hooks) {
		return err
	}
	flag := fmt.Sprintf("--webhook %s", hooks[i])
	switch m[2] {
	case "timeout":
		flag += " (its --webhook-timeout)"
	case "headers":
		flag += " (its --webhook-header)"
	}
	msg := strings.TrimPrefix(se.Message, "rollout."+se.Fields[0]+": ")
	return &sluice.Error{Code: se.Code, Fields: se.Fields, Message: flag + ": " + msg}
}
