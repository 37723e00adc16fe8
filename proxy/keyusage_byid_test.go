package proxy_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestKeyUsage_RefusedByIDAndModels: a key refused on the Responses API's
// by-id endpoints (another key's response, an id the gateway does not
// know, a response of a model the key may no longer use) or on
// GET /v1/models/{id} (a model it may not use, or none served) was counted
// nowhere, though its refused inference requests are. Now each is counted
// under the key with the status it got, its model only when the gateway
// serves it, as the inference path's refusals are.
func TestKeyUsage_RefusedByIDAndModels(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const secretA, secretB = "sk-team-a-0123456789", "sk-team-b-0123456789"
	keys := func(aModels ...string) *proxy.KeySet {
		ks, err := proxy.NewKeySet([]proxy.ClientKey{
			{Name: "team-a", Hash: sluice.HashSecret(secretA), Models: aModels},
			{Name: "team-b", Hash: sluice.HashSecret(secretB), Models: []string{"embed"}},
		}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return ks
	}
	ks := keys("chat")
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed})
	srv := httptest.NewServer(ks.Wrap(p))
	// The same proxy behind keys reloaded with team-a no longer allowed
	// chat, as after a SIGHUP.
	narrowed := httptest.NewServer(keys("embed").Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close(); narrowed.Close() })
	client := func(url, key string) openai.Client {
		return openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	a, b, aNarrowed := client(srv.URL, secretA), client(srv.URL, secretB), client(narrowed.URL, secretA)
	ctx := context.Background()
	made, err := a.Responses.New(ctx, respInput("chat", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, want int, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: allowed", what)
		}
		if code, msg := apiStatus(t, err); code != want {
			t.Fatalf("%s: %d %s, want %d", what, code, msg, want)
		}
	}
	_, err = b.Responses.Get(ctx, made.ID, responses.ResponseGetParams{})
	refused("team-b reads team-a's response", 404, err)
	refused("team-b deletes team-a's response", 404, b.Responses.Delete(ctx, made.ID))
	_, err = b.Responses.Get(ctx, "resp_nosuch", responses.ResponseGetParams{})
	refused("team-b reads an unknown response", 404, err)
	_, err = aNarrowed.Responses.Get(ctx, made.ID, responses.ResponseGetParams{})
	refused("team-a reads its response of a model it may no longer use", 403, err)
	_, err = b.Models.Get(ctx, "chat")
	refused("team-b retrieves a model it may not use", 404, err)
	_, err = a.Models.Get(ctx, "nosuch")
	refused("team-a retrieves a model not served", 404, err)
	// Answers are not refusals: team-a reads its own response, and lists
	// the models.
	if _, err := a.Responses.Get(ctx, made.ID, responses.ResponseGetParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Models.List(ctx); err != nil {
		t.Fatal(err)
	}

	want := []string{
		"sluice_client_key_requests_total{code=200,key=team-a,model=chat} 1", // the response made
		"sluice_client_key_requests_total{code=403,key=team-a,model=chat} 1",
		"sluice_client_key_requests_total{code=404,key=team-a,model=} 1",
		"sluice_client_key_requests_total{code=404,key=team-b,model=chat} 3",
		"sluice_client_key_requests_total{code=404,key=team-b,model=} 1",
	}
	got := slices.DeleteFunc(keyMetrics(t, p), func(l string) bool {
		return !strings.HasPrefix(l, "sluice_client_key_requests_total")
	})
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("per-key counters:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
