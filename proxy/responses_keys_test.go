package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_ResponsesStayWithTheirKey: two teams' client keys both may use
// model chat. A response holds its team's conversation, and the gateway
// knew which key asked for it, yet any other key with the model could read
// it (GET /v1/responses/{id}), its input items, delete it, or continue it
// (previous_response_id), the backend holding every team's responses
// alike. Now only the key that made a response (or an operator or admin
// token) reaches it; another key gets a 404 saying so, and its
// continuation never reaches a backend.
func TestProxy_ResponsesStayWithTheirKey(t *testing.T) {
	be := MustBackend(t, fakellm.Config{})
	const secretA, secretB, opToken = "sk-team-a-0123456789", "sk-team-b-0123456789", "slk_operator-0123456789"
	ks, err := proxy.NewKeySet([]proxy.ClientKey{
		{Name: "team-a", Hash: sluice.HashSecret(secretA), Models: []string{"chat"}},
		{Name: "team-b", Hash: sluice.HashSecret(secretB), Models: []string{"chat"}},
	}, func(_ context.Context, secret string) (bool, error) {
		if secret != opToken {
			return false, proxy.ErrUnknownKey
		}
		return true, nil
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := proxy.New(proxy.Options{Routes: MustRoutes(t, be.URL(), ""), Admit: ks.Admit, ForceAllowed: ks.ForceAllowed})
	srv := httptest.NewServer(ks.Wrap(p))
	t.Cleanup(func() { p.Close(); srv.Close() })
	client := func(key string) *openai.Client {
		c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
		return &c
	}
	a, b, op := client(secretA), client(secretB), client(opToken)
	ctx := context.Background()

	made, err := a.Responses.New(ctx, respInput("chat", "my account number is 12345"))
	if err != nil {
		t.Fatal(err)
	}
	refused := func(what string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("team-b %s team-a's response: allowed", what)
			return
		}
		if code, msg := apiStatus(t, err); code != http.StatusNotFound {
			t.Errorf("team-b %s team-a's response: %d %s, want 404", what, code, msg)
		}
	}
	_, err = b.Responses.Get(ctx, made.ID, responses.ResponseGetParams{})
	refused("reads", err)
	_, err = b.Responses.InputItems.List(ctx, made.ID, responses.InputItemListParams{})
	refused("lists the input items of", err)
	cont := respInput("chat", "what is my account number?")
	cont.PreviousResponseID = openai.String(made.ID)
	_, err = b.Responses.New(ctx, cont)
	refused("continues", err)
	err = b.Responses.Delete(ctx, made.ID)
	refused("deletes", err)

	// The key that made it, and an operator's token, still reach it.
	if got, err := a.Responses.Get(ctx, made.ID, responses.ResponseGetParams{}); err != nil || got.ID != made.ID {
		t.Errorf("team-a reads its response: %v", err)
	}
	if _, err := op.Responses.Get(ctx, made.ID, responses.ResponseGetParams{}); err != nil {
		t.Errorf("an operator token reads the response: %v", err)
	}
	if _, err := a.Responses.New(ctx, cont); err != nil {
		t.Errorf("team-a continues its response: %v", err)
	}
	if err := a.Responses.Delete(ctx, made.ID); err != nil {
		t.Errorf("team-a deletes its response: %v", err)
	}
}
