package observe_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
)

// t0 is the arrival of the first observation in the tests.
var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// obs returns a successful observation of m/v in cat that arrived i seconds
// after t0 and took i milliseconds.
func obs(m, v, cat string, i int) *sluice.Observation {
	return &sluice.Observation{
		At:            t0.Add(time.Duration(i) * time.Second),
		Model:         m,
		Version:       v,
		Route:         "split",
		Category:      cat,
		Endpoint:      "/v1/chat/completions",
		Status:        200,
		Latency:       time.Duration(i) * time.Millisecond,
		TTFT:          time.Duration(i) * time.Millisecond,
		InputTokens:   10,
		OutputTokens:  i,
		ResponseChars: int32(4 * i),
	}
}

func TestRecorder_Window(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := observe.New(observe.Options{})
		for i := 1; i <= 100; i++ {
			o := obs("m", "v1", "chat", i)
			o.Stream = i%2 == 0
			o.Refusal = i%10 == 0
			r.Record(o)
		}
		s := r.Window("m", "v1", "chat", time.Time{})
		want := observe.Counts{Requests: 100, Succeeded: 100, Refusals: 10}
		if s.Counts != want {
			t.Fatalf("Counts = %+v, want %+v", s.Counts, want)
		}
		if s.Total != want {
			t.Fatalf("Total = %+v, want %+v", s.Total, want)
		}
		if len(s.Latency) != 100 || len(s.TTFT) != 50 || len(s.OutputTokens) != 100 || len(s.ResponseChars) != 100 {
			t.Fatalf("lengths = %d %d %d %d", len(s.Latency), len(s.TTFT), len(s.OutputTokens), len(s.ResponseChars))
		}
		slices.Sort(s.Latency)
		for i, x := range s.Latency {
			if x != float64(i+1) {
				t.Fatalf("Latency[%d] = %v, want %d", i, x, i+1)
			}
		}
		if s.ResponseChars[0] != 4 || s.OutputTokens[99] != 100 {
			t.Fatalf("sizes = %v, %v", s.ResponseChars[0], s.OutputTokens[99])
		}
		if !s.First.Equal(t0.Add(time.Second)) || !s.Last.Equal(t0.Add(100*time.Second)) {
			t.Fatalf("First, Last = %v, %v", s.First, s.Last)
		}
		if s.Truncated || s.ErrorClasses != nil {
			t.Fatalf("Truncated = %v, ErrorClasses = %v", s.Truncated, s.ErrorClasses)
		}
	})

	t.Run("Since", func(t *testing.T) {
		r := observe.New(observe.Options{})
		for i := 1; i <= 100; i++ {
			r.Record(obs("m", "v1", "chat", i))
		}
		s := r.Window("m", "v1", "chat", t0.Add(51*time.Second))
		if s.Requests != 50 || len(s.Latency) != 50 || s.Total.Requests != 100 {
			t.Fatalf("Requests = %d, len = %d, Total = %d; want 50, 50, 100", s.Requests, len(s.Latency), s.Total.Requests)
		}
		if m := slices.Min(s.Latency); m != 51 {
			t.Fatalf("min latency = %v, want 51 (since is inclusive)", m)
		}
	})

	t.Run("Errors", func(t *testing.T) {
		r := observe.New(observe.Options{})
		classes := []string{"", "timeout", "timeout", "upstream_5xx", "canceled", ""}
		for i, c := range classes {
			o := obs("m", "v1", "", i+1)
			o.ErrorClass = c
			if c != "" {
				o.Status = 502
			}
			o.Retried = c == "upstream_5xx"
			r.Record(o)
		}
		s := r.Window("m", "v1", observe.NoCategory, time.Time{})
		want := observe.Counts{Requests: 6, Succeeded: 2, Errors: 3, Retried: 1}
		if s.Counts != want {
			t.Fatalf("Counts = %+v, want %+v", s.Counts, want)
		}
		wantClasses := map[string]int64{"timeout": 2, "upstream_5xx": 1, "canceled": 1}
		if fmt.Sprint(s.ErrorClasses) != fmt.Sprint(wantClasses) {
			t.Fatalf("ErrorClasses = %v, want %v", s.ErrorClasses, wantClasses)
		}
		if len(s.Latency) != 2 {
			t.Fatalf("Latency = %v, want the 2 successes only", s.Latency)
		}
	})

	t.Run("Overwrite", func(t *testing.T) {
		r := observe.New(observe.Options{WindowSize: 10})
		for i := 1; i <= 25; i++ {
			r.Record(obs("m", "v1", "chat", i))
		}
		s := r.Window("m", "v1", "chat", time.Time{})
		if s.Requests != 10 || s.Total.Requests != 25 || !s.Truncated {
			t.Fatalf("Requests = %d, Total = %d, Truncated = %v; want 10, 25, true", s.Requests, s.Total.Requests, s.Truncated)
		}
		slices.Sort(s.Latency)
		if s.Latency[0] != 16 || s.Latency[9] != 25 {
			t.Fatalf("Latency = %v, want 16..25", s.Latency)
		}
		s = r.Window("m", "v1", "chat", t0.Add(20*time.Second))
		if s.Requests != 6 || s.Truncated {
			t.Fatalf("since 20: Requests = %d, Truncated = %v; want 6, false", s.Requests, s.Truncated)
		}
		s = r.Window("m", "v1", "chat", t0.Add(15*time.Second))
		if s.Requests != 10 || !s.Truncated {
			t.Fatalf("since 15: Requests = %d, Truncated = %v; want 10, true", s.Requests, s.Truncated)
		}
	})

	t.Run("AllCategories", func(t *testing.T) {
		r := observe.New(observe.Options{})
		for i := 1; i <= 30; i++ {
			r.Record(obs("m", "v1", []string{"a", "b", ""}[i%3], i))
		}
		r.Record(obs("m", "v2", "a", 1))
		if n := r.Window("m", "v1", "", time.Time{}).Requests; n != 30 {
			t.Fatalf("all categories = %d, want 30", n)
		}
		for _, c := range []string{"a", "b", observe.NoCategory} {
			if n := r.Window("m", "v1", c, time.Time{}).Requests; n != 10 {
				t.Fatalf("category %q = %d, want 10", c, n)
			}
		}
		if got := r.Categories("m"); !slices.Equal(got, []string{"a", "b", "none"}) {
			t.Fatalf("Categories = %v", got)
		}
		if got := r.Versions("m"); !slices.Equal(got, []string{"v1", "v2"}) {
			t.Fatalf("Versions = %v", got)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		r := observe.New(observe.Options{})
		r.Record(obs("m", "v1", "a", 1))
		for _, q := range [][3]string{{"x", "v1", ""}, {"m", "v9", ""}, {"m", "v1", "zz"}} {
			if s := r.Window(q[0], q[1], q[2], time.Time{}); s.Requests != 0 || s.Latency != nil {
				t.Fatalf("Window%v = %+v, want empty", q, s)
			}
		}
		if r.Categories("x") != nil || r.Versions("x") != nil || r.Summary("x", time.Time{}) != nil {
			t.Fatal("unknown model should give nil")
		}
	})

	t.Run("ZeroAt", func(t *testing.T) {
		now := t0.Add(time.Hour)
		r := observe.New(observe.Options{Now: func() time.Time { return now }})
		o := obs("m", "v1", "a", 1)
		o.At = time.Time{}
		r.Record(o)
		if s := r.Window("m", "v1", "a", time.Time{}); !s.First.Equal(now) {
			t.Fatalf("First = %v, want the clock's %v", s.First, now)
		}
	})
}

