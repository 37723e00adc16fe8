package promgate_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/promgate"
	"github.com/sluicehq/sluice/promgate/promtest"
)

// TestClient_Query runs queries against a real Prometheus scraping a small
// exporter: the shapes of result a gate accepts and those it refuses.
func TestClient_Query(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Prometheus server (skipped under -short)")
	}
	reg := prometheus.NewRegistry()
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "gate_test_value", Help: "A value per version."}, []string{"version"})
	g.WithLabelValues("v1").Set(0.25)
	g.WithLabelValues("v2").Set(4)
	reg.MustRegister(g)
	exp := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer exp.Close()
	prom := promtest.MustStart(t, 200*time.Millisecond, strings.TrimPrefix(exp.URL, "http://"))
	c, err := promgate.New(promgate.Options{URL: prom.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := c.Query(ctx, `gate_test_value{version="v1"}`); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the exporter was never scraped: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, tc := range []struct {
		name, query string
		want        float64
		err         string // "" ok, "nodata" for ErrNoData, else a substring
	}{
		{"OneSeries", `gate_test_value{version="v1"}`, 0.25, ""},
		{"Aggregated", `sum(gate_test_value)`, 4.25, ""},
		{"Scalar", `scalar(gate_test_value{version="v2"}) * 2`, 8, ""},
		{"Literal", `1.5`, 1.5, ""},
		{"ErrNoDataEmpty", `gate_test_value{version="v9"}`, 0, "nodata"},
		{"ErrNoDataNaN", `0 / 0`, 0, "nodata"},
		{"ErrNoDataNaNVector", `sum(gate_test_value) * 0 / 0`, 0, "nodata"},
		{"ErrSeveralSeries", `gate_test_value`, 0, "returned 2 series"},
		{"ErrRangeVector", `gate_test_value{version="v1"}[1m]`, 0, "range vector"},
		{"ErrString", `"hello"`, 0, "string"},
		{"ErrBadQuery", `sum(`, 0, "prometheus rejected the query"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.Query(ctx, tc.query)
			switch tc.err {
			case "":
				if err != nil || got != tc.want {
					t.Errorf("got %v, %v; want %v", got, err, tc.want)
				}
			case "nodata":
				if !errors.Is(err, promgate.ErrNoData) {
					t.Errorf("got %v, %v; want no data", got, err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("err = %v, want it to say %q", err, tc.err)
				}
			}
		})
	}

	t.Run("Evaluate", func(t *testing.T) {
		vars := promgate.Vars{Model: "chat", Candidate: "v2"}
		res := c.Evaluate(ctx, sluice.PromGate{Name: "val", Query: `gate_test_value{version="{{.Candidate}}"}`, Max: f(3)}, vars)
		if res.Err != "" || res.NoData || res.Value != 4 || res.Query != `gate_test_value{version="v2"}` {
			t.Fatalf("%+v", res)
		}
		if mv := promgate.Judge(res); mv.Outcome != sluice.OutcomeFail {
			t.Errorf("4 > max 3: %s", mv.Outcome)
		}
		res = c.Evaluate(ctx, sluice.PromGate{Name: "many", Query: `gate_test_value`, Max: f(3)}, vars)
		if !strings.Contains(res.Err, "2 series") {
			t.Errorf("several series: %+v", res)
		}
	})
}

// TestClient_Unreachable: a Prometheus that is down or slow is an error
// that names the address, within the timeout.
func TestClient_Unreachable(t *testing.T) {
	t.Run("ErrRefused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, err := promgate.New(promgate.Options{URL: url, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query(context.Background(), "1"); err == nil || !strings.Contains(err.Error(), url) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ErrTimeout", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer srv.Close()
		defer close(release)
		c, _ := promgate.New(promgate.Options{URL: srv.URL, Timeout: 200 * time.Millisecond})
		start := time.Now()
		_, err := c.Query(context.Background(), "1")
		if err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
			t.Errorf("err = %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("took %s", d)
		}
	})
	t.Run("ErrBadURL", func(t *testing.T) {
		if _, err := promgate.New(promgate.Options{URL: "prometheus:9090"}); err == nil {
			t.Error("no error for a URL without a scheme")
		}
	})
}
