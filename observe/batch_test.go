package observe_test

import (
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// recordMix records n observations of m/v in cat on r, arriving i seconds
// after t0 for i in [from, from+n): every 5th fails with a timeout, every
// 7th with a 5xx, every 2nd streams, every 10th is a refusal; each gets a
// heuristic quality score.
func recordMix(r *observe.Recorder, m, v, cat string, from, n int) {
	for i := from; i < from+n; i++ {
		o := obs(m, v, cat, i)
		o.Stream = i%2 == 0
		o.Refusal = i%10 == 1 // i%10 == 0 would fall on the timeouts, not counted as refusals
		switch {
		case i%5 == 0:
			o.ErrorClass, o.Status = "timeout", 504
		case i%7 == 0:
			o.ErrorClass, o.Status = "upstream_5xx", 502
		}
		r.Record(o)
		r.RecordQualityFrom(observe.SourceHeuristic, m, v, cat, o.At, float64(i%3)/2)
	}
}

// ship takes what c has and ingests it into dst, returning the batches.
func ship(tb testing.TB, c *observe.Cursor, dst *observe.Recorder) []observe.Batch {
	tb.Helper()
	bs := c.Take()
	for _, b := range bs {
		if err := dst.Ingest(b); err != nil {
			tb.Fatalf("Ingest(%s/%s/%s): %v", b.Model, b.Version, b.Category, err)
		}
	}
	return bs
}

func TestCursor_Take(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		src := observe.New(observe.Options{})
		recordMix(src, "m", "v1", "old", 0, 10) // before the cursor: not taken
		c := observe.NewCursor(src)
		dst := observe.New(observe.Options{})
		recordMix(src, "m", "v1", "chat", 1, 300)
		recordMix(src, "m", "v1", "code", 301, 200)
		recordMix(src, "m", "v2", "", 501, 100)
		bs := ship(t, c, dst)
		if len(bs) != 3 {
			t.Fatalf("%d batches, want 3 (chat, code and none of v1 and v2)", len(bs))
		}
		for _, b := range bs {
			if b.Overwritten != 0 || b.Observations != b.Scores {
				t.Errorf("batch %s/%s: %d observations, %d scores, %d overwritten", b.Version, b.Category, b.Observations, b.Scores, b.Overwritten)
			}
		}
		for _, k := range [][2]string{{"v1", "chat"}, {"v1", "code"}, {"v1", ""}, {"v2", ""}, {"v2", observe.NoCategory}} {
			since := t0.Add(time.Duration(100+k[0][1]) * time.Second)
			want := src.Window("m", k[0], k[1], since)
			got := dst.Window("m", k[0], k[1], since)
			if k == [2]string{"v1", ""} {
				// The source's version window also holds category "old"
				// (0 to 9: 3 errors, 1 refusal), and interleaves the
				// categories as they came.
				want.Total.Requests -= 10
				want.Total.Succeeded -= 7
				want.Total.Errors -= 3
				want.Total.Refusals -= 1
				for _, x := range [][]float64{got.Latency, got.TTFT, got.OutputTokens, got.ResponseChars, want.Latency, want.TTFT, want.OutputTokens, want.ResponseChars} {
					slices.Sort(x)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s after ingest:\n got  %+v\n want %+v", k[0], k[1], got, want)
			}
		}
		if got := c.Take(); len(got) != 0 {
			t.Fatalf("a second Take with nothing new returned %d batches", len(got))
		}
		// The next Take has only what came since.
		recordMix(src, "m", "v1", "chat", 1000, 7)
		bs = ship(t, c, dst)
		if len(bs) != 1 || bs[0].Observations != 7 || bs[0].Category != "chat" {
			t.Fatalf("second take: %+v", bs)
		}
		if got, want := dst.Window("m", "v1", "chat", time.Time{}).Requests, int64(307); got != want {
			t.Fatalf("after two takes the receiver has %d of chat, want %d", got, want)
		}
	})
	t.Run("Overwritten", func(t *testing.T) {
		src := observe.New(observe.Options{WindowSize: 64})
		c := observe.NewCursor(src)
		for i := range 100 {
			src.Record(obs("m", "v1", "chat", i))
		}
		bs := c.Take()
		if len(bs) != 1 || bs[0].Observations != 64 || bs[0].Overwritten != 36 {
			t.Fatalf("batches %+v, want 64 observations and 36 overwritten", bs)
		}
		dst := observe.New(observe.Options{WindowSize: 64})
		dst.Ingest(bs[0])
		got := dst.Window("m", "v1", "chat", time.Time{})
		if got.Requests != 64 || !got.First.Equal(t0.Add(36*time.Second)) {
			t.Fatalf("ingested %d from %v, want the newest 64 from %v", got.Requests, got.First, t0.Add(36*time.Second))
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		// Takes while four goroutines record: every observation is in
		// exactly one Batch.
		src, dst := observe.New(observe.Options{}), observe.New(observe.Options{})
		c := observe.NewCursor(src)
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 2000 {
					src.Record(obs("m", fmt.Sprint("v", w%2), fmt.Sprint("c", i%3), i))
				}
			})
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			for _, b := range c.Take() {
				if b.Overwritten != 0 {
					t.Errorf("%d overwritten", b.Overwritten)
				}
				dst.Ingest(b)
			}
		}
		var n int64
		for _, v := range []string{"v0", "v1"} {
			n += dst.Window("m", v, "", time.Time{}).Requests
		}
		if n != 8000 {
			t.Fatalf("the receiver has %d observations, want the 8000 recorded", n)
		}
	})
	t.Run("ErrBadBatch", func(t *testing.T) {
		src := observe.New(observe.Options{})
		c := observe.NewCursor(src)
		recordMix(src, "m", "v1", "chat", 1, 20)
		b := c.Take()[0]
		dst := observe.New(observe.Options{})
		for _, data := range [][]byte{nil, []byte("nope"), b.Data[:len(b.Data)-1], append(b.Data[:len(b.Data):len(b.Data)], 0)} {
			bad := b
			bad.Data = data
			if err := dst.Ingest(bad); err == nil {
				t.Errorf("Ingest of %d corrupt bytes: no error", len(data))
			}
		}
		if n := dst.Window("m", "v1", "", time.Time{}).Requests; n != 0 {
			t.Fatalf("corrupt batches added %d observations", n)
		}
	})
}

