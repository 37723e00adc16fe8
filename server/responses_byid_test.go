package server_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestGateway_ResponsesByID: through a whole gateway (fasthttp front,
// client keys, proxy) to two versions split 50/50 on fakellm backends, the
// OpenAI SDK's Responses.Get and .Delete of responses created from several
// sticky keys reach the backend that keeps each, and so does
// InputItems.List with its query; without a client key they
// are a 401 like any /v1 request; an unknown id is the gateway's 404.
func TestGateway_ResponsesByID(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{Model: "up-v1.0.0"})
	b2 := MustBackend(t, fakellm.Config{Model: "up-v1.1.0"})
	doc := chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()},
		[]sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, nil)
	const secret = "sk-app-7c1d09e2b45f4a38"
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "app", Secret: secret, Models: []string{"chat"}}}
	}, nil, doc)
	url := gw.URL()
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	ctx := context.Background()
	status := func(t *testing.T, err error) (int, string) {
		t.Helper()
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("error %v, want an API error", err)
		}
		return apiErr.StatusCode, apiErr.Message
	}

	made := map[string]*responses.Response{}
	versions := map[string]bool{}
	for i := range 8 {
		var hr *http.Response
		p := responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello " + strconv.Itoa(i))}}
		r, err := c.Responses.New(ctx, p, option.WithResponseInto(&hr), option.WithHeader("X-User-Id", "user-"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		made[r.ID] = r
		versions[hr.Header.Get("X-Model-Version")] = true
	}
	if len(versions) != 2 {
		t.Fatalf("responses answered by %v, want both versions", versions)
	}
	for id, want := range made {
		got, err := c.Responses.Get(ctx, id, responses.ResponseGetParams{}, option.WithHeader("X-User-Id", "reader"))
		if err != nil {
			t.Fatalf("get %s: %v", id, err)
		}
		if got.ID != id || got.OutputText() != want.OutputText() || got.Model != want.Model {
			t.Errorf("get %s: %s %q %s, want %q %s", id, got.ID, got.OutputText(), got.Model, want.OutputText(), want.Model)
		}
	}

	for id, r := range made {
		// The input items, with the query passed on (ascending, one a
		// page: the auto-pager asks again after the one item).
		pager := c.Responses.InputItems.ListAutoPaging(ctx, id, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(1)}, option.WithHeader("X-User-Id", "reader"))
		var got []string
		for len(got) < 5 && pager.Next() {
			if c := pager.Current().AsMessage().Content; len(c) == 1 {
				got = append(got, c[0].Text)
			}
		}
		if err := pager.Err(); err != nil {
			t.Fatalf("input items of %s: %v", id, err)
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], "hello ") {
			t.Errorf("input items of %s (%s): %q, want its one input", id, r.Model, got)
		}
	}

	var one string
	for id := range made {
		one = id
		break
	}
	anon := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
	_, err := anon.Responses.Get(ctx, one, responses.ResponseGetParams{})
	if code, _ := status(t, err); code != http.StatusUnauthorized {
		t.Errorf("get without a valid key: %d, want 401", code)
	}
	if err := c.Responses.Delete(ctx, one); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, one, responses.ResponseGetParams{})
	if code, _ := status(t, err); code != http.StatusNotFound {
		t.Errorf("get after delete: %d, want 404", code)
	}
	_, err = c.Responses.Get(ctx, "resp_elsewhere", responses.ResponseGetParams{})
	if code, msg := status(t, err); code != http.StatusNotFound || !strings.Contains(msg, "not known to this Sluice replica") {
		t.Errorf("unknown id: %d %q", code, msg)
	}
}

// TestGateway_ResponsesRememberIDs: responses.remember_ids, read from a
// config file's YAML, bounds the gateway's memory of response ids: with 2,
// the first of three responses is forgotten (the gateway's 404 for an id
// it does not know) and the latest two are still retrieved through it.
// Before the key the memory was a Go option only, 100,000 in every
// gateway.
func TestGateway_ResponsesRememberIDs(t *testing.T) {
	if config.DefaultRememberIDs != proxy.DefaultResponseIDs {
		t.Errorf("config.DefaultRememberIDs %d, proxy.DefaultResponseIDs %d: the README's default is one of them", config.DefaultRememberIDs, proxy.DefaultResponseIDs)
	}
	file, err := config.ParseGateway("sluice.yaml", []byte("responses:\n  remember_ids: 2\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := MustBackend(t, fakellm.Config{Model: "up-v1.0.0"})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 100}}, nil)
	gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.Responses = file.Responses }, nil, doc)
	c := openaiClient(gw.URL())
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		p := responses.ResponseNewParams{Model: "chat", Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("hello " + strconv.Itoa(i))}}
		r, err := c.Responses.New(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	_, err = c.Responses.Get(ctx, ids[0], responses.ResponseGetParams{})
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusNotFound || !strings.Contains(apiErr.Message, "not known to this Sluice replica") {
		t.Errorf("get the oldest of 3 with remember_ids 2: %v, want the gateway's 404 (forgotten)", err)
	}
	for _, id := range ids[1:] {
		if got, err := c.Responses.Get(ctx, id, responses.ResponseGetParams{}); err != nil || got.ID != id {
			t.Errorf("get %s, one of the latest 2: %v", id, err)
		}
	}
}
