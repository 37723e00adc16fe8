package server_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

const balanceAnswer = `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`

// replicaBackend is a vLLM replica on loopback that answers its health
// checks and, when held, keeps every chat request until released, as a
// replica busy with long generations does.
type replicaBackend struct {
	*httptest.Server
	hold     bool
	release  chan struct{}
	arrived  chan struct{} // a request arrived (held ones only)
	answered atomic.Int64
	once     sync.Once
}

func newReplica(tb testing.TB, hold bool) *replicaBackend {
	tb.Helper()
	r := &replicaBackend{hold: hold, release: make(chan struct{}), arrived: make(chan struct{}, 1024)}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.URL.Path != "/v1/chat/completions" {
			w.WriteHeader(http.StatusOK) // health checks
			return
		}
		_, _ = io.Copy(io.Discard, req.Body)
		if r.hold {
			r.arrived <- struct{}{}
			select {
			case <-r.release:
			case <-req.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, balanceAnswer)
		r.answered.Add(1)
	}))
	tb.Cleanup(r.Close)
	return r
}

func (r *replicaBackend) free() { r.once.Do(func() { close(r.release) }) }

// balanceGateway starts a gateway with balance bal serving chat:v1 on the
// endpoints busy and idle, in that order.
func balanceGateway(t *testing.T, bal string, busy, idle *replicaBackend) (*server.Server, openai.Client) {
	t.Helper()
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Versions: []sluice.Version{
		{Version: "v1", Endpoints: []string{busy.URL, idle.URL}, Stage: sluice.StageProduction},
	}}}}
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Balance = bal }, nil, doc)
	t.Cleanup(busy.free) // before the gateway's shutdown, which waits for the held requests
	return gw, openai.NewClient(option.WithBaseURL(gw.URL()+"/v1"), option.WithAPIKey("none"), option.WithMaxRetries(0))
}

// inFlightTo returns the requests the gateway has in flight to endpoint.
func inFlightTo(gw *server.Server, endpoint string) int64 {
	t := gw.Routes.Load().Target("chat:v1")
	if t == nil {
		return -1
	}
	return t.Load(t.Index(endpoint)).InFlight()
}

// ask sends one chat request through the SDK in the background; its error
// (nil on success) arrives on the channel returned.
func ask(cl openai.Client) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := cl.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
			Model:    "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hello")},
		})
		done <- err
	}()
	return done
}

// TestGateway_Balance: a version with two replicas, one of them holding
// its requests (busy with long generations), the other answering at once.
// With least_requests every new request goes to the idle replica; with
// round_robin every other one queues behind the busy replica's.
func TestGateway_Balance(t *testing.T) {
	t.Run("LeastRequests", func(t *testing.T) {
		busy, idle := newReplica(t, true), newReplica(t, false)
		gw, cl := balanceGateway(t, "least_requests", busy, idle)
		// Idle as both are, requests go to either: send them one at a
		// time until one is held by the busy replica.
		var held <-chan error
		for held == nil {
			waitFor(t, "the idle replica's count back to 0", 10*time.Second, func() bool { return inFlightTo(gw, idle.URL) == 0 })
			done := ask(cl)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("a request answered by the idle replica failed: %v", err)
				}
			case <-busy.arrived:
				held = done
			}
		}
		waitFor(t, "the held request counted", 10*time.Second, func() bool { return inFlightTo(gw, busy.URL) == 1 })
		before := idle.answered.Load()
		const n = 20
		for i := range n {
			waitFor(t, "the idle replica's count back to 0", 10*time.Second, func() bool { return inFlightTo(gw, idle.URL) == 0 })
			done := ask(cl)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("request %d failed: %v", i, err)
				}
			case <-busy.arrived:
				t.Fatalf("request %d went to the replica with a request in flight while the other had none", i)
			}
		}
		if got := idle.answered.Load() - before; got != n {
			t.Errorf("the idle replica answered %d of the %d requests", got, n)
		}
		busy.free()
		if err := <-held; err != nil {
			t.Fatalf("the held request failed once released: %v", err)
		}
		waitFor(t, "every count back to 0", 10*time.Second, func() bool { return inFlightTo(gw, busy.URL) == 0 && inFlightTo(gw, idle.URL) == 0 })
	})
	t.Run("RoundRobin", func(t *testing.T) {
		busy, idle := newReplica(t, true), newReplica(t, false)
		gw, cl := balanceGateway(t, "round_robin", busy, idle)
		// In turn, whatever each replica has in flight: one request in
		// two waits behind the busy replica.
		const n = 10
		var dones []<-chan error
		for i := range 2 * n {
			done := ask(cl)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("request %d failed: %v", i, err)
				}
			case <-busy.arrived:
				dones = append(dones, done)
			}
		}
		if len(dones) != n || idle.answered.Load() != n {
			t.Errorf("the busy replica holds %d of %d requests and the idle one answered %d, want %d each", len(dones), 2*n, idle.answered.Load(), n)
		}
		if got := inFlightTo(gw, busy.URL); got != int64(len(dones)) {
			t.Errorf("%d requests counted in flight to the busy replica, want %d", got, len(dones))
		}
		busy.free()
		for _, done := range dones {
			if err := <-done; err != nil {
				t.Fatalf("a held request failed once released: %v", err)
			}
		}
		waitFor(t, "every count back to 0", 10*time.Second, func() bool { return inFlightTo(gw, busy.URL) == 0 && inFlightTo(gw, idle.URL) == 0 })
	})
}
