package proxy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// apiStatus returns err's HTTP status and message when it is the SDK's
// API error, else fails the test.
func apiStatus(t *testing.T, err error) (int, string) {
	t.Helper()
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v, want an API error", err)
	}
	return apiErr.StatusCode, apiErr.Message
}

// TestProxy_ResponsesByID: under a 50/50 split of two backends, each
// keeping its own responses, the SDK's client.Responses.Get (whole and
// streamed), .Cancel and .Delete through the gateway reach the backend that
// answered the response, whatever the caller's sticky key; an id the
// gateway never saw gets a 404 saying why; a response deleted is then a
// 404; a version rolled back and unloaded a 410; a key the model is not
// admitted for a 403. The SDK's InputItems.List reaches the same backend,
// its query (order, limit, and the auto-pager's after) passed on.
func TestProxy_ResponsesByID(t *testing.T) {
	b1, b2 := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{})
	routes := route.NewHolder(respSplitRoutes(t, b1.URL(), b2.URL()))
	admit := func(r *http.Request, model string) error {
		if r.Header.Get("X-Test-Deny") != "" {
			return sluice.Errorf(sluice.CodeForbidden, "API key test may not use model %q", model)
		}
		return nil
	}
	_, url := MustProxy(t, proxy.Options{Routes: routes, Admit: admit})
	c := respSDK(url)
	ctx := context.Background()

	type made struct {
		version string
		r       *responses.Response
	}
	var all []made
	versions := map[string]int{}
	for i := range 12 {
		var hr *http.Response
		user := option.WithHeader("X-User-Id", "user-"+strconv.Itoa(i))
		r, err := c.Responses.New(ctx, respInput("chat", "say something, number "+strconv.Itoa(i)), option.WithResponseInto(&hr), user)
		if err != nil {
			t.Fatal(err)
		}
		v := hr.Header.Get("X-Model-Version")
		versions[v]++
		all = append(all, made{v, r})
	}
	if len(versions) != 2 {
		t.Fatalf("the split sent the responses to %v, want both versions", versions)
	}

	t.Run("Get", func(t *testing.T) {
		for i, m := range all {
			var hr *http.Response
			// Another user's key: the split alone would send half of
			// these to the backend that does not keep the response.
			other := option.WithHeader("X-User-Id", "reader-"+strconv.Itoa(i))
			got, err := c.Responses.Get(ctx, m.r.ID, responses.ResponseGetParams{}, option.WithResponseInto(&hr), other)
			if err != nil {
				t.Fatalf("get %s (from %s): %v", m.r.ID, m.version, err)
			}
			if got.ID != m.r.ID || got.OutputText() != m.r.OutputText() || got.Model != m.r.Model || got.Usage.OutputTokens != m.r.Usage.OutputTokens {
				t.Errorf("get %s: id %s text %q model %s, want text %q model %s", m.r.ID, got.ID, got.OutputText(), got.Model, m.r.OutputText(), m.r.Model)
			}
			if v := hr.Header.Get("X-Model-Version"); v != m.version {
				t.Errorf("get %s answered by %s, want %s", m.r.ID, v, m.version)
			}
		}
	})

	t.Run("GetStreaming", func(t *testing.T) {
		m := all[0]
		st := c.Responses.GetStreaming(ctx, m.r.ID, responses.ResponseGetParams{})
		var completed string
		for st.Next() {
			if ev := st.Current(); ev.Type == "response.completed" {
				completed = ev.Response.OutputText()
			}
		}
		if err := st.Err(); err != nil {
			t.Fatal(err)
		}
		if completed != m.r.OutputText() {
			t.Errorf("streamed get: text %q, want %q", completed, m.r.OutputText())
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		// As OpenAI: only a response created with background: true can
		// be cancelled; the backend's answer is passed on.
		_, err := c.Responses.Cancel(ctx, all[1].r.ID)
		if code, msg := apiStatus(t, err); code != http.StatusBadRequest || !strings.Contains(msg, "background") {
			t.Errorf("cancel: %d %q, want the backend's 400 about background", code, msg)
		}
	})

	t.Run("Unknown", func(t *testing.T) {
		_, err := c.Responses.Get(ctx, "resp_never_seen", responses.ResponseGetParams{})
		if code, msg := apiStatus(t, err); code != http.StatusNotFound || !strings.Contains(msg, "not known to this Sluice replica") || !strings.Contains(msg, "needs the replica that answered it") {
			t.Errorf("unknown id: %d %q, want 404 saying this replica does not know it", code, msg)
		}
	})

	t.Run("Forbidden", func(t *testing.T) {
		_, err := c.Responses.Get(ctx, all[2].r.ID, responses.ResponseGetParams{}, option.WithHeader("X-Test-Deny", "1"))
		if code, msg := apiStatus(t, err); code != http.StatusForbidden || !strings.Contains(msg, `"chat"`) {
			t.Errorf("key without the model: %d %q, want 403", code, msg)
		}
	})

	t.Run("InputItems", func(t *testing.T) {
		for i, m := range all {
			other := option.WithHeader("X-User-Id", "lister-"+strconv.Itoa(i))
			var hr *http.Response
			page, err := c.Responses.InputItems.List(ctx, m.r.ID, responses.InputItemListParams{}, option.WithResponseInto(&hr), other)
			if err != nil {
				t.Fatalf("input items of %s (from %s): %v", m.r.ID, m.version, err)
			}
			want := "say something, number " + strconv.Itoa(i)
			if len(page.Data) != 1 || page.Data[0].Type != "message" || len(page.Data[0].AsMessage().Content) != 1 || page.Data[0].AsMessage().Content[0].Text != want {
				t.Errorf("input items of %s: %s, want one message %q", m.r.ID, page.RawJSON(), want)
			}
			if v := hr.Header.Get("X-Model-Version"); v != m.version {
				t.Errorf("input items of %s answered by %s, want %s", m.r.ID, v, m.version)
			}
		}
		var input responses.ResponseInputParam
		var want []string
		for i := range 5 {
			want = append(want, "turn "+strconv.Itoa(i))
			input = append(input, responses.ResponseInputItemParamOfMessage(want[i], responses.EasyInputMessageRoleUser))
		}
		p := respInput("chat", "")
		p.Input = responses.ResponseNewParamsInputUnion{OfInputItemList: input}
		r, err := c.Responses.New(ctx, p, option.WithHeader("X-User-Id", "five-items"))
		if err != nil {
			t.Fatal(err)
		}
		// Ascending, two a page: the order and limit, then each page's
		// after, must reach the backend (its default is the newest first,
		// 20 a page).
		pager := c.Responses.InputItems.ListAutoPaging(ctx, r.ID, responses.InputItemListParams{Order: responses.InputItemListParamsOrderAsc, Limit: openai.Int(2)}, option.WithHeader("X-User-Id", "lister"))
		var got []string
		for len(got) < 10 && pager.Next() { // an after not passed on would page for ever
			got = append(got, pager.Current().AsMessage().Content[0].Text)
		}
		if err := pager.Err(); err != nil {
			t.Fatal(err)
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("input items, ascending: %q, want %q", got, want)
		}
	})

	t.Run("Delete", func(t *testing.T) {
		for _, m := range all[3:5] {
			if err := c.Responses.Delete(ctx, m.r.ID); err != nil {
				t.Fatalf("delete %s: %v", m.r.ID, err)
			}
			_, err := c.Responses.Get(ctx, m.r.ID, responses.ResponseGetParams{})
			if code, msg := apiStatus(t, err); code != http.StatusNotFound || !strings.Contains(msg, m.r.ID) {
				t.Errorf("get after delete: %d %q, want the backend's 404", code, msg)
			}
		}
	})

	t.Run("VersionGone", func(t *testing.T) {
		m := all[5]
		routes.Store(respSplitRoutes(t, b1.URL(), b2.URL(), m.version))
		_, err := c.Responses.Get(ctx, m.r.ID, responses.ResponseGetParams{})
		if code, msg := apiStatus(t, err); code != http.StatusGone || !strings.Contains(msg, m.version+", which "+unloadedWhy) {
			t.Errorf("get on an unloaded version: %d %q, want 410 naming %s and the rollout that rolled it back", code, msg, m.version)
		}
	})
}

