// Command loadgen is the load generator of cmd/sluice's load test, built by
// the test without the race detector so that it costs the machine little:
// it sends chat requests at a steady rate for a duration, checks each
// answer, writes "request-id version" per answered request to -out, and
// prints a JSON summary on stdout.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Summary is what loadgen prints when it is done.
type Summary struct {
	Sent       int64   `json:"sent"`
	Answered   int64   `json:"answered"`
	Failed     int64   `json:"failed"`
	Dropped    int64   `json:"dropped"`
	Streams    int64   `json:"streams"`
	FirstError string  `json:"first_error,omitempty"`
	ElapsedMS  float64 `json:"elapsed_ms"`
	RatePerSec float64 `json:"rate_per_sec"`
	P50MS      float64 `json:"p50_ms"`
	P99MS      float64 `json:"p99_ms"`
	MaxMS      float64 `json:"max_ms"`
}

type served struct {
	id, version string
	latency     time.Duration
}

func main() {
	url := flag.String("url", "", "gateway base URL")
	rate := flag.Int("rate", 2000, "requests per second")
	dur := flag.Duration("duration", time.Minute, "how long to send")
	workers := flag.Int("workers", 64, "concurrent requests at most")
	out := flag.String("out", "", "file for the answered requests")
	flag.Parse()

	permits := make(chan struct{}, *rate)
	var sent, failed, dropped, streams atomic.Int64
	var firstErr atomic.Value
	fail := func(msg string) {
		failed.Add(1)
		firstErr.CompareAndSwap(nil, msg)
	}
	results := make([][]served, *workers)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *workers, MaxIdleConns: *workers}}
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range permits {
				n := sent.Add(1)
				model, stream := "chat", n%10 == 0
				if n%4 == 1 {
					model = "code"
				}
				body := fmt.Sprintf(`{"model":%q,"user":"u-%d","stream":%v,"max_tokens":8,"messages":[{"role":"user","content":"hello"}]}`, model, n%5000, stream)
				start := time.Now()
				resp, err := client.Post(*url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					fail(err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil:
					fail("read: " + err.Error())
					continue
				case resp.StatusCode != 200:
					fail(fmt.Sprintf("status %d: %s", resp.StatusCode, b))
					continue
				case stream && !strings.Contains(string(b), "data: [DONE]"):
					fail("stream without [DONE]: " + string(b))
					continue
				}
				if stream {
					streams.Add(1)
				}
				results[w] = append(results[w], served{resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Model-Version"), time.Since(start)})
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	issued := 0
	for time.Since(start) < *dur {
		<-tick.C
		due := int(min(time.Since(start), *dur).Seconds() * float64(*rate))
		for ; issued < due; issued++ {
			select {
			case permits <- struct{}{}:
			default:
				dropped.Add(1)
			}
		}
	}
	tick.Stop()
	close(permits)
	wg.Wait()
	elapsed := time.Since(start)

	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bw := bufio.NewWriter(f)
	var lat []time.Duration
	for _, rs := range results {
		for _, r := range rs {
			fmt.Fprintf(bw, "%s %s\n", r.id, r.version)
			lat = append(lat, r.latency)
		}
	}
	if err := bw.Flush(); err != nil || f.Close() != nil {
		fmt.Fprintln(os.Stderr, "write", *out, err)
		os.Exit(1)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	s := Summary{Sent: sent.Load(), Answered: int64(len(lat)), Failed: failed.Load(), Dropped: dropped.Load(), Streams: streams.Load(),
		ElapsedMS: ms(elapsed), RatePerSec: float64(sent.Load()) / elapsed.Seconds()}
	if v, ok := firstErr.Load().(string); ok {
		s.FirstError = v
	}
	if len(lat) > 0 {
		s.P50MS, s.P99MS, s.MaxMS = ms(lat[len(lat)/2]), ms(lat[len(lat)*99/100]), ms(lat[len(lat)-1])
	}
	json.NewEncoder(os.Stdout).Encode(s)
}
