package proxy_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

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
	url := estimateProxy(t, "https://"+ln.Addr().String(), map[string]proxy.ClientKey{secret: {Name: "quitter", TokensPerMinute: 100}}, newSpyRecorder(), log)
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
