package server_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

const (
	keepKey    = "sk-reload-keep-0123456789abcdef"
	droppedKey = "sk-reload-dropped-0123456789abcd"
	addedKey   = "sk-reload-added-0123456789abcdef"
	steadyKey  = "sk-reload-steady-0123456789abcde"
)

// TestServer_ReloadClientKeys: client API keys are replaced while the
// gateway serves (what SIGHUP does with the keys of the config file). A
// removed key is refused from then on, a new one is accepted, a kept key
// keeps its rate-limit bucket, and requests with a key present throughout
// never fail across 20 reloads. A reload that would turn keys off, or with
// a bad key, is refused and leaves the keys in force.
func TestServer_ReloadClientKeys(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	before := []config.ClientKey{
		{Name: "keep", Secret: keepKey, RateLimit: 0.01, Burst: 2},
		{Name: "dropped", Secret: droppedKey},
		{Name: "steady", SHA256: sluice.HashSecret(steadyKey)},
	}
	after := []config.ClientKey{
		{Name: "keep", Secret: keepKey, RateLimit: 0.01, Burst: 2},
		{Name: "added", Secret: addedKey, Models: []string{"chat"}},
		{Name: "steady", SHA256: sluice.HashSecret(steadyKey)},
	}
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.ClientKeys = before }, nil,
		chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	status := func(key string) int {
		resp, _ := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[]}`, map[string]string{"Authorization": "Bearer " + key})
		return resp.StatusCode
	}

	// The kept key spends its burst of 2 before the reload.
	if s1, s2, s3 := status(keepKey), status(keepKey), status(keepKey); s1 != 200 || s2 != 200 || s3 != 429 {
		t.Fatalf("keep key before the reload: %d %d %d, want 200 200 429", s1, s2, s3)
	}
	if s, a := status(droppedKey), status(addedKey); s != 200 || a != 401 {
		t.Fatalf("before the reload: dropped key %d, added key %d; want 200 and 401", s, a)
	}

	// Requests with the steady key run throughout the reloads.
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{}
	for w := 0; w < 4; w++ {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","max_tokens":4,"messages":[]}`))
				req.Header.Set("Authorization", "Bearer "+steadyKey)
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = &statusErr{resp.StatusCode}
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				ok.Add(1)
			}
		})
	}
	for i := 0; i < 20; i++ {
		keys := before
		if i%2 == 0 {
			keys = after
		}
		if err := gw.ReloadClientKeys(keys); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
		postRead(t, nil, gw.URL(), `{"model":"chat","messages":[]}`, map[string]string{"Authorization": "Bearer " + steadyKey})
	}
	if err := gw.ReloadClientKeys(after); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("requests with a key kept across 21 reloads: %d ok, %d failed (first: %v)", ok.Load(), failed.Load(), firstErr.Load())
	}

	t.Run("Swapped", func(t *testing.T) {
		if s := status(droppedKey); s != 401 {
			t.Errorf("removed key after the reload: %d, want 401", s)
		}
		if s := status(addedKey); s != 200 {
			t.Errorf("added key after the reload: %d, want 200", s)
		}
		// The added key's scope holds.
		resp, e := postRead(t, nil, gw.URL(), `{"model":"other","messages":[]}`, map[string]string{"Authorization": "Bearer " + addedKey})
		if resp.StatusCode != 403 || !strings.Contains(e.Error.Message, "added") {
			t.Errorf("added key on a model outside its scope: %d %q, want 403 naming the key", resp.StatusCode, e.Error.Message)
		}
		// The kept key's bucket was not refilled by 21 reloads.
		if s := status(keepKey); s != 429 {
			t.Errorf("kept key after the reloads: %d, want 429 (its spent bucket carried over)", s)
		}
		if gw.ClientKeys().Len() != 3 {
			t.Errorf("%d keys in force, want 3", gw.ClientKeys().Len())
		}
	})

	t.Run("Refused", func(t *testing.T) {
		for name, keys := range map[string][]config.ClientKey{
			"None":    nil,
			"BadHash": {{Name: "broken", SHA256: "not-hex"}},
		} {
			if err := gw.ReloadClientKeys(keys); err == nil || !strings.Contains(err.Error(), "client_keys") {
				t.Errorf("%s: reload gave %v, want an error naming client_keys", name, err)
			}
		}
		if s, a := status(steadyKey), status(droppedKey); s != 200 || a != 401 {
			t.Errorf("after refused reloads: steady key %d, removed key %d; want the keys in force unchanged (200, 401)", s, a)
		}
	})

	t.Run("NoKeysAtStart", func(t *testing.T) {
		open, _ := mustGatewayWith(t, nil, nil, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
		if err := open.ReloadClientKeys(after); err == nil || !strings.Contains(err.Error(), "restart") {
			t.Errorf("turning keys on by a reload: %v, want an error saying to restart", err)
		}
		if err := open.ReloadClientKeys(nil); err != nil {
			t.Errorf("reloading no keys on a gateway without keys: %v", err)
		}
		resp, _ := postRead(t, nil, open.URL(), `{"model":"chat","messages":[]}`, nil)
		if resp.StatusCode != 200 {
			t.Errorf("gateway without keys after the refused reload: %d", resp.StatusCode)
		}
	})
}

type statusErr struct{ code int }

func (e *statusErr) Error() string { return "status " + itoa(e.code) }
