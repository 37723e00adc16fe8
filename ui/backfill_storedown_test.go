package ui_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/ui"
)

// lockedBuffer is a log's output, read while the server writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestSeries_StoreDownReadOnceInAWhile: with the store down, every chart
// request read the request log again for the charts' past, waiting up to
// 10 s on it and logging a warning each time. A failed read is now
// remembered for 30 s: the requests meanwhile are answered at once from
// what the gateway sampled, saying the past could not be read, and the
// first after it reads the log again.
func TestSeries_StoreDownReadOnceInAWhile(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	var ahead atomic.Int64 // the dashboard's clock runs this far ahead of the real one
	logs := &lockedBuffer{}
	dash := ui.New(ui.Options{API: g.API, Control: g.Control, Windows: g.Recorder,
		Now:    func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) },
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ts := httptest.NewServer(dash.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	b := signIn(t, ts.URL, g.viewer)
	// The real SQLite store, closed under the gateway: every read fails.
	if err := g.Store.Close(); err != nil {
		t.Fatal(err)
	}
	const attempt = "read the charts' past from the request log"
	series := func() ui.SeriesAnswer {
		t.Helper()
		resp, body := b.do("GET", "/ui/api/series?model=chat", "", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("series with the store down: %d %s", resp.StatusCode, body)
		}
		var a ui.SeriesAnswer
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	for i := range 6 {
		if a := series(); !a.PastUnread || a.RetryMS != 30000 {
			t.Errorf("chart request %d with the store down: past_unread %v, retry_ms %d; want true and 30000", i+1, a.PastUnread, a.RetryMS)
		}
	}
	if n := logs.count(attempt); n != 1 {
		t.Errorf("6 chart requests within 30 s read the request log %d times; want once (a failure is remembered for 30 s)\nlog:\n%s", n, logs.b.String())
	}
	// 30 s on, the next request reads it again.
	ahead.Store(int64(30*time.Second + time.Millisecond))
	series()
	series()
	if n := logs.count(attempt); n != 2 {
		t.Errorf("after 30 s, two chart requests made %d reads in all; want 2 (one more)", n)
	}
	// Many pages at once, 30 s on again: one of them reads, the others
	// wait for that read rather than each reading.
	ahead.Store(int64(60*time.Second + 2*time.Millisecond))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			resp, body := b.do("GET", "/ui/api/series?model=chat", "", nil)
			if resp.StatusCode != 200 || !strings.Contains(string(body), `"past_unread":true`) {
				t.Errorf("a chart request among several with the store down: %d %s", resp.StatusCode, body)
			}
		})
	}
	wg.Wait()
	if n := logs.count(attempt); n != 3 {
		t.Errorf("8 chart requests at once, 30 s after the last failed read, made %d reads in all; want 3 (one more)", n)
	}
}

// TestDashboard_ChartsSayTheirPastUnread: with the store down the charts
// show what was sampled, and the note above them says the past could not
// be read, rather than reading as a gateway without traffic before.
func TestDashboard_ChartsSayTheirPastUnread(t *testing.T) {
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 2}))
	logs := &lockedBuffer{}
	dash := ui.New(ui.Options{API: g.API, Control: g.Control, Windows: g.Recorder, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ts := httptest.NewServer(dash.Handler())
	t.Cleanup(func() { ts.CloseClientConnections(); ts.Close() })
	ctx, jsErrors := newBrowser(t) // closed before the server
	if err := g.Store.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, signedIn(ts.URL, g.viewer)); err != nil {
		t.Fatalf("sign in with the store down: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var note string
	waitFor(t, "the charts' note", 10*time.Second, func() bool {
		note = evalString(ctx, t, `document.getElementById("charts-note").textContent`)
		return note != ""
	})
	if !strings.Contains(note, "The charts' past could not be read from the request log (the store did not answer)") || !strings.Contains(note, "read again every 30 s") {
		t.Errorf("with the store down the charts' note says %q; want that their past could not be read, and when it is read again", note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("the page threw: %v", errs)
	}
}
