package replicas_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/internal/testbin"
)

// secret is the admin token every replica knows from its config file.
const secret = "replica-test-secret-0123456789abcdef"

// sluiceBin is the sluice binary, built once for the package.
var sluiceBin = testbin.New("github.com/sluicehq/sluice/cmd/sluice", "sluice")

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) { testbin.Main(m, sluiceBin, sluiceOld, sluiceNew, sluiceUnstamped) }

var servingRE = regexp.MustCompile(`serving the OpenAI API at (http://[0-9.:]+)/v1`)

// replica is one `sluice serve` process.
type replica struct {
	name   string
	url    string
	cmd    *exec.Cmd
	client *api.Client
	done   chan struct{} // closed when the process has exited
	ready  chan string   // the URL, once it serves

	mu  sync.Mutex
	log strings.Builder
}

// Log returns what the process wrote to stderr.
func (r *replica) Log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.String()
}

// Kill kills the process with SIGKILL, as a crash or the OOM killer would.
func (r *replica) Kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// fleet writes the gateway config and models file for a fleet sharing dsn.
type fleet struct {
	t        *testing.T
	dir, cfg string
	dsn      string
	backend  *fakellm.Server
	replicas []*replica
	// bin is the binary spawn starts; nil means sluiceBin.
	bin *testbin.Binary
}

const modelsYAML = `models:
  - name: chat
    policy: {kind: split, split: [{version: v1.0.0, percent: 90}, {version: v1.1.0, percent: 10}]}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [BACKEND], weight_hash: "sha256:aaa", base_model: llama-3-8b, family: llama-3, stage: production}
      - {version: v1.1.0, endpoints: [BACKEND], weight_hash: "sha256:bbb", base_model: llama-3-8b, family: llama-3, stage: staging}
`

// writeFleetConfig writes the replicas' gateway config in dir, serving
// the model file at models, with extra YAML lines appended, and returns
// its path. Each replica gets its store from SLUICE_STORE.
func writeFleetConfig(dir, models, extra string) string {
	return writeFleetConfigRollouts(dir, models, "tick: 50ms", extra)
}

// writeFleetConfigRollouts is writeFleetConfig with rollouts as the inside
// of the config's rollouts map.
func writeFleetConfigRollouts(dir, models, rollouts, extra string) string {
	cfg := filepath.Join(dir, "sluice.yaml")
	os.WriteFile(cfg, []byte(`listen: 127.0.0.1:0
store: ${SLUICE_STORE}
models_file: `+models+`
health: {interval: 200ms}
request_log: {flush_interval: 50ms}
rollouts: {`+rollouts+`}
tokens:
  - {name: ci, role: admin, secret: "${SLUICE_TEST_SECRET}"}
`+extra), 0o644)
	return cfg
}

// liveCanaryFleet starts two replicas sharing dsn, serving chat (v1.0.0
// stable and the policy's version, v1.1.0 in production, both on backend)
// with rollouts as the inside of their rollouts map, starts a canary of
// v1.1.0 through replica 1 (no warm-up, no analysis for an hour), and
// waits until replica watch (0 or 1) sees it live.
func liveCanaryFleet(t *testing.T, dsn, backend, rollouts string, watch int) []*replica {
	t.Helper()
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(`models:
  - name: chat
    policy: {kind: specific, version: v1.0.0}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [BACKEND], stage: production}
      - {version: v1.1.0, endpoints: [BACKEND], stage: production}
`, "BACKEND", backend)), 0o644)
	f := &fleet{t: t, dir: dir, cfg: writeFleetConfigRollouts(dir, models, rollouts, ""), dsn: dsn}
	rs := f.start(2)
	ctx := context.Background()
	if _, err := rs[0].client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyCanary,
		Warmup: sluice.WarmupSpec{Skip: true}, Analysis: sluice.AnalysisSpec{Interval: sluice.Duration(time.Hour)}}, "ship v1.1.0"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		st, err := rs[watch].client.Rollout(ctx, "chat")
		if err == nil && st.Rollout.Phase == sluice.PhaseProgressing {
			return rs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canary did not go live on replica %d: %+v %v", watch+1, st.Rollout.Phase, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func newFleet(t *testing.T, dsn string) *fleet {
	t.Helper()
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(strings.ReplaceAll(modelsYAML, "BACKEND", b.URL())), 0o644)
	cfg := writeFleetConfig(dir, models, "")
	return &fleet{t: t, dir: dir, cfg: cfg, dsn: dsn, backend: b}
}

// start starts n more replicas, all at once, and waits until they serve.
func (f *fleet) start(n int) []*replica {
	f.t.Helper()
	started := f.spawn(n)
	f.await(started...)
	return started
}

