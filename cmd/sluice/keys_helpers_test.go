package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// The secrets of twoTeamsGateway's client keys: team-a's given in the
// config, team-b's as its SHA-256.
const secretA, secretB = "sk-team-a-6f1c0e9b2d7a4853", "sk-team-b-0d9e3a7c51f24b68"

// twoTeamsGateway starts a gateway on SQLite with two client keys, team-a
// (chat only) and team-b, over one fakellm backend, and applies the
// README's model file (modelsYAML). It returns the gateway, an admin
// token (also a caller on the data plane with no key), and cmd, which
// appends the flags that point the CLI at the gateway.
func twoTeamsGateway(t *testing.T) (gw *server.Server, token string, cmd func(args ...string) []string) {
	t.Helper()
	return twoTeamsGatewayWith(t, fakellm.Config{})
}

// twoTeamsGatewayWith is twoTeamsGateway over a fakellm backend of
// config be.
func twoTeamsGatewayWith(t *testing.T, bc fakellm.Config) (gw *server.Server, token string, cmd func(args ...string) []string) {
	t.Helper()
	be := httptest.NewServer(fakellm.New(bc).Handler())
	t.Cleanup(be.Close)
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.ClientKeys = []config.ClientKey{
		{Name: "team-a", Secret: secretA, Models: []string{"chat"}},
		{Name: "team-b", SHA256: sluice.HashSecret(secretB)},
	}
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	if token, err = gw.EnsureBootstrapToken(context.Background()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", be.URL)), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd = func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	return gw, token, cmd
}

// sdkChat sends one chat request to gw with the OpenAI SDK under secret,
// streamed (asking for usage) or not, and returns the usage the SDK was
// told and the request id the gateway answered with. It fails t when the
// request fails or the SDK saw no usage; label names the caller in those
// messages.
func sdkChat(t *testing.T, gw *server.Server, label, secret, model, prompt string, stream bool) (openai.CompletionUsage, string) {
	t.Helper()
	ctx := context.Background()
	var resp *http.Response
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	params := openai.ChatCompletionNewParams{Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)}}
	var u openai.CompletionUsage
	if stream {
		params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := sdk.Chat.Completions.NewStreaming(ctx, params, option.WithResponseInto(&resp))
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatalf("%s stream: %v", label, err)
		}
		u = acc.Usage
	} else {
		c, err := sdk.Chat.Completions.New(ctx, params, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("%s: %v", label, err)
		}
		u = c.Usage
	}
	if u.PromptTokens == 0 || u.CompletionTokens == 0 {
		t.Fatalf("%s: the SDK saw no usage: %+v", label, u)
	}
	return u, resp.Header.Get("X-Request-Id")
}
