package proxy_test

import (
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// routesTo returns a routing table for model "chat" whose production
// version v1 has endpoint as its one endpoint, written into the registry
// as stored (not validated again), as a registry from before endpoint
// validation tightened may hold it.
func routesTo(tb testing.TB, endpoint string) *route.Holder {
	tb.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	if _, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{"http://127.0.0.1:1"}}); err != nil {
		tb.Fatal(err)
	}
	if _, err := e.Finish(); err != nil {
		tb.Fatal(err)
	}
	reg := e.Registry()
	reg.Versions["chat:v1"].Endpoints = []string{endpoint}
	return route.NewHolder(route.Build(reg, nil, route.NewOptions()))
}

// The gateway's error messages go to every client of the data plane (an
// application team, or the public behind an API key). What a client
// learned of the gateway's network from them, one case each:
//   - a backend that broke off a non-streamed answer: "read tcp
//     10.0.0.4:51234->10.0.0.7:8000: read: connection reset by peer", the
//     gateway's and the backend's addresses;
//   - a backend host name that does not resolve: "lookup
//     llama-ft.models.internal on 10.255.255.53:53: no such host", the
//     internal host name and the resolver's address;
//   - an endpoint URL that does not parse: the whole URL, credentials
//     included ("backend URL \"http://bob:pw@...\": parse ...").
//
// Each now says what went wrong (reset, does not resolve, not usable)
// without the addresses, names or URL; the version is still named.
func TestProxy_BackendErrorsHideNetwork(t *testing.T) {
	t.Run("BrokenAnswer", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					buf := make([]byte, 64<<10)
					c.SetReadDeadline(time.Now().Add(5 * time.Second))
					for n := 0; ; {
						k, err := c.Read(buf[n:])
						n += k
						if err != nil || strings.Contains(string(buf[:n]), "\r\n\r\n") {
							break
						}
					}
					c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"id\":"))
					time.Sleep(50 * time.Millisecond)
					c.(*net.TCPConn).SetLinger(0) // a reset, not a clean close
					c.Close()
				}()
			}
		}()
		addr := ln.Addr().String()
		for _, tr := range []struct {
			name string
			t    http.RoundTripper
		}{{"OwnClient", nil}, {"Transport", proxy.NewTransport(time.Second, 5*time.Second)}} {
			t.Run(tr.name, func(t *testing.T) {
				_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "http://"+addr, ""), NoRetry: true, Transport: tr.t})
				resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
				}
				_, port, _ := net.SplitHostPort(addr)
				if strings.Contains(body, "127.0.0.1") || strings.Contains(body, ":"+port) || strings.Contains(body, "tcp ") {
					t.Errorf("the client's error reveals socket addresses: %s", strings.TrimSpace(body))
				}
				if !strings.Contains(body, "chat:v1") {
					t.Errorf("the error does not name the version: %s", strings.TrimSpace(body))
				}
			})
		}
	})
	t.Run("HostDoesNotResolve", func(t *testing.T) {
		// .invalid never resolves (RFC 6761).
		_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "http://llama-ft.models.invalid:8000", ""), NoRetry: true})
		resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`)
		if resp.StatusCode != http.StatusBadGateway {
			t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
		}
		if strings.Contains(body, "llama-ft") || strings.Contains(body, "lookup") || strings.Contains(body, ":53") {
			t.Errorf("the client's error reveals the backend's host name or the resolver: %s", strings.TrimSpace(body))
		}
		if !strings.Contains(body, "does not resolve") && !strings.Contains(body, "DNS lookup") {
			t.Errorf("the error does not say the name did not resolve: %s", strings.TrimSpace(body))
		}
	})
	t.Run("CertificateNotForHost", func(t *testing.T) {
		// A TLS backend whose certificate names other hosts: the x509
		// error lists the names the certificate holds and the endpoint's
		// own host name ("x509: certificate is valid for example.com, not
		// localhost").
		ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
		ts.StartTLS()
		defer ts.Close()
		_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
		for _, tr := range []struct {
			name string
			t    http.RoundTripper
		}{{"OwnClient", nil}, {"Transport", proxy.NewTransport(time.Second, 5*time.Second)}} {
			t.Run(tr.name, func(t *testing.T) {
				_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "https://localhost:"+port, ""), NoRetry: true, Transport: tr.t})
				resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
				}
				if strings.Contains(body, "example.com") || strings.Contains(body, "localhost") {
					t.Errorf("the client's error reveals the backend's host name or its certificate's names: %s", strings.TrimSpace(body))
				}
				if !strings.Contains(body, "certificate") || !strings.Contains(body, "chat:v1") {
					t.Errorf("the error does not say the version's certificate did not verify: %s", strings.TrimSpace(body))
				}
			})
		}
	})
	t.Run("EndpointDoesNotParse", func(t *testing.T) {
		const endpoint = "http://bob:s3cret-pw@10.0.0.7:80%zz"
		for _, tr := range []struct {
			name string
			t    http.RoundTripper
		}{{"OwnClient", nil}, {"Transport", proxy.NewTransport(time.Second, 5*time.Second)}} {
			t.Run(tr.name, func(t *testing.T) {
				_, url := MustProxy(t, proxy.Options{Routes: routesTo(t, endpoint), NoRetry: true, Transport: tr.t})
				resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`)
				if resp.StatusCode != http.StatusBadGateway {
					t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
				}
				if strings.Contains(body, "s3cret-pw") || strings.Contains(body, "bob") || strings.Contains(body, "10.0.0.7") {
					t.Errorf("the client's error reveals the endpoint URL: %s", strings.TrimSpace(body))
				}
			})
		}
	})
}