func TestUnion_Window(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		// Three replicas' traffic: the local one, and two others shipped to
		// the receiver.
		local, remote := observe.New(observe.Options{}), observe.New(observe.Options{})
		a, b := observe.New(observe.Options{}), observe.New(observe.Options{})
		ca, cb := observe.NewCursor(a), observe.NewCursor(b)
		recordMix(local, "m", "v1", "chat", 0, 100)
		recordMix(a, "m", "v1", "chat", 50, 120)
		recordMix(b, "m", "v1", "code", 20, 80)
		b.Record(&sluice.Observation{At: t0.Add(90 * time.Second), Model: "m", Version: "v1", Category: "code", ErrorClass: "only_on_b", Status: 500})
		ship(t, ca, remote)
		ship(t, cb, remote)
		u := observe.Union{local, remote}
		for _, cat := range []string{"", "chat", "code"} {
			for _, since := range []time.Time{{}, t0.Add(60 * time.Second), t0.Add(150 * time.Second), t0.Add(time.Hour)} {
				got := u.Window("m", "v1", cat, since)
				var want observe.Sample
				for _, r := range []*observe.Recorder{local, a, b} {
					w := r.Window("m", "v1", cat, since)
					want.Requests += w.Requests
					want.Succeeded += w.Succeeded
					want.Errors += w.Errors
					want.Refusals += w.Refusals
					want.Total.Requests += w.Total.Requests
					want.Latency = append(want.Latency, w.Latency...)
					want.TTFT = append(want.TTFT, w.TTFT...)
					want.Quality = append(want.Quality, w.Quality...)
					for c, n := range w.ErrorClasses {
						if want.ErrorClasses == nil {
							want.ErrorClasses = map[string]int64{}
						}
						want.ErrorClasses[c] += n
					}
				}
				name := fmt.Sprintf("category %q since %v", cat, since.Sub(t0))
				if got.Counts != want.Counts || got.Total.Requests != want.Total.Requests {
					t.Errorf("%s: counts %+v total %d, want the sum %+v total %d", name, got.Counts, got.Total.Requests, want.Counts, want.Total.Requests)
				}
				if len(got.Latency) != len(want.Latency) || len(got.TTFT) != len(want.TTFT) || len(got.Quality) != len(want.Quality) {
					t.Errorf("%s: %d latencies, %d ttft, %d scores; want %d, %d, %d", name, len(got.Latency), len(got.TTFT), len(got.Quality), len(want.Latency), len(want.TTFT), len(want.Quality))
				}
				if !reflect.DeepEqual(got.ErrorClasses, want.ErrorClasses) {
					t.Errorf("%s: error classes %v, want %v", name, got.ErrorClasses, want.ErrorClasses)
				}
				if got.Truncated {
					t.Errorf("%s: truncated", name)
				}
			}
		}
		full := u.Window("m", "v1", "", time.Time{})
		if !full.First.Equal(t0) || !full.Last.Equal(t0.Add(169*time.Second)) {
			t.Errorf("First, Last = %v, %v; want t0 and t0+169s", full.First.Sub(t0), full.Last.Sub(t0))
		}
		if got := u.Categories("m"); !reflect.DeepEqual(got, []string{"chat", "code"}) {
			t.Errorf("Categories = %q, want chat and code", got)
		}
	})
	t.Run("Truncated", func(t *testing.T) {
		// Each window holds 100; the union is bounded at the local
		// Recorder's 100 too, keeping the most recent.
		opt := observe.Options{WindowSize: 100, VersionWindowSize: 100}
		local, remote, a := observe.New(opt), observe.New(opt), observe.New(opt)
		ca := observe.NewCursor(a)
		for i := range 80 {
			local.Record(obs("m", "v1", "chat", 2*i)) // 0, 2, ..., 158
			a.Record(obs("m", "v1", "chat", 2*i+1))   // 1, 3, ..., 159
		}
		ship(t, ca, remote)
		u := observe.Union{local, remote}
		for _, cat := range []string{"", "chat"} {
			s := u.Window("m", "v1", cat, time.Time{})
			if s.Requests != 100 || !s.Truncated || !s.First.Equal(t0.Add(60*time.Second)) || !s.Last.Equal(t0.Add(159*time.Second)) {
				t.Errorf("category %q: %d requests from %v to %v, truncated %v; want the newest 100, from 60s to 159s, truncated",
					cat, s.Requests, s.First.Sub(t0), s.Last.Sub(t0), s.Truncated)
			}
			if s.Total.Requests != 160 {
				t.Errorf("category %q: Total %d, want 160", cat, s.Total.Requests)
			}
			// A since after the cut is not truncated.
			if s := u.Window("m", "v1", cat, t0.Add(100*time.Second)); s.Requests != 60 || s.Truncated {
				t.Errorf("category %q since 100s: %d requests, truncated %v; want 60, not truncated", cat, s.Requests, s.Truncated)
			}
		}
	})
	t.Run("TruncatedRemote", func(t *testing.T) {
		// The other replicas' window overwrote its oldest: the union
		// leaves out the local observations up to the newest it lost, so
		// the Sample covers the same span for every replica.
		opt := observe.Options{WindowSize: 100, VersionWindowSize: 100}
		local, remote, a := observe.New(opt), observe.New(opt), observe.New(opt)
		ca := observe.NewCursor(a)
		for i := range 150 {
			a.Record(obs("m", "v1", "chat", 2*i+1)) // 1, 3, ..., 299
		}
		for i := range 20 {
			local.Record(obs("m", "v1", "chat", 2*i)) // 0, 2, ..., 38
		}
		ship(t, ca, remote) // remote keeps 101, ..., 299
		u := observe.Union{local, remote}
		s := u.Window("m", "v1", "chat", time.Time{})
		if s.Requests != 100 || !s.Truncated || !s.First.Equal(t0.Add(101*time.Second)) {
			t.Errorf("%d requests from %v, truncated %v; want 100 from 101s (the remote window's first), truncated", s.Requests, s.First.Sub(t0), s.Truncated)
		}
		s = u.Window("m", "v1", "chat", t0.Add(200*time.Second))
		if s.Requests != 50 || s.Truncated {
			t.Errorf("since 200s: %d requests, truncated %v; want 50, not truncated", s.Requests, s.Truncated)
		}
	})
	t.Run("One", func(t *testing.T) {
		r := observe.New(observe.Options{})
		recordMix(r, "m", "v1", "chat", 0, 50)
		since := t0.Add(10 * time.Second)
		if got, want := (observe.Union{r}).Window("m", "v1", "", since), r.Window("m", "v1", "", since); !reflect.DeepEqual(got, want) {
			t.Fatalf("a Union of one differs from its Recorder:\n got  %+v\n want %+v", got, want)
		}
	})
}

// BenchmarkCursor_Take measures a flush's taking and encoding: 20 series
// with 50 new observations and scores each (1,000 requests a second).
func BenchmarkCursor_Take(b *testing.B) {
	r := observe.New(observe.Options{})
	c := observe.NewCursor(r)
	var bytes int
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for s := range 20 {
			recordMix(r, "m", fmt.Sprint("v", s%2), fmt.Sprint("c", s/2), 0, 50)
		}
		b.StartTimer()
		bytes = 0
		for _, x := range c.Take() {
			bytes += len(x.Data)
		}
	}
	b.ReportMetric(float64(bytes), "bytes/take")
}
