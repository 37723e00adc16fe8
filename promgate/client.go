package promgate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/sluicehq/sluice"
)

// DefaultTimeout bounds one query when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options configures a Client.
type Options struct {
	// URL is Prometheus's base URL, such as http://prometheus:9090.
	URL string
	// Timeout bounds each query, on the server (the query's timeout
	// parameter) and on the client; zero means DefaultTimeout.
	Timeout time.Duration
	// Transport carries the requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Now is the clock that stamps instant queries; nil means time.Now.
	Now func() time.Time
}

// Client evaluates gates against one Prometheus server.
type Client struct {
	api     v1.API
	url     string // for messages: the password, if any, masked
	secret  string // the URL's user:password@, kept out of messages
	timeout time.Duration
	now     func() time.Time
}

// New returns a Client for the Prometheus at opt.URL.
func New(opt Options) (*Client, error) {
	u, err := url.Parse(opt.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("prometheus url %q: give an http or https base URL, such as http://prometheus:9090", opt.URL)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = DefaultTimeout
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	c, err := api.NewClient(api.Config{Address: opt.URL, RoundTripper: opt.Transport})
	if err != nil {
		return nil, fmt.Errorf("prometheus client: %w", err)
	}
	cl := &Client{api: v1.NewAPI(c), url: strings.TrimRight(u.Redacted(), "/"), timeout: opt.Timeout, now: opt.Now}
	if _, has := u.User.Password(); has {
		cl.secret = u.User.String() + "@"
	}
	return cl, nil
}

// ErrNoData is returned by Query when the query yields NaN or no series.
var ErrNoData = errors.New("no data")

// Query evaluates query as an instant query now and returns its single
// value. An empty result or NaN is ErrNoData; a result of several series,
// a range vector or a string is an error that says how to fix the query.
func (c *Client) Query(ctx context.Context, query string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	val, _, _, err := c.api.Query(ctx, query, c.now(), v1.WithTimeout(c.timeout))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, fmt.Errorf("prometheus at %s did not answer within %s", c.url, c.timeout)
		}
		var perr *v1.Error
		if errors.As(err, &perr) && perr.Type == v1.ErrBadData {
			return 0, fmt.Errorf("prometheus rejected the query: %s", perr.Msg)
		}
		// The client's error quotes the request URL, password and all; the
		// message goes into verdicts, the audit log and alerts.
		msg := err.Error()
		if c.secret != "" {
			msg = strings.ReplaceAll(msg, c.secret, "")
		}
		return 0, fmt.Errorf("query prometheus at %s: %s", c.url, msg)
	}
	return single(val)
}

// single reduces a query's result to its one value.
func single(val model.Value) (float64, error) {
	var x float64
	switch v := val.(type) {
	case *model.Scalar:
		x = float64(v.Value)
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, ErrNoData
		case 1:
			x = float64(v[0].Value)
		default:
			names := make([]string, 0, 3)
			for _, s := range v[:min(3, len(v))] {
				names = append(names, s.Metric.String())
			}
			more := ""
			if len(v) > 3 {
				more = ", …"
			}
			return 0, fmt.Errorf("the query returned %d series (%s%s), not one: aggregate it, such as sum(...) or max(...)", len(v), strings.Join(names, ", "), more)
		}
	case model.Matrix:
		return 0, fmt.Errorf("the query returned a range vector: a gate needs one instant value, such as rate(x[1m]) rather than x[1m]")
	default:
		return 0, fmt.Errorf("the query returned a %s, not a number", val.Type())
	}
	if math.IsNaN(x) {
		return 0, ErrNoData
	}
	return x, nil
}

// Evaluate renders gate g with v and queries it.
func (c *Client) Evaluate(ctx context.Context, g sluice.PromGate, v Vars) Result {
	res := Result{Gate: g}
	q, err := Render(g, v)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.Query = q
	x, err := c.Query(ctx, q)
	switch {
	case errors.Is(err, ErrNoData):
		res.NoData = true
	case err != nil:
		res.Err = err.Error()
	default:
		res.Value = x
	}
	return res
}
