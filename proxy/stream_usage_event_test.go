package proxy_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams (without asking for usage) from a backend
// that names its events and gives them ids ("event:", "id:" lines), the
// usage chunk included.
// What must happen: the gateway asked for the usage chunk and hides it, and
// the whole event goes: its "event:" and "id:" lines too, so the client
// sees no stray event without data (and no id it would resume from). The
// other events keep their lines, and a client that asked for usage gets
// the usage event whole.
func TestStreamHiddenUsageEventIsDroppedWhole(t *testing.T) {
	named := func(name, id, data string) string { return "event: " + name + "\nid: " + id + "\n" + data }
	events := named("message", "1", chunk("hello")) + ": keep-alive\n\n" + named("message", "2", finalChunk) +
		named("usage", "3", usageChunk) + named("done", "4", doneEvent)
	be := sseBackend(t, events)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})

	_, body := post(t, url, "/v1/chat/completions", streamBody)
	// A keep-alive's block without its blank line, which openai-go takes
	// for an event with no data (TestStreamKeepAliveBlocksDoNotBreakOpenAIGo).
	want := named("message", "1", chunk("hello")) + ": keep-alive\n" + named("message", "2", finalChunk) + named("done", "4", doneEvent)
	if body != want {
		t.Errorf("client got\n%q\nwant the stream without the usage event\n%q", body, want)
	}

	_, body = post(t, url, "/v1/chat/completions", `{"model":"chat","stream":true,"stream_options":{"include_usage":true},"messages":[]}`)
	if want := strings.Replace(events, ": keep-alive\n\n", ": keep-alive\n", 1); body != want {
		t.Errorf("client that asked for usage got\n%q\nwant the stream as sent, the keep-alive's blank line aside\n%q", body, want)
	}
}
