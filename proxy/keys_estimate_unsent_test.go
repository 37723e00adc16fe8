package proxy_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/proxy"
)

// TestKeySet_EstimateAbandonedUnsent: a request the client abandons while
// the gateway is still connecting to an HTTPS backend (the TCP connection
// made, the TLS handshake not answered: a frozen process, a backend
// overloaded at accept) was never sent, so the backend read none of its
// prompt; it is charged nothing, as one canceled while its TCP connection
// is dialled is.
func TestKeySet_EstimateAbandonedUnsent(t *testing.T) {
	abandonInHandshake(t, nil)
}

// TestKeySet_EstimateAbandonedUnsentTransport: the same through a
// caller's own Options.Transport (an http.Transport), whose cancel during
// the dial returned the bare context.Canceled that a cancel after the
// request was sent returns too, and was charged the prompt; the
// transport's trace now says nothing was written. A request abandoned once
// sent through it is still charged its prompt.
func TestKeySet_EstimateAbandonedUnsentTransport(t *testing.T) {
	tr := func(o *proxy.Options) {
		tp := proxy.NewTransport(5*time.Second, 5*time.Second)
		tp.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
		o.Transport = tp
	}
	t.Run("InHandshake", func(t *testing.T) { abandonInHandshake(t, tr) })
	t.Run("Sent", func(t *testing.T) {
		arrived := make(chan struct{}, 4)
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			arrived <- struct{}{}
			<-r.Context().Done()
		}))
		t.Cleanup(be.Close)
		const secret = "sk-quitter-0123456789"
		log := &spyLog{}
		url := estimateProxyWith(t, be.URL, map[string]proxy.ClientKey{secret: {Name: "quitter", TokensPerMinute: 100}}, newSpyRecorder(), log, tr)
		c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		ctx, cancel := context.WithCancel(context.Background())
		go func() {
			<-arrived
			cancel()
		}()
		prompt := strings.Repeat("Summarise the river's course for me please. ", 24)[:1000]
		_, err := c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("abandoned request: %v, want the client's cancellation", err)
		}
		o := waitRows(t, log, 1)[0]
		if o.ErrorClass != "canceled" || !o.TokensEstimated || o.InputTokens < len(prompt)/4 || o.OutputTokens != 0 {
			t.Fatalf("row of a request abandoned once sent: class %q, %d/%d tokens, estimated %v; want canceled, its prompt charged",
				o.ErrorClass, o.InputTokens, o.OutputTokens, o.TokensEstimated)
		}
	})
}

// abandonInHandshake has a client abandon its request while the gateway
// is in its TLS handshake with a backend that never answers it, and
// checks that nothing is charged. opt changes the proxy's options.
func abandonInHandshake(t *testing.T, opt func(*proxy.Options)) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never a byte of the handshake
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	const secret = "sk-quitter-0123456789"
	log := &spyLog{}
	url := estimateProxyWith(t, "https://"+ln.Addr().String(), map[string]proxy.ClientKey{secret: {Name: "quitter", TokensPerMinute: 100}}, newSpyRecorder(), log, opt)
	c := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan net.Conn, 1)
	go func() {
		cn := <-accepted
		got <- cn
		cancel() // the gateway is in its handshake: the client gives up
	}()
	prompt := strings.Repeat("Summarise the river's course for me please. ", 24)[:1000]
	_, err = c.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned request: %v, want the client's cancellation", err)
	}
	accepted <- <-got
	o := waitRows(t, log, 1)[0]
	if o.ErrorClass != "canceled" || o.TokensEstimated || o.InputTokens != 0 || o.OutputTokens != 0 {
		t.Fatalf("row of a request abandoned in its TLS handshake: class %q, %d/%d tokens, estimated %v; want canceled and nothing charged: nothing reached the backend",
			o.ErrorClass, o.InputTokens, o.OutputTokens, o.TokensEstimated)
	}
}
