package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// runSluice runs the sluice binary with args and env added and returns
// its output (stdout and stderr) and exit code.
func runSluice(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("sluice %s: %v", strings.Join(args, " "), err)
	}
	return string(out), 0
}

var (
	subMicro  = regexp.MustCompile(`(\.[0-9]{1,6})[0-9]*Z"`)
	windowNow = regexp.MustCompile(`"window_end": "[^"]*"`)
)

// samePrecision rewrites the times in a JSON answer to microseconds, the
// precision PostgreSQL keeps (SQLite keeps nanoseconds), and drops the
// window end of an audit --at answer whose window ends now (the server's
// clock when asked).
func samePrecision(out string) string {
	out = subMicro.ReplaceAllStringFunc(out, func(m string) string {
		frac := strings.TrimRight(subMicro.FindStringSubmatch(m)[1], "0")
		if frac == "." {
			frac = ""
		}
		return frac + `Z"`
	})
	if strings.Contains(out, `"window_ends_now": true`) {
		out = windowNow.ReplaceAllString(out, `"window_end": "now"`)
	}
	return strings.TrimSpace(out)
}

// sdkAsk sends a chat completion with the openai-go SDK and returns its
// error.
func sdkAsk(base, secret, model, prompt string) error {
	sdk := openai.NewClient(option.WithBaseURL(base+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
	_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{
		Model: model, Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(prompt)},
	})
	return err
}

