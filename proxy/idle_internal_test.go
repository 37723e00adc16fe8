package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// TestIdle_ManyStreamsNothingLeft: many concurrent answers through each
// client, under a 50/50 split whose candidate fails every other request
// (retried on stable) and is mirrored to: healthy streams pausing a fifth
// of the idle bound between events, streams and whole answers that stall
// (cut at the bound), clients that hang up mid-stream. No healthy answer
// is cut, every stalled one is (or failed over to a 503), and once all
// have ended nothing is left watched: no idleBody in the Transport's
// watcher, no connection in the own client's watchdog, and both
// goroutines gone. Run with -race.
func TestIdle_ManyStreamsNothingLeft(t *testing.T) {
	const idle = 500 * time.Millisecond
	for _, own := range []bool{true, false} {
		t.Run(fmt.Sprint("own=", own), func(t *testing.T) {
			ch := func(s string) string {
				return `data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + s + `"},"finish_reason":null}]}` + "\n\n"
			}
			var v2calls atomic.Int64
			h := func(v2 bool) http.HandlerFunc {
				return func(w http.ResponseWriter, r *http.Request) {
					b, _ := io.ReadAll(r.Body)
					body := string(b)
					if v2 && v2calls.Add(1)%2 == 0 {
						http.Error(w, "overloaded", 503)
						return
					}
					fl := w.(http.Flusher)
					if !strings.Contains(body, `"stream":true`) {
						w.Header().Set("Content-Type", "application/json")
						if strings.Contains(body, "stall") {
							w.Header().Set("Content-Length", "300")
							w.WriteHeader(200)
							io.WriteString(w, `{"id":`)
							fl.Flush()
							<-r.Context().Done()
							return
						}
						io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"abcd"},"finish_reason":"stop"}]}`)
						return
					}
					w.Header().Set("Content-Type", "text/event-stream")
					w.WriteHeader(200)
					for i, s := range []string{"a", "b", "c", "d"} {
						if i > 0 {
							time.Sleep(idle / 5)
						}
						io.WriteString(w, ch(s))
						fl.Flush()
						if strings.Contains(body, "stall") {
							<-r.Context().Done()
							return
						}
					}
					io.WriteString(w, "data: [DONE]\n\n")
				}
			}
			b1 := httptest.NewServer(h(false))
			b2 := httptest.NewServer(h(true))
			t.Cleanup(b1.Close)
			t.Cleanup(b2.Close)
			e := sluice.NewRegistry().Edit("test", "fixture", time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC))
			for _, v := range []sluice.Version{
				{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{b1.URL}},
				{Model: "chat", Version: "v2", Stage: sluice.StageStaging, Endpoints: []string{b2.URL}},
			} {
				if _, err := e.RegisterVersion(v); err != nil {
					t.Fatal(err)
				}
			}
			if err := e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: 50}, {Version: "v2", Percent: 50}}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Finish(); err != nil {
				t.Fatal(err)
			}
			opt := Options{Routes: route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions())), IdleTimeout: idle, RequestTimeout: 30 * time.Second}
			if !own {
				opt.Transport = NewTransport(5*time.Second, 5*time.Second)
			}
			p := New(opt)
			p.SetShadow("chat", "chat:v2", 0.3)
			srv := httptest.NewServer(p)
			t.Cleanup(func() { p.Close(); srv.Close() })

			var wg sync.WaitGroup
			var mu sync.Mutex
			var bad []string
			for g := 0; g < 24; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					for i := 0; i < 6; i++ {
						mode := []string{"ok", "ok", "stall", "hangup", "ok"}[(g+i)%5]
						stream := (g+i)%3 != 0
						body := fmt.Sprintf(`{"model":"chat","stream":%v,"messages":[{"role":"user","content":"%s"}]}`, stream, mode)
						ctx, cancel := context.WithCancel(context.Background())
						req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions", strings.NewReader(body))
						req.Header.Set("X-Sluice-Test", fmt.Sprint(g, i))
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							cancel()
							mu.Lock()
							bad = append(bad, mode+": "+err.Error())
							mu.Unlock()
							continue
						}
						var got string
						if mode == "hangup" && stream {
							br := bufio.NewReader(resp.Body)
							br.ReadString('\n')
							cancel()
						} else {
							b, _ := io.ReadAll(resp.Body)
							got = string(b)
						}
						resp.Body.Close()
						cancel()
						switch {
						case mode == "ok" && stream && !strings.Contains(got, "[DONE]"):
							mu.Lock()
							bad = append(bad, "healthy stream cut: "+got)
							mu.Unlock()
						case mode == "ok" && !stream && resp.StatusCode != 200:
							mu.Lock()
							bad = append(bad, "healthy answer failed: "+got)
							mu.Unlock()
						case mode == "stall" && !strings.Contains(got, "timeouts.idle") && !strings.Contains(got, "overloaded"):
							mu.Lock()
							bad = append(bad, "stall not cut by idle: "+got)
							mu.Unlock()
						}
					}
				}(g)
			}
			wg.Wait()
			for _, b := range bad {
				t.Error(b)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				p.idle.mu.Lock()
				nb, run := len(p.idle.bodies), p.idle.running
				p.idle.mu.Unlock()
				nc, wrun := 0, false
				if p.up != nil {
					p.up.watchdog.mu.Lock()
					nc, wrun = len(p.up.watchdog.conns), p.up.watchdog.running
					p.up.watchdog.mu.Unlock()
				}
				if nb == 0 && !run && nc == 0 && !wrun {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("left: %d idle bodies (watcher running %v), %d watched conns (watchdog running %v)", nb, run, nc, wrun)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