// TestProxy_ResponsesByIDStream: a GET of a stored response as an event
// stream is passed on as it comes, each event flushed to the client
// before the backend sends the next, with the query string, the method and
// the client's headers forwarded as sent.
func TestProxy_ResponsesByIDStream(t *testing.T) {
	release := make(chan struct{})
	var gotQuery, gotHeader string
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/v1/responses":
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"id":"resp_flush","object":"response","status":"completed","output":[],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}`)
		case r.Method == http.MethodGet && r.URL.Path == "/v1/responses/resp_flush":
			gotQuery, gotHeader = r.URL.RawQuery, r.Header.Get("X-Test-Header")
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: response.in_progress\ndata: {\"type\":\"response.in_progress\",\"sequence_number\":4}\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":5}\n\n")
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(be.Close)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
	// Cleanups run last first: the backend's handler must end before the
	// servers' Close waits for it.
	t.Cleanup(func() { close(release) })
	if resp, body := post(t, url, "/v1/responses", `{"model":"chat","input":"hi"}`); resp.StatusCode != 200 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}

	req, _ := http.NewRequest(http.MethodGet, url+"/v1/responses/resp_flush?stream=true&starting_after=3", nil)
	req.Header.Set("X-Test-Header", "passed")
	type first struct {
		resp *http.Response
		line string
		err  error
	}
	got := make(chan first, 1)
	go func() {
		// Without a flush neither the headers nor the first event
		// reach the client while the backend holds the stream open.
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			got <- first{err: err}
			return
		}
		s, err := bufio.NewReader(resp.Body).ReadString('\n')
		got <- first{resp, s, err}
	}()
	select {
	case f := <-got:
		if f.err != nil {
			t.Fatal(f.err)
		}
		defer f.resp.Body.Close()
		if ct := f.resp.Header.Get("Content-Type"); f.resp.StatusCode != 200 || ct != "text/event-stream" {
			t.Fatalf("status %d content type %q", f.resp.StatusCode, ct)
		}
		if f.line != "event: response.in_progress\n" {
			t.Fatalf("first line %q", f.line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first event did not reach the client while the backend held the stream open: not flushed")
	}
	if gotQuery != "stream=true&starting_after=3" || gotHeader != "passed" {
		t.Errorf("backend got query %q header %q", gotQuery, gotHeader)
	}
}
