package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestCLI_GetRoutesReadsOneModel: sluice get routes MODEL fetched the whole
// routing table (every model, every version) and kept one entry; it now
// asks the server for that model alone, through a recording proxy in front
// of a real gateway, and an unknown model is the server's 404.
func TestCLI_GetRoutesReadsOneModel(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	target, err := url.Parse(gw.AdminURL())
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var paths []string
	rp := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	via := func(args ...string) []string {
		out := cmd(args...)
		out[slices.Index(out, "--server")+1] = front.URL
		return out
	}

	out := mustRun(t, via("get", "routes", "chat")...)
	if !strings.HasPrefix(out, "chat  policy: split") || strings.Count(out, "policy:") != 1 {
		t.Errorf("get routes chat:\n%s", out)
	}
	out = mustRun(t, via("get", "routes", "chat", "-o", "json")...)
	if !strings.HasPrefix(out, `[{"name":"chat"`) {
		t.Errorf("get routes chat -o json is not a list of chat's entry alone:\n%s", out)
	}
	wantFailure(t, via("get", "routes", "nomodel"), `model "nomodel" is not registered`, "sluice get models")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"/admin/v1/routes/chat", "/admin/v1/routes/chat", "/admin/v1/routes/nomodel"}
	if !slices.Equal(paths, want) {
		t.Errorf("the CLI asked for %v, want %v", paths, want)
	}
}