func TestRecorder_Categories(t *testing.T) {
	t.Run("Cap", func(t *testing.T) {
		r := observe.New(observe.Options{MaxCategories: 3})
		for i, c := range []string{"a", "b", "", "d", "e", "a", "d"} {
			r.Record(obs("m", "v1", c, i+1))
		}
		// A new version of the same model shares the model's categories.
		r.Record(obs("m", "v2", "f", 1))
		r.Record(obs("m", "v2", "b", 1))
		if got := r.Categories("m"); !slices.Equal(got, []string{"a", "b", "none", "other"}) {
			t.Fatalf("Categories = %v, want a b none other", got)
		}
		if n := r.Window("m", "v1", observe.OtherCategory, time.Time{}).Requests; n != 3 {
			t.Fatalf("other = %d, want 3", n)
		}
		if n := r.Window("m", "v1", "d", time.Time{}).Requests; n != 0 {
			t.Fatalf("d = %d, want 0 (folded)", n)
		}
		if n := r.Window("m", "v2", observe.OtherCategory, time.Time{}).Requests; n != 1 {
			t.Fatalf("v2 other = %d, want 1", n)
		}
		if n := r.Window("m", "v2", "b", time.Time{}).Requests; n != 1 {
			t.Fatalf("v2 b = %d, want 1", n)
		}
		// Another model has its own budget.
		r.Record(obs("n", "v1", "d", 1))
		if got := r.Categories("n"); !slices.Equal(got, []string{"d"}) {
			t.Fatalf("Categories(n) = %v", got)
		}
	})
}

