package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
)

// keysFailing fails the reads of the store's client keys once fail is
// set, as a store that went away does; the rest of the store answers.
type keysFailing struct {
	sluice.Store
	fail atomic.Bool
}

func (s *keysFailing) ClientKeys(ctx context.Context) ([]sluice.StoredKey, error) {
	if s.fail.Load() {
		return nil, errors.New("disk I/O error")
	}
	return s.Store.ClientKeys(ctx)
}

// TestGateway_KeyReadFailsSaysSo: a secret the gateway does not hold,
// while the store's client keys cannot be read, gets a 503 saying that
// those keys could not be read and to retry (with Retry-After), counted
// as store_unavailable. It said the admin token store was unavailable,
// which the tokens were not, sending an operator to the wrong place.
func TestGateway_KeyReadFailsSaysSo(t *testing.T) {
	var st *keysFailing
	gw := storeKeyedGateway(t, func(raw sluice.Store) sluice.Store { st = &keysFailing{Store: raw}; return st })
	st.fail.Store(true)
	const secret = "sk-sluice-not-held-0123456789abcdef"
	req, _ := http.NewRequest("GET", gw.URL()+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("%d (Retry-After %q) %s; want a 503 with Retry-After: 1", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	msg := string(body)
	for _, want := range []string{"client keys", "retry"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the 503 says %s; want it to say %q", msg, want)
		}
	}
	for _, leak := range []string{"token store", secret, "disk I/O"} {
		if strings.Contains(msg, leak) {
			t.Errorf("the 503 says %q: %s", leak, msg)
		}
	}
	if m := scrape(t, gw.AdminURL()+"/metrics"); !strings.Contains(m, `sluice_client_key_refused_total{reason="store_unavailable"} 1`) {
		t.Errorf("not counted as store_unavailable:\n%s", grepLines(m, "sluice_client_key_refused_total"))
	}
}
