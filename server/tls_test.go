package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost,
// with the given serial, to dir/name.crt and dir/name.key, and returns the
// files and a pool trusting it.
func writeCert(t *testing.T, dir, name string, serial int64) (config.TLS, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "sluice test " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	files := config.TLS{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	if err := os.WriteFile(files.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(files.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return files, pool
}

// TestGateway_TLS serves the data plane and a separate admin listener over
// HTTPS, each with its own certificate, and drives them with the OpenAI SDK
// and the admin API client; a renewed certificate is served after
// ReloadTLS, without a restart.
func TestGateway_TLS(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	dir := t.TempDir()
	dataTLS, dataCA := writeCert(t, dir, "data", 1)
	adminTLS, adminCA := writeCert(t, dir, "admin", 2)
	gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
		c.TLS = dataTLS
		c.AdminListen = "127.0.0.1:0"
		c.AdminTLS = adminTLS
	}, nil, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))
	if !strings.HasPrefix(gw.URL(), "https://") || !strings.HasPrefix(gw.AdminURL(), "https://") || gw.URL() == gw.AdminURL() {
		t.Fatalf("URLs %s and %s, want two https listeners", gw.URL(), gw.AdminURL())
	}
	clientFor := func(pool *x509.CertPool) *http.Client {
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	}
	ctx := context.Background()

	t.Run("OpenAISDK", func(t *testing.T) {
		c := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0), option.WithHTTPClient(clientFor(dataCA)))
		var resp *http.Response
		if _, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}, option.WithResponseInto(&resp)); err != nil {
			t.Fatal(err)
		}
		if resp.TLS == nil || resp.Header.Get("X-Model-Version") != "chat:v1.0.0" {
			t.Errorf("answer over TLS %v from %s", resp.TLS != nil, resp.Header.Get("X-Model-Version"))
		}
		stream := c.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("stream")}})
		n := 0
		for stream.Next() {
			n++
		}
		if err := stream.Err(); err != nil || n == 0 {
			t.Errorf("stream over TLS: %d chunks, %v", n, err)
		}
	})
	t.Run("AdminAPI", func(t *testing.T) {
		cl := api.NewClient(gw.AdminURL(), admin)
		cl.HTTP = clientFor(adminCA)
		if _, err := cl.Models(ctx); err != nil {
			t.Fatalf("admin API over TLS: %v", err)
		}
		// The data plane's certificate does not vouch for the admin
		// listener, and the admin API is not on the data plane address.
		cl.HTTP = clientFor(dataCA)
		if _, err := cl.Models(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("admin API trusted with the wrong CA: %v", err)
		}
		resp, err := clientFor(dataCA).Get(gw.URL() + "/admin/v1/models")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Errorf("admin path on the data plane listener: %d, want 404", resp.StatusCode)
		}
	})
	t.Run("PlainHTTPRefused", func(t *testing.T) {
		resp, err := http.Post("http://"+gw.Addr()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat"}`))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("plain HTTP to the TLS listener: %d", resp.StatusCode)
			}
		}
	})
	t.Run("ReloadCertificate", func(t *testing.T) {
		_, newCA := writeCert(t, dir, "data", 3) // renewed in place
		if err := gw.ReloadTLS(); err != nil {
			t.Fatal(err)
		}
		resp, err := clientFor(newCA).Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[]}`))
		if err != nil {
			t.Fatalf("with the renewed certificate: %v", err)
		}
		resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Errorf("protocol %s, want HTTP/2 offered over TLS", resp.Proto)
		}
		if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != 3 {
			t.Errorf("served certificate serial %d, want the renewed 3", got)
		}
	})
}
