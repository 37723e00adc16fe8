package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/sqlite"
)

// The secrets the process tests configure; none may appear in a log.
const (
	testAdminSecret = "secret-for-the-test-0123456789"
	testClientKey   = "sk-process-test-4f1e2d3c4b5a6978"
)

var testEnv = []string{"SLUICE_TEST_SECRET=" + testAdminSecret, "SLUICE_TEST_KEY=" + testClientKey}

// reliabilityModels is the model file of the process tests: chat with two
// versions in a split, and code with a stable version and a candidate.
const reliabilityModels = `models:
  - name: chat
    policy: {kind: split, split: [{version: v1, percent: 50}, {version: v2, percent: 50}]}
    labels: {stable: v1}
    versions:
      - {version: v1, endpoints: [GOOD], upstream_model: chat-v1, base_model: llama-3-8b, family: llama-3, weight_hash: "sha256:c1", stage: production}
      - {version: v2, endpoints: [GOOD], upstream_model: chat-v2, base_model: llama-3-8b, family: llama-3, weight_hash: "sha256:c2", stage: production}
  - name: code
    policy: {kind: specific, version: c1}
    labels: {stable: c1}
    versions:
      - {version: c1, endpoints: [GOOD], upstream_model: code-1, base_model: llama-3-8b, family: llama-3, weight_hash: "sha256:d1", stage: production}
      - {version: c2, endpoints: [CAND], upstream_model: code-2, base_model: llama-3-8b, family: llama-3, weight_hash: "sha256:d2", stage: staging}
`

// reliabilityGateway writes the model file and a gateway config (extra
// appended) into a new temp dir and returns the config path and the dir.
func reliabilityGateway(t *testing.T, good, cand, extra string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.NewReplacer("GOOD", good, "CAND", cand).Replace(reliabilityModels)), 0o644)
	cfg := gatewayConfig(t, dir, `listen: 127.0.0.1:0
store: DIR/sluice.db
models_file: `+models+`
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
rollouts: {tick: 50ms}
request_log: {keep: true, flush_interval: 100ms}
`+extra)
	return cfg, dir
}

// codeRollout is a progressive rollout of code:c2 that holds its first
// stage until the analysis decides.
func codeRollout() sluice.RolloutSpec {
	return sluice.RolloutSpec{
		Model: "code", Candidate: "c2", Strategy: sluice.StrategyProgressive,
		Stages: []sluice.RolloutStage{
			{Percent: 20, Hold: sluice.Duration(time.Hour), MinSamples: 50},
			{Percent: 100},
		},
		Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(200 * time.Millisecond), MinSamples: 50},
		Warmup:   sluice.WarmupSpec{Requests: 2},
	}
}

