package proxy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// untilNextSecond sleeps until 100 ms past the next whole second of the
// wall clock, so that whatever comes after is in a later second than
// whatever came before.
func untilNextSecond() {
	now := time.Now()
	time.Sleep(now.Truncate(time.Second).Add(time.Second + 100*time.Millisecond).Sub(now))
}

// What the user does: rates (POST /v1/feedback, at once) the answer to a
// request whose answering attempt was sent in a later second than the
// request arrived: stable's retry after the canary's attempt failed slowly,
// or a request whose body took a while to upload.
// What must happen: the rating is taken (202, for the version that
// answered). A request id holds the second the request arrived, which the
// feedback ring confirms against the slot's time; the row's time became the
// attempt's send time, and the ring compared that with the id's second, so
// such a request was "unknown" (404) to the ring: on a lone gateway until
// its row reached the request log, on a fleet after a wait for the row.
func TestFeedback_AnswerSentInALaterSecond(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		untilNextSecond()
		http.Error(w, `{"error":{"message":"boom"}}`, http.StatusInternalServerError)
	}))
	t.Cleanup(bad.Close)
	log := &spyLog{}
	rate := func(t *testing.T, url, id string) {
		t.Helper()
		resp, body := post(t, url, "/v1/feedback", `{"request_id":"`+id+`","thumbs":"up"}`)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("feedback on %s: %d %s; want 202", id, resp.StatusCode, body)
		}
		var got map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil || got["version"] != "v1" {
			t.Fatalf("feedback answer %s (%v): want version v1", body, err)
		}
	}

	t.Run("retry", func(t *testing.T) {
		_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad.URL, 0), Log: log})
		resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != 200 || resp.Header.Get("X-Model-Version") != "chat:v1" {
			t.Fatalf("status %d from %q, want stable's 200 after the retry: %s", resp.StatusCode, resp.Header.Get("X-Model-Version"), body)
		}
		rate(t, url, resp.Header.Get("X-Request-Id"))
	})

	t.Run("slow upload", func(t *testing.T) {
		_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), good.URL(), 100), Log: log})
		pr, pw := io.Pipe()
		go func() {
			const body = `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`
			io.WriteString(pw, body[:10])
			untilNextSecond()
			io.WriteString(pw, body[10:])
			pw.Close()
		}()
		req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "chat.completion") {
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		rate(t, url, resp.Header.Get("X-Request-Id"))
	})
}
