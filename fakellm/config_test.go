package fakellm

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0xabcdef)) }

func TestConfig_Sample(t *testing.T) {
	t.Run("ZeroBehavior", func(t *testing.T) {
		var cfg Config
		o := cfg.Sample(newRand(1), "")
		want := Outcome{Status: 200, OutputTokens: DefaultOutputTokens, Content: GeneratedText(DefaultOutputTokens), FinishReason: "stop"}
		if o != want {
			t.Fatalf("got %+v, want %+v", o, want)
		}
	})
	t.Run("Deterministic", func(t *testing.T) {
		cfg := Config{Default: Behavior{
			Latency:      Distribution{MedianMS: 100, P99MS: 800},
			OutputTokens: TokenCount{Mean: 50, Spread: 40},
			ErrorRate:    0.2, RefusalRate: 0.2,
		}}
		a, b := newRand(7), newRand(7)
		for i := 0; i < 200; i++ {
			if oa, ob := cfg.Sample(a, "x"), cfg.Sample(b, "x"); oa != ob {
				t.Fatalf("draw %d differs: %+v vs %+v", i, oa, ob)
			}
		}
	})
	t.Run("LatencyQuantiles", func(t *testing.T) {
		cfg := Config{Default: Behavior{Latency: Distribution{MedianMS: 200, P99MS: 2000}}}
		rng := newRand(3)
		const n = 20000
		lat := make([]time.Duration, n)
		for i := range lat {
			lat[i] = cfg.Sample(rng, "").Latency
		}
		slices.Sort(lat)
		near(t, "median", lat[n/2], 200*time.Millisecond, 0.05)
		near(t, "p99", lat[n*99/100], 2000*time.Millisecond, 0.12)
	})
	t.Run("Fixed", func(t *testing.T) {
		cfg := Config{Default: Behavior{Latency: Distribution{MedianMS: 30}, OutputTokens: TokenCount{Mean: 12}}}
		for i := 0; i < 10; i++ {
			o := cfg.Sample(newRand(uint64(i)), "")
			if o.Latency != 30*time.Millisecond || o.TTFT != o.Latency || o.OutputTokens != 12 || CountTokens(o.Content) != 12 {
				t.Fatalf("got %+v", o)
			}
		}
	})
	t.Run("Rates", func(t *testing.T) {
		cfg := Config{Default: Behavior{ErrorRate: 0.1, RefusalRate: 0.5, ErrorStatus: 503}}
		rng := newRand(5)
		var errs, refusals int
		const n = 10000
		for i := 0; i < n; i++ {
			o := cfg.Sample(rng, "")
			switch {
			case !o.OK():
				if o.Status != 503 || o.ErrorClass != "server_error" || o.Content != "" {
					t.Fatalf("bad failure %+v", o)
				}
				errs++
			case o.Refusal:
				if o.Content != DefaultRefusal || o.OutputTokens != 6 {
					t.Fatalf("bad refusal %+v", o)
				}
				refusals++
			}
		}
		nearInt(t, "errors", errs, n/10, 0.1)
		nearInt(t, "refusals", refusals, n*9/20, 0.1) // half of the 90% that succeed
	})
	t.Run("Category", func(t *testing.T) {
		cfg := Config{
			Default:    Behavior{OutputTokens: TokenCount{Mean: 5}},
			Categories: map[string]Behavior{"code": {ErrorRate: 1}},
		}
		if o := cfg.Sample(newRand(1), "code"); o.OK() {
			t.Fatalf("code: got %+v, want failure", o)
		}
		if o := cfg.Sample(newRand(1), "chat"); o.OutputTokens != 5 {
			t.Fatalf("chat: got %+v, want default behaviour", o)
		}
	})
	t.Run("SpreadBounds", func(t *testing.T) {
		b := Behavior{OutputTokens: TokenCount{Mean: 10, Spread: 3}}
		rng := newRand(9)
		seen := map[int]bool{}
		for i := 0; i < 2000; i++ {
			seen[b.Sample(rng).OutputTokens] = true
		}
		for n := 7; n <= 13; n++ {
			if !seen[n] {
				t.Errorf("length %d never drawn", n)
			}
		}
		if len(seen) != 7 {
			t.Errorf("drew lengths %v, want 7..13", seen)
		}
	})
	t.Run("Stream", func(t *testing.T) {
		b := Behavior{TTFT: Distribution{MedianMS: 100}, TokensPerSecond: 10, OutputTokens: TokenCount{Mean: 11}}
		o := b.Sample(newRand(1))
		if o.Latency != 0 || o.TTFT != 100*time.Millisecond || o.TokenInterval != 100*time.Millisecond {
			t.Fatalf("got %+v", o)
		}
		if got := o.StreamDuration(); got != 1100*time.Millisecond {
			t.Fatalf("StreamDuration = %v, want 1.1s", got)
		}
	})
}