// spawn starts n more replica processes without waiting for them.
func (f *fleet) spawn(n int) []*replica {
	f.t.Helper()
	b := f.bin
	if b == nil {
		b = sluiceBin
	}
	bin, err := b.Path()
	if err != nil {
		f.t.Fatal(err)
	}
	var started []*replica
	for range n {
		r := &replica{name: fmt.Sprintf("replica-%d", len(f.replicas)+1), done: make(chan struct{}), ready: make(chan string, 1)}
		r.cmd = exec.Command(bin, "serve", "-c", f.cfg)
		r.cmd.Env = append(os.Environ(), "SLUICE_STORE="+f.dsn, "SLUICE_TEST_SECRET="+secret)
		stderr, _ := r.cmd.StderrPipe()
		if err := r.cmd.Start(); err != nil {
			f.t.Fatal(err)
		}
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				r.mu.Lock()
				r.log.WriteString(sc.Text() + "\n")
				r.mu.Unlock()
				if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
					r.ready <- m[1]
				}
			}
			r.cmd.Wait()
			close(r.done)
		}()
		f.t.Cleanup(func() {
			r.cmd.Process.Signal(os.Interrupt)
			select {
			case <-r.done:
			case <-time.After(20 * time.Second):
				r.cmd.Process.Kill()
				<-r.done
			}
			if f.t.Failed() {
				f.t.Logf("%s log:\n%s", r.name, r.Log())
			}
		})
		f.replicas = append(f.replicas, r)
		started = append(started, r)
	}
	return started
}

// await waits until each of started serves, failing the test if one exits
// first or takes over 30 s.
func (f *fleet) await(started ...*replica) {
	f.t.Helper()
	for _, r := range started {
		select {
		case r.url = <-r.ready:
		case <-r.done:
			f.t.Fatalf("%s exited before serving:\n%s", r.name, r.Log())
		case <-time.After(30 * time.Second):
			f.t.Fatalf("%s did not start in 30 s:\n%s", r.name, r.Log())
		}
		r.client = api.NewClient(r.url, secret)
	}
}

// alive returns the replicas whose process runs.
func (f *fleet) alive() []*replica {
	var out []*replica
	for _, r := range f.replicas {
		select {
		case <-r.done:
		default:
			out = append(out, r)
		}
	}
	return out
}

// metric returns the value of an unlabelled metric on r's /metrics, or -1.
func (r *replica) metric(name string) float64 {
	resp, err := http.Get(r.url + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// leader waits until exactly one live replica leads and returns it.
func (f *fleet) leader(timeout time.Duration) *replica {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		var leads []*replica
		for _, r := range f.alive() {
			if r.metric("sluice_replica_leader") == 1 {
				leads = append(leads, r)
			}
		}
		if len(leads) == 1 {
			return leads[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("no single leader among the replicas within %v", timeout)
	return nil
}

// leaderOfTwo waits until one of the two replicas rs leads and returns
// it and the other.
func (f *fleet) leaderOfTwo(rs []*replica, timeout time.Duration) (leader, other *replica) {
	f.t.Helper()
	leader, other = f.leader(timeout), rs[0]
	if other == leader {
		other = rs[1]
	}
	return leader, other
}

// policy returns model chat's policy as r's live routing table has it,
// such as "split v1.0.0=90 v1.1.0=10".
func (r *replica) policy(ctx context.Context) (string, error) {
	return r.policyOf(ctx, "chat")
}

// policyOf returns the policy of model as the replica routes it.
func (r *replica) policyOf(ctx context.Context, model string) (string, error) {
	b, err := r.client.Routes(ctx)
	if err != nil {
		return "", err
	}
	var models []struct{ Name, Policy string }
	if err := json.Unmarshal(b, &models); err != nil {
		return "", err
	}
	for _, m := range models {
		if m.Name == model {
			return m.Policy, nil
		}
	}
	return "", fmt.Errorf("%s routes no model %s", r.name, model)
}

// versionFor sends one request for user through r and returns the version
// that served it.
func versionFor(client *http.Client, base, user string) (string, error) {
	body := fmt.Sprintf(`{"model":"chat","user":%q,"messages":[{"role":"user","content":"hi"}],"max_tokens":1}`, user)
	resp, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Model-Version"), nil
}

// load sends requests round-robin over the replicas it is given until
// stopped, counting what the clients saw.
type load struct {
	ok, failed atomic.Int64
	stop       chan struct{}
	wg         sync.WaitGroup
	mu         sync.Mutex
	targets    []string
	errs       []string
}

func startLoad(t *testing.T, workers int, targets ...*replica) *load {
	l := &load{stop: make(chan struct{})}
	l.setTargets(targets...)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}, Timeout: 30 * time.Second}
	cats := []string{"chat", "code", "support"}
	for w := range workers {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stop:
					return
				default:
				}
				l.mu.Lock()
				base := l.targets[(w+i)%len(l.targets)]
				l.mu.Unlock()
				body := fmt.Sprintf(`{"model":"chat","user":"u-%d-%d","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`, w, i%500)
				req, _ := http.NewRequest("POST", base+"/v1/chat/completions", strings.NewReader(body))
				req.Header.Set("X-Request-Category", cats[i%len(cats)])
				resp, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d from %s", resp.StatusCode, base)
					}
				}
				if err != nil {
					l.failed.Add(1)
					l.mu.Lock()
					if len(l.errs) < 10 {
						l.errs = append(l.errs, err.Error())
					}
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
			}
		})
	}
	t.Cleanup(l.finish)
	return l
}

// setTargets changes the replicas the load goes to (a load balancer
// taking a dead one out).
func (l *load) setTargets(targets ...*replica) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.targets = l.targets[:0]
	for _, r := range targets {
		l.targets = append(l.targets, r.url)
	}
}

func (l *load) finish() {
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	l.wg.Wait()
}

// percentile returns the q-quantile of ds (nearest rank).
func percentile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
