package proxy_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: posts a chat request whose body is gzip-compressed
// (curl --data-binary @body.gz -H 'Content-Encoding: gzip', or an HTTP
// client set to compress uploads).
// What happened: a 400 saying "the request body must be a JSON object
// such as {...}", which it was, once decompressed: nothing said the
// compression was the problem.
// What should happen: the 400 names the Content-Encoding and says to send
// the body uncompressed.
func TestProxy_CompressedBodyNamed(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL(), "")})
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	io.WriteString(zw, `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
	zw.Close()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", &buf)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Content-Encoding: gzip") || !strings.Contains(string(b), "uncompressed") {
		t.Errorf("gzip body: %d %s; want a 400 naming Content-Encoding: gzip and saying to send it uncompressed", resp.StatusCode, b)
	}
}