// TestProcess_StoreCopyToPostgres: a gateway on SQLite with models, a
// rollout rolled back, an admin token and a client key made through the
// API, and traffic, stopped; sluice store copy to a fresh PostgreSQL
// schema; a gateway started on PostgreSQL then answers sluice audit --at,
// sluice rollout history and sluice requests as the first did, and the
// client key and the admin token still work. A copy into a store that is
// not empty, and one from a store a gateway holds, are refused.
func TestProcess_StoreCopyToPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	dsn := pgtest.Schema(t)
	good := startFakellm(t, "")
	bad := startFakellm(t, "default: {refusal_rate: 0.6}\nseed: 11\n")
	cfg, dir := reliabilityGateway(t, good, bad, "require_client_keys: true\n")
	db := filepath.Join(dir, "sluice.db")
	gw := startServe(t, cfg, testEnv...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)

	tok, err := cl.CreateToken(ctx, "ops", sluice.RoleAdmin, "the on-call's token")
	if err != nil {
		t.Fatal(err)
	}
	key, err := cl.CreateKey(ctx, api.KeyRequest{Name: "team-a", Reason: "team A's service"})
	if err != nil {
		t.Fatal(err)
	}
	started, err := cl.StartRollout(ctx, codeRollout(), "ship c2")
	if err != nil {
		t.Fatal(err)
	}
	waitRollout(t, cl, "code", 30*time.Second, func(r sluice.Rollout) bool { return r.Phase == sluice.PhaseProgressing })
	mid := time.Now().UTC()
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if sdkAsk(gw.url, key.Secret, []string{"code", "chat"}[i%2], fmt.Sprintf("question %d", i)) == nil {
				n++
			}
		}
	}()
	r := waitRollout(t, cl, "code", 60*time.Second, func(r sluice.Rollout) bool { return !r.Phase.Active() })
	close(stop)
	if n := <-done; n == 0 {
		t.Fatal("no request with the client key succeeded")
	}
	if r.ID != started.ID || r.Phase != sluice.PhaseRolledBack {
		t.Fatalf("rollout %s ended %s, want %s rolled back", r.ID, r.Phase, started.ID)
	}
	// A user rates an answer: its one score is the store's, and goes with
	// the copy.
	var raw *http.Response
	sdk := openai.NewClient(option.WithBaseURL(gw.url+"/v1/"), option.WithAPIKey(key.Secret), option.WithMaxRetries(0))
	if _, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("rate me")}}, option.WithResponseInto(&raw)); err != nil {
		t.Fatal(err)
	}
	ratedID := raw.Header.Get("X-Request-Id")
	rate := func(base string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/feedback", strings.NewReader(fmt.Sprintf(`{"request_id":%q,"thumbs":"up"}`, ratedID)))
		req.Header.Set("Authorization", "Bearer "+key.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := rate(gw.url); code != http.StatusAccepted {
		t.Fatalf("rate %s on SQLite: %d %s, want 202", ratedID, code, body)
	}
	// Stopped, the gateway has written its whole request log (a sleep for
	// the flush was a guess a loaded machine could outrun); the reads to
	// compare are taken from a gateway started again on the same file,
	// up to now, before which it writes nothing.
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(30 * time.Second); code != 0 {
		t.Fatalf("gateway exit %d:\n%s", code, gw.log)
	}
	until := time.Now().UTC().Format(time.RFC3339Nano)
	gw = startServe(t, cfg, testEnv...)

	cli := func(url string, args ...string) string {
		t.Helper()
		out, code := runSluice(t, []string{"SLUICE_SERVER=" + url, "SLUICE_TOKEN=" + testAdminSecret}, args...)
		if code != 0 {
			t.Fatalf("sluice %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		return out
	}
	at := mid.Format(time.RFC3339Nano)
	reads := [][]string{
		{"audit", "--at", at, "code", "-o", "json"},
		{"audit", "--at", at, "chat", "-o", "json"},
		{"audit", "--until", until, "--limit", "1000", "-o", "json"},
		{"rollout", "history", "code", "-o", "json"},
		{"requests", "--limit", "10000", "--until", until, "-o", "json"},
	}
	before := make([]string, len(reads))
	for i, args := range reads {
		before[i] = cli(gw.url, args...)
	}
	if !strings.Contains(before[4], `"client_key": "team-a"`) {
		t.Fatalf("the request log has no row of team-a's requests:\n%.2000s", before[4])
	}

	// A gateway holds the file: refused, saying to stop it.
	out, code := runSluice(t, nil, "store", "copy", "--from", db, "--to", dsn)
	if code == 0 || !strings.Contains(out, "stop the gateway first") {
		t.Fatalf("copy from a store in use: exit %d, want a refusal saying to stop the gateway first:\n%s", code, out)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(30 * time.Second); code != 0 {
		t.Fatalf("gateway exit %d:\n%s", code, gw.log)
	}

	out, code = runSluice(t, nil, "store", "copy", "--from", db, "--to", dsn)
	if code != 0 {
		t.Fatalf("sluice store copy: exit %d\n%s", code, out)
	}
	for _, want := range []string{"audit entries", "client keys", "requests", "equal", "Next: set the gateway's store:"} {
		if !strings.Contains(out, want) {
			t.Errorf("sluice store copy's output has no %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`users' ratings\s+1\s+1\s+equal`).MatchString(out) {
		t.Errorf("sluice store copy's output does not say it copied the 1 rating:\n%s", out)
	}
	if strings.Contains(out, "DIFFERENT") || strings.Contains(out, "sluice:sluice@") {
		t.Errorf("sluice store copy's output says a kind differs, or shows the password:\n%s", out)
	}
	t.Logf("sluice store copy:\n%s", out)

	// Again: DST is not empty now.
	out, code = runSluice(t, nil, "store", "copy", "--from", db, "--to", dsn)
	if code == 0 || !strings.Contains(out, "is not empty") || !strings.Contains(out, "audit entries") {
		t.Fatalf("a second copy into the same store: exit %d, want it refused as not empty, naming what it holds:\n%s", code, out)
	}

	env := usePostgres(t, cfg, dir, dsn)
	gw2 := startServe(t, cfg, env...)
	for i, args := range reads {
		if got, want := samePrecision(cli(gw2.url, args...)), samePrecision(before[i]); got != want {
			t.Errorf("sluice %s on PostgreSQL:\n%.3000s\nwant, as on SQLite:\n%.3000s", strings.Join(args, " "), got, want)
		}
	}
	if code, body := rate(gw2.url); code != http.StatusConflict {
		t.Errorf("rate %s again on PostgreSQL, after the copy: %d %s, want 409 (rated on SQLite: the copy keeps its one score)", ratedID, code, body)
	}
	if err := sdkAsk(gw2.url, key.Secret, "chat", "after the move"); err != nil {
		t.Errorf("the client key on PostgreSQL: %v", err)
	}
	if err := sdkAsk(gw2.url, "sk-not-a-key", "chat", "after the move"); err == nil {
		t.Errorf("a wrong key on PostgreSQL was let in: the gateway checks no key")
	}
	if toks, err := api.NewClient(gw2.url, tok.Secret).Tokens(ctx); err != nil {
		t.Errorf("the admin token made on SQLite, on PostgreSQL: %v", err)
	} else if len(toks) == 0 {
		t.Errorf("the admin token made on SQLite lists no tokens on PostgreSQL")
	}
}
