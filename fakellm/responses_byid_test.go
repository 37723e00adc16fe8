package fakellm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/responses"
)

// TestServer_ResponsesByID: through the OpenAI SDK, a response the server
// answered (whole or streamed) is served back by Get, whole and streamed;
// Cancel answers OpenAI's 400 (only background responses can be
// cancelled); Delete forgets it, after which Get and a
// previous_response_id naming it are 404s; an id the server never
// answered, or one stored with "store": false, is a 404.
func TestServer_ResponsesByID(t *testing.T) {
	ctx := context.Background()
	s := MustStart(t, Config{Default: Behavior{OutputTokens: TokenCount{Mean: 5}}})
	c := respClient(s)
	status := func(t *testing.T, err error) (int, string) {
		t.Helper()
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("error %v, want an API error", err)
		}
		return apiErr.StatusCode, apiErr.Message
	}

	whole, err := c.Responses.New(ctx, respParams("keep this one"))
	if err != nil {
		t.Fatal(err)
	}
	var streamed *responses.Response
	st := c.Responses.NewStreaming(ctx, respParams("and this one"))
	for st.Next() {
		if ev := st.Current(); ev.Type == "response.completed" {
			r := ev.Response
			streamed = &r
		}
	}
	if err := st.Err(); err != nil || streamed == nil {
		t.Fatalf("stream: %v (completed: %v)", err, streamed != nil)
	}

	for _, want := range []*responses.Response{whole, streamed} {
		got, err := c.Responses.Get(ctx, want.ID, responses.ResponseGetParams{})
		if err != nil {
			t.Fatalf("get %s: %v", want.ID, err)
		}
		if got.ID != want.ID || got.Status != "completed" || got.OutputText() != want.OutputText() || got.Usage.OutputTokens != want.Usage.OutputTokens {
			t.Errorf("get %s: %s %s %q, want %q", want.ID, got.ID, got.Status, got.OutputText(), want.OutputText())
		}
	}

	gs := c.Responses.GetStreaming(ctx, whole.ID, responses.ResponseGetParams{})
	var replayed string
	for gs.Next() {
		if ev := gs.Current(); ev.Type == "response.completed" {
			replayed = ev.Response.OutputText()
		}
	}
	if err := gs.Err(); err != nil || replayed != whole.OutputText() {
		t.Errorf("streamed get: %q (%v), want %q", replayed, err, whole.OutputText())
	}

	_, err = c.Responses.Cancel(ctx, whole.ID)
	if code, msg := status(t, err); code != http.StatusBadRequest || !strings.Contains(msg, "background") {
		t.Errorf("cancel: %d %q", code, msg)
	}

	if err := c.Responses.Delete(ctx, whole.ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Responses.Get(ctx, whole.ID, responses.ResponseGetParams{})
	if code, msg := status(t, err); code != http.StatusNotFound || !strings.Contains(msg, whole.ID) {
		t.Errorf("get after delete: %d %q", code, msg)
	}
	p := respParams("continue the deleted one")
	p.PreviousResponseID = openai.String(whole.ID)
	_, err = c.Responses.New(ctx, p)
	if code, _ := status(t, err); code != http.StatusNotFound {
		t.Errorf("previous_response_id of a deleted response: %d, want 404", code)
	}
	if err := c.Responses.Delete(ctx, whole.ID); err == nil {
		t.Error("second delete succeeded, want 404")
	}

	p = respParams("forget me")
	p.Store = openai.Bool(false)
	unstored, err := c.Responses.New(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{unstored.ID, "resp_never"} {
		_, err = c.Responses.Get(ctx, id, responses.ResponseGetParams{})
		if code, _ := status(t, err); code != http.StatusNotFound {
			t.Errorf("get %s: %d, want 404", id, code)
		}
	}
}