func near(t *testing.T, what string, got, want time.Duration, tol float64) {
	t.Helper()
	if d := float64(got-want) / float64(want); d > tol || d < -tol {
		t.Errorf("%s = %v, want %v ± %.0f%%", what, got, want, tol*100)
	}
}

func nearInt(t *testing.T, what string, got, want int, tol float64) {
	t.Helper()
	near(t, what, time.Duration(got), time.Duration(want), tol)
}

func TestDistribution_Quantile(t *testing.T) {
	d := Distribution{MedianMS: 100, P99MS: 1000}
	near(t, "q50", d.Quantile(0.5), 100*time.Millisecond, 0.001)
	near(t, "q99", d.Quantile(0.99), time.Second, 0.001)
	if got := (Distribution{MedianMS: 40}).Quantile(0.99); got != 40*time.Millisecond {
		t.Errorf("fixed q99 = %v", got)
	}
}

func TestOutcome_Limit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		tokens     int
		limit      int
		wantTokens int
		wantFinish string
	}{
		{"NoLimit", 10, 0, 10, "stop"},
		{"Under", 10, 20, 10, "stop"},
		{"Exact", 10, 10, 10, "stop"},
		{"Cut", 10, 4, 4, "length"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := Outcome{Status: 200}
			o.SetTokens(tc.tokens)
			o.Limit(tc.limit)
			if o.OutputTokens != tc.wantTokens || CountTokens(o.Content) != tc.wantTokens || o.FinishReason != tc.wantFinish {
				t.Fatalf("got %d tokens (%q), finish %q", o.OutputTokens, o.Content, o.FinishReason)
			}
		})
	}
}

func TestGeneratedText(t *testing.T) {
	for _, n := range []int{0, 1, 2, 100, corpusTokens, corpusTokens + 5} {
		s := GeneratedText(n)
		if got := CountTokens(s); got != n {
			t.Errorf("GeneratedText(%d) has %d tokens", n, got)
		}
		if n > 0 && !strings.HasPrefix(s, GeneratedText(1)) {
			t.Errorf("GeneratedText(%d) does not extend GeneratedText(1)", n)
		}
	}
}

func TestParseConfig(t *testing.T) {
	t.Run("Example", func(t *testing.T) {
		t.Setenv("FAKELLM_TEST_MODEL", "llama-v2")
		cfg, err := LoadConfig(filepath.Join("testdata", "example.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Model != "llama-v2" || cfg.Seed != 42 {
			t.Errorf("model %q seed %d", cfg.Model, cfg.Seed)
		}
		if want := (Distribution{MedianMS: 120, P99MS: 900}); cfg.Default.Latency != want {
			t.Errorf("default latency %+v", cfg.Default.Latency)
		}
		code := cfg.Categories["code"]
		if code.ErrorRate != 0.05 || code.Latency != cfg.Default.Latency || code.TokensPerSecond != 60 {
			t.Errorf("code did not merge the default: %+v", code)
		}
		if s := cfg.Categories["short"]; s.Latency != (Distribution{MedianMS: 15}) || s.OutputTokens != (TokenCount{Mean: 3}) {
			t.Errorf("shorthands: %+v", s)
		}
	})
	t.Run("Empty", func(t *testing.T) {
		if _, err := ParseConfig(nil); err != nil {
			t.Fatal(err)
		}
	})
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"ErrUnknownTopKey", "modle: x\n", "field modle not found"},
		{"ErrUnknownBehaviorKey", "default:\n  errors: 0.1\n", "field errors not found"},
		{"ErrUnknownDistributionKey", "default:\n  latency: {median: 5}\n", "field median not found"},
		{"ErrRate", "categories:\n  code:\n    error_rate: 1.5\n", "categories.code.error_rate: must be between 0 and 1"},
		{"ErrP99", "default:\n  ttft: {median_ms: 100, p99_ms: 50}\n", "default.ttft.p99_ms: must be at least median_ms"},
		{"ErrStatus", "default:\n  error_status: 200\n", "default.error_status"},
		{"ErrHeader", "category_header: 'X Bad'\n", "category_header"},
		{"ErrNegative", "default:\n  output_tokens: {mean: -1}\n", "default.output_tokens.mean"},
		{"ErrEncoding", "default:\n  ignore_stream_encoding: br\n", `default.ignore_stream_encoding: must be "gzip" or "deflate"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	t.Run("ErrMissingFile", func(t *testing.T) {
		if _, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml")); !os.IsNotExist(errUnwrapAll(err)) {
			t.Fatalf("got %v", err)
		}
	})
}

func errUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestConfig_WithDefaults(t *testing.T) {
	cfg := Config{CategoryHeader: "x-my-category"}.WithDefaults()
	if cfg.Model != DefaultModel || cfg.CategoryHeader != "X-My-Category" || cfg.EmbeddingDims != DefaultEmbeddingDims {
		t.Fatalf("got %+v", cfg)
	}
}
