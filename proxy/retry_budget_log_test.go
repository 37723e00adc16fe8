package proxy_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// syncBuffer is a bytes.Buffer a logger may write from the handlers'
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the lines written that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range strings.SplitSeq(s.b.String(), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return out
}

// What the user does: runs a gateway whose retry budget is spent (here it
// allows none) while a canary refuses every request, and reads its log.
// What happened: sluice_retries_total counted the refusals on /metrics, but
// no log line said the budget ran out, so an SRE reading the logs during a
// storm saw clients' failures and no cause.
// What must happen: a warning naming the model, the retries refused since
// its last line, the budget's settings and where to change them; at most
// one a minute per model (the clock injected), the next counting every
// refusal the quiet minute held back.
func TestRetryBudget_LogsRefusalsOnceAMinute(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	bad, _ := overloadedBackend(t, 429, "Retry-After", "2")
	var clock atomic.Int64
	clock.Store(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC).UnixNano())
	var out syncBuffer
	_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Log: &spyLog{},
		RetryBudget: &proxy.RetryBudget{Percent: 0, MinPerSecond: 0},
		Now:         func() time.Time { return time.Unix(0, clock.Load()) },
		Logger:      slog.New(slog.NewTextHandler(&out, nil))})
	client := chatClient(url)
	send := func(n int) {
		t.Helper()
		for range n {
			if _, err := client.Chat.Completions.New(context.Background(), hi("chat")); err == nil {
				t.Fatal("answered: want the candidate's 429, the budget allowing no retry")
			}
		}
	}
	const what = "retry budget spent"
	send(3)
	if l := out.lines(what); len(l) != 1 || !strings.Contains(l[0], "model=chat") || !strings.Contains(l[0], "retries_refused=1 ") ||
		!strings.Contains(l[0], "budget_percent=0 min_per_second=0") || !strings.Contains(l[0], "retries.budget_percent and retries.min_per_second") {
		t.Fatalf("after the first refusals, want one line naming chat, 1 refused, the budget and its keys: %q", l)
	}
	clock.Add(int64(59 * time.Second))
	send(4)
	if l := out.lines(what); len(l) != 1 {
		t.Fatalf("%d lines within the minute, want 1: %q", len(l), l)
	}
	clock.Add(int64(time.Second))
	send(1)
	l := out.lines(what)
	if len(l) != 2 || !strings.Contains(l[1], "retries_refused=7 ") || !strings.Contains(l[1], "since_last_line=1m0s") {
		t.Fatalf("a minute after the first line, want a second one counting the 2+4+1 refused since: %q", l)
	}
}