func TestRecorder_Forget(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := observe.New(observe.Options{})
		r.Record(obs("m", "v1", "a", 1))
		r.Record(obs("m", "v2", "a", 1))
		r.Forget("m", "v1")
		if got := r.Versions("m"); !slices.Equal(got, []string{"v2"}) {
			t.Fatalf("Versions = %v", got)
		}
		if n := r.Window("m", "v1", "a", time.Time{}).Requests; n != 0 {
			t.Fatalf("v1 after Forget = %d", n)
		}
		if body := scrape(t, r); contains(body, `version="v1"`) {
			t.Fatal("metrics still hold v1 after Forget")
		}
		r.Record(obs("m", "v1", "a", 2))
		if s := r.Window("m", "v1", "", time.Time{}); s.Requests != 1 || s.Total.Requests != 1 {
			t.Fatalf("v1 afresh = %+v", s.Counts)
		}
		r.Forget("nope", "v1") // unknown: no effect
	})
}

func TestRecorder_Record(t *testing.T) {
	t.Run("Concurrent", func(t *testing.T) {
		const goroutines, each = 8, 3000
		r := observe.New(observe.Options{WindowSize: 1 << 16, MaxCategories: 4})
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range each {
					o := obs("m", fmt.Sprint("v", i%2), fmt.Sprint("c", (g+i)%6), i)
					if i%7 == 0 {
						o.ErrorClass = "timeout"
					}
					r.Record(o)
				}
			})
		}
		// Read while writing.
		for range 20 {
			_ = r.Summary("m", time.Time{})
			_ = r.Categories("m")
		}
		wg.Wait()
		var total int64
		for _, v := range r.Versions("m") {
			s := r.Window("m", v, "", time.Time{})
			total += s.Requests
			var sum int64
			for _, c := range r.Categories("m") {
				sum += r.Window("m", v, c, time.Time{}).Requests
			}
			if sum != s.Requests {
				t.Fatalf("%s: categories sum to %d, all = %d", v, sum, s.Requests)
			}
		}
		if total != goroutines*each {
			t.Fatalf("total = %d, want %d", total, goroutines*each)
		}
		if n := len(r.Categories("m")); n != 5 {
			t.Fatalf("categories = %v, want 4 and other", r.Categories("m"))
		}
	})
}

func BenchmarkRecorder_Record(b *testing.B) {
	o := obs("llama", "v7", "chat", 1)
	o.Stream = true
	o.TTFT = 80 * time.Millisecond
	o.Latency = 900 * time.Millisecond
	o.OutputTokens = 120

	b.Run("Serial", func(b *testing.B) {
		r := observe.New(observe.Options{})
		b.ReportAllocs()
		for b.Loop() {
			r.Record(o)
		}
	})
	b.Run("Parallel", func(b *testing.B) {
		r := observe.New(observe.Options{})
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			o := *o
			for pb.Next() {
				r.Record(&o)
			}
		})
	})
	b.Run("ParallelSpread", func(b *testing.B) {
		// Requests spread over 2 versions and 8 categories, as in a rollout.
		r := observe.New(observe.Options{})
		var os []*sluice.Observation
		for v := range 2 {
			for c := range 8 {
				x := *o
				x.Version, x.Category = fmt.Sprint("v", v), fmt.Sprint("c", c)
				os = append(os, &x)
			}
		}
		b.ReportAllocs()
		var seed sync.Mutex
		next := 0
		b.RunParallel(func(pb *testing.PB) {
			seed.Lock()
			i := next
			next += 5
			seed.Unlock()
			for pb.Next() {
				r.Record(os[i%len(os)])
				i++
			}
		})
	})
}