func waitRollout(t *testing.T, cl *api.Client, model string, timeout time.Duration, ok func(sluice.Rollout) bool) sluice.Rollout {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var st api.RolloutStatus
	var err error
	for time.Now().Before(deadline) {
		if st, err = cl.Rollout(context.Background(), model); err == nil && ok(st.Rollout) {
			return st.Rollout
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("rollout of %s not as wanted after %s: %s %s (%v); last verdict %s", model, timeout, st.Rollout.Phase, st.Rollout.Decision, err, st.Rollout.LastVerdict)
	return sluice.Rollout{}
}

// noSecrets fails the test when a configured secret appears in out.
func noSecrets(t *testing.T, what, out string) {
	t.Helper()
	for name, s := range map[string]string{"admin token": testAdminSecret, "client key": testClientKey, "client key hash": sluice.HashSecret(testClientKey), "admin token hash": sluice.HashSecret(testAdminSecret)} {
		if strings.Contains(out, s) {
			t.Errorf("the %s appears in %s", name, what)
		}
	}
}

// TestProcess_SIGTERMDrainsStreams: SIGTERM with ten streams in flight. The
// gateway stops accepting connections at once, lets every stream finish,
// writes their request log rows, and exits 0.
func TestProcess_SIGTERMDrainsStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "default: {tokens_per_second: 20, output_tokens: 40}\n")
	cfg, dir := reliabilityGateway(t, good, good, "")
	gw := startServe(t, cfg, testEnv...)
	const streams = 10
	results := make(chan string, streams)
	started := make(chan struct{}, streams)
	for i := 0; i < streams; i++ {
		go func() {
			req, _ := http.NewRequest("POST", gw.url+"/v1/chat/completions", strings.NewReader(`{"model":"chat","stream":true,"messages":[]}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			defer resp.Body.Close()
			br := bufio.NewReader(resp.Body)
			first, _ := br.ReadString('\n')
			started <- struct{}{}
			rest, err := io.ReadAll(br)
			if err != nil {
				results <- "error: " + err.Error()
				return
			}
			results <- first + string(rest)
		}()
	}
	for i := 0; i < streams; i++ {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("streams did not start")
		}
	}
	sent := time.Now()
	gw.signal(syscall.SIGTERM)
	// New connections are refused while the streams drain.
	refused := false
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(gw.url, "http://"), 100*time.Millisecond)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Error("the gateway still accepted connections 1 s after SIGTERM")
	}
	for i := 0; i < streams; i++ {
		select {
		case r := <-results:
			if !strings.Contains(r, "data: [DONE]") {
				t.Errorf("a stream in flight at SIGTERM did not finish: %.200q", r)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("streams did not finish after SIGTERM")
		}
	}
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, gw.log)
	}
	if !strings.Contains(gw.log.String(), "draining") {
		t.Errorf("no word of draining in the log:\n%s", gw.log)
	}
	st, err := sqlite.OpenOptions(filepath.Join(dir, "sluice.db"), sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.Requests(context.Background(), sluice.RequestQuery{Model: "chat"})
	if err != nil || len(rows) != streams {
		t.Fatalf("request log holds %d rows (%v), want the %d streams", len(rows), err, streams)
	}
	t.Logf("%d streams drained; exited %s after SIGTERM", streams, time.Since(sent).Round(time.Millisecond))
}

// TestProcess_SIGHUPReloadsWithoutDropping sends SIGHUP twenty times under
// load: every request succeeds, and a change written to the store by
// another process is picked up by the reload.
func TestProcess_SIGHUPReloadsWithoutDropping(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "")
	cfg, dir := reliabilityGateway(t, good, good, "")
	gw := startServe(t, cfg, testEnv...)
	var sent, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post(gw.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","messages":[]}`))
				sent.Add(1)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		time.Sleep(100 * time.Millisecond)
		gw.signal(syscall.SIGHUP)
		// Signals sent while a reload runs merge into one (a loaded
		// machine can delay a reload past the next signal): count each.
		waitLog(t, gw, "reloaded on SIGHUP", i+1)
	}
	// Another writer (the way a second process or a restore would) moves
	// chat to v2 alone; SIGHUP makes the gateway read it.
	st, err := sqlite.Open(filepath.Join(dir, "sluice.db"))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := st.LoadRegistry(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	e := reg.Edit("ops-script", "move chat to v2", time.Now())
	if err := e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v2"}); err != nil {
		t.Fatal(err)
	}
	ch, err := e.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(context.Background(), ch); err != nil {
		t.Fatal(err)
	}
	st.Close()
	gw.signal(syscall.SIGHUP)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Post(gw.url+"/v1/chat/completions", "application/json", strings.NewReader(`{"model":"chat","user":"u1","messages":[]}`))
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("X-Model-Version") == "chat:v2" {
				ok := true
				for i := 0; i < 20 && ok; i++ {
					r, err := client.Post(gw.url+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"model":"chat","user":"u%d","messages":[]}`, i)))
					ok = err == nil && r.Header.Get("X-Model-Version") == "chat:v2"
					if r != nil {
						r.Body.Close()
					}
				}
				if ok {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the change written by another process was not served after SIGHUP")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	if f := failed.Load(); f != 0 || sent.Load() == 0 {
		t.Errorf("%d of %d requests failed across 21 reloads", f, sent.Load())
	}
	// The last reload logs after the change it read is served.
	waitLog(t, gw, "reloaded on SIGHUP", 21)
	if n := strings.Count(gw.log.String(), "reloaded on SIGHUP"); n != 21 {
		t.Errorf("%d reloads logged, want 21", n)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	t.Logf("%d requests across 21 reloads, 0 failed", sent.Load())
}

// TestProcess_Kill9MidRollout kills the gateway with SIGKILL while a
// rollout is live and right after a run of acknowledged changes. On
// restart every acknowledged change is in the audit log, the rollout is
// where it was, and the new process carries it on to its decision (a
// rollback: the candidate refuses too often).
//
// TestProcess_Kill9MidRolloutPostgres runs the same on a PostgreSQL store.
func TestProcess_Kill9MidRollout(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	kill9MidRollout(t, "")
}

// kill9MidRollout is the kill -9 test on the SQLite store in a temp dir,
// or on the PostgreSQL store dsn when it is not empty.
func kill9MidRollout(t *testing.T, dsn string) {
	good := startFakellm(t, "")
	bad := startFakellm(t, "default: {refusal_rate: 0.6}\nseed: 11\n")
	cfg, dir := reliabilityGateway(t, good, bad, "")
	env := testEnv
	if dsn != "" {
		env = usePostgres(t, cfg, dir, dsn)
	}
	gw := startServe(t, cfg, env...)
	ctx := context.Background()
	cl := api.NewClient(gw.url, testAdminSecret)
	started, err := cl.StartRollout(ctx, codeRollout(), "kill -9 test")
	if err != nil {
		t.Fatal(err)
	}
	// No traffic yet: the rollout sits at its first stage, undecided.
	waitRollout(t, cl, "code", 30*time.Second, func(r sluice.Rollout) bool { return r.Phase == sluice.PhaseProgressing })
	var acked []string
	for i := 0; i < 25; i++ {
		name := fmt.Sprintf("acked-%02d", i)
		if _, err := cl.CreateToken(ctx, name, sluice.RoleViewer, "acknowledged before the crash"); err != nil {
			t.Fatal(err)
		}
		acked = append(acked, name)
	}
	gw.cmd.Process.Kill() // SIGKILL right after the last acknowledgement
	if code := gw.wait(10 * time.Second); code != -int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want killed", code)
	}

	gw2 := startServe(t, cfg, env...)
	cl2 := api.NewClient(gw2.url, testAdminSecret)
	st, err := cl2.Rollout(ctx, "code")
	if err != nil {
		t.Fatal(err)
	}
	if st.Rollout.ID != started.ID || st.Rollout.Phase != sluice.PhaseProgressing || st.Rollout.Percent != 20 {
		t.Fatalf("after the restart rollout %s is %s at %v%%, want %s progressing at 20%%", st.Rollout.ID, st.Rollout.Phase, st.Rollout.Percent, started.ID)
	}
	// The models file, applied again at start, leaves the rollout's split
	// alone.
	if mv, err := cl2.Model(ctx, "code"); err != nil || mv.PolicyText != "split c1=80 c2=20" {
		t.Fatalf("after the restart code routes %q (%v), want the rollout's split c1=80 c2=20", mv.PolicyText, err)
	}
	audit, err := cl2.Audit(ctx, sluice.AuditQuery{Action: "token.create", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, a := range audit {
		if a.Actor != "ci" {
			t.Errorf("audit entry %s %s has actor %q, want the token's name ci", a.Action, a.Subject, a.Actor)
		}
		have[a.Subject] = true
	}
	for _, name := range acked {
		if !have[name] {
			t.Errorf("acknowledged change %s lost by kill -9", name)
		}
	}
	// Traffic now: the restarted controller judges the rollout it found.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := http.Post(gw2.url+"/v1/chat/completions", "application/json", strings.NewReader(fmt.Sprintf(`{"model":"code","user":"u%d-%d","messages":[]}`, w, i)))
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
			}
		}()
	}
	r := waitRollout(t, cl2, "code", 60*time.Second, func(r sluice.Rollout) bool { return !r.Phase.Active() })
	close(stop)
	wg.Wait()
	if r.ID != started.ID || r.Phase != sluice.PhaseRolledBack {
		t.Fatalf("rollout %s ended %s (%s), want %s rolled back", r.ID, r.Phase, r.Decision, started.ID)
	}
	if failed.Load() != 0 {
		t.Errorf("%d requests failed", failed.Load())
	}
	t.Logf("%d acknowledged changes survived kill -9; the restarted gateway resumed %s and decided: %s", len(acked), r.ID, r.Decision)
}

// writeProcCert writes a self-signed certificate for 127.0.0.1 into dir
// and returns the files and a pool trusting it.
func writeProcCert(t *testing.T, dir, name string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "sluice " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	cert, keyFile := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return cert, keyFile, pool
}

// TestProcess_TLSAndClientKeys runs `sluice serve` with TLS on the data
// plane and on a separate admin listener, and a client key from the
// environment: the OpenAI SDK needs the key, the admin API its token, both
// over HTTPS; SIGHUP and SIGTERM behave; and no secret reaches the log.
func TestProcess_TLSAndClientKeys(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary (skipped under -short)")
	}
	good := startFakellm(t, "")
	dir := t.TempDir()
	cert, key, pool := writeProcCert(t, dir, "sluice")
	cfg, _ := reliabilityGateway(t, good, good, fmt.Sprintf(`admin_listen: 127.0.0.1:0
tls: {cert_file: %s, key_file: %s}
client_keys:
  - {name: app, secret: "${SLUICE_TEST_KEY}", models: [chat], rate_limit: 100}
`, cert, key))
	gw := startServe(t, cfg, testEnv...)
	if !strings.HasPrefix(gw.url, "https://") {
		t.Fatalf("serving at %s, want https", gw.url)
	}
	m := regexp2(gw.log.String())
	if !strings.HasPrefix(m, "https://") {
		t.Fatalf("admin API at %q, want https", m)
	}
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ctx := context.Background()
	sdk := openai.NewClient(option.WithBaseURL(gw.url+"/v1/"), option.WithAPIKey(testClientKey), option.WithHTTPClient(hc), option.WithMaxRetries(0))
	if _, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatalf("SDK over TLS with the key: %v", err)
	}
	nokey := openai.NewClient(option.WithBaseURL(gw.url+"/v1/"), option.WithAPIKey("sk-wrong-000000000000"), option.WithHTTPClient(hc), option.WithMaxRetries(0))
	_, err := nokey.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	if apiErr := (*openai.Error)(nil); !asOpenAIError(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Errorf("SDK with a wrong key: %v, want 401", err)
	}
	cl := api.NewClient(m, testAdminSecret)
	cl.HTTP = hc
	if _, err := cl.Models(ctx); err != nil {
		t.Fatalf("admin API over TLS: %v", err)
	}
	gw.signal(syscall.SIGHUP)
	time.Sleep(200 * time.Millisecond)
	if _, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err != nil {
		t.Fatalf("after SIGHUP: %v", err)
	}
	gw.signal(syscall.SIGTERM)
	if code := gw.wait(20 * time.Second); code != 0 {
		t.Errorf("exit code %d", code)
	}
	noSecrets(t, "the gateway's log", gw.log.String())
}

// regexp2 returns the admin API's URL from the serve banner.
func regexp2(log string) string {
	i := strings.Index(log, "the admin API at ")
	if i < 0 {
		return ""
	}
	rest := log[i+len("the admin API at "):]
	return strings.TrimSuffix(strings.Fields(rest)[0], "/admin/v1")
}

func asOpenAIError(err error, target **openai.Error) bool {
	e, ok := err.(*openai.Error)
	if ok {
		*target = e
	}
	return ok
}
