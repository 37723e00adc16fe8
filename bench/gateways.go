package bench

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"
)

// The gateways a run compares, by name as --only takes them.
const (
	Direct  = "direct"
	Nginx   = "nginx"
	Sluice  = "sluice"
	Portkey = "portkey"
)

// Gateways lists every gateway in the order each round runs them.
var Gateways = []string{Direct, Nginx, Sluice, Portkey}

//go:embed nginx.conf
var nginxConf string

// PortkeyVersion is the Portkey AI gateway release package.json pins.
const PortkeyVersion = "1.15.2"

// gateway is one running system under test.
type gateway struct {
	name string
	addr string
	// header holds the gateway's own request header lines (CRLF-ended).
	header string
	// pids are the processes whose CPU and memory are the gateway's cost;
	// none for direct.
	pids []int
	// admin is Sluice's admin address and token, for profiles.
	admin, token string
	cmd          *exec.Cmd
	log          *os.File
	version      string
}

// env is what starting a gateway needs.
type env struct {
	dir            string
	stable, canary string
	userHeader     string
	sluiceBin      string
	nodeDir        string
}

func (g *gateway) stop() {
	if g.cmd != nil && g.cmd.Process != nil {
		g.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { g.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			g.cmd.Process.Kill()
			<-done
		}
	}
	if g.log != nil {
		g.log.Close()
	}
}

// start starts the named gateway.
func start(ctx context.Context, name string, e *env) (*gateway, error) {
	switch name {
	case Direct:
		return &gateway{name: Direct, addr: e.stable, version: "fakellm"}, nil
	case Nginx:
		return startNginx(ctx, e)
	case Sluice:
		return startSluice(ctx, e)
	case Portkey:
		return startPortkey(ctx, e)
	}
	return nil, fmt.Errorf("unknown gateway %q: choose from %s", name, strings.Join(Gateways, ", "))
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// spawn starts a child process logging to dir/name.log; it dies with the
// harness.
func spawn(ctx context.Context, dir, name string, workdir string, argv ...string) (*exec.Cmd, *os.File, error) {
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = workdir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	return cmd, logf, nil
}

// waitHTTP waits until GET url answers (any status) or the timeout passes.
func waitHTTP(url string, timeout time.Duration, cmd *exec.Cmd, logPath string) error {
	deadline := time.Now().Add(timeout)
	c := &http.Client{Timeout: time.Second}
	for {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if cmd != nil && cmd.ProcessState != nil {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tail, _ := os.ReadFile(logPath)
	if len(tail) > 2000 {
		tail = tail[len(tail)-2000:]
	}
	return fmt.Errorf("%s did not answer within %s; its log ends:\n%s", url, timeout, tail)
}

func startNginx(ctx context.Context, e *env) (*gateway, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "nginx")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	t, err := template.New("nginx").Parse(nginxConf)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	err = t.Execute(&b, map[string]any{
		"Workers": "auto", "Dir": dir, "Stable": e.stable, "Canary": e.canary, "Listen": addr,
		"UserVar": strings.ReplaceAll(strings.ToLower(e.userHeader), "-", "_"),
	})
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, b.Bytes(), 0o644); err != nil {
		return nil, err
	}
	cmd, logf, err := spawn(ctx, e.dir, "nginx", dir, "nginx", "-c", conf, "-p", dir)
	if err != nil {
		return nil, err
	}
	g := &gateway{name: Nginx, addr: addr, cmd: cmd, log: logf, version: commandVersion("nginx", "-v")}
	if err := waitHTTP("http://"+addr+"/health", 10*time.Second, cmd, logf.Name()); err != nil {
		g.stop()
		return nil, err
	}
	g.pids = append([]int{cmd.Process.Pid}, children(cmd.Process.Pid)...)
	return g, nil
}

// sluiceModels is the model file: a 95/5 split between the two backends,
// sticky on the user header.
const sluiceModels = `models:
  - name: chat
    description: sluice bench
    policy:
      kind: split
      split: [{version: v1.0.0, percent: 95}, {version: v1.1.0, percent: 5}]
    labels: {stable: v1.0.0, canary: v1.1.0}
    versions:
      - {version: v1.0.0, endpoints: ["http://%s"], upstream_model: stable, stage: production}
      - {version: v1.1.0, endpoints: ["http://%s"], upstream_model: canary, stage: staging}
`

func startSluice(ctx context.Context, e *env) (*gateway, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	admin, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(e.dir, "sluice")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	models := filepath.Join(dir, "models.yaml")
	if err := os.WriteFile(models, []byte(fmt.Sprintf(sluiceModels, e.stable, e.canary)), 0o644); err != nil {
		return nil, err
	}
	token := "bench-" + strconv.FormatInt(time.Now().UnixNano(), 36) + "-admin-token"
	cfg := fmt.Sprintf(`# sluice bench: every per-request account on (metrics, observations, request log to SQLite).
listen: %s
admin_listen: %s
store: %s
models_file: %s
sticky_headers: [%s]
tokens:
  - {name: bench, role: admin, secret: %q}
`, addr, admin, filepath.Join(dir, "sluice.db"), models, e.userHeader, token)
	cfgPath := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		return nil, err
	}
	cmd, logf, err := spawn(ctx, e.dir, "sluice", dir, e.sluiceBin, "serve", "-c", cfgPath)
	if err != nil {
		return nil, err
	}
	g := &gateway{name: Sluice, addr: addr, admin: admin, token: token, cmd: cmd, log: logf, pids: []int{cmd.Process.Pid}, version: "this build"}
	if err := waitHTTP("http://"+addr+"/healthz", 20*time.Second, cmd, logf.Name()); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

func startPortkey(ctx context.Context, e *env) (*gateway, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	_, port, _ := net.SplitHostPort(addr)
	script := filepath.Join(e.nodeDir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")
	if _, err := os.Stat(script); err != nil {
		return nil, fmt.Errorf("portkey is not installed in %s (npm ci there): %w", e.nodeDir, err)
	}
	cmd, logf, err := spawn(ctx, e.dir, "portkey", e.nodeDir, "node", script, "--port="+port, "--headless")
	if err != nil {
		return nil, err
	}
	// A 95/5 weighted load balance, as Portkey's docs write a canary; it
	// is random per request (Portkey has no sticky split). The stream id
	// and token count headers must be forwarded by name.
	cfg := fmt.Sprintf(`{"strategy":{"mode":"loadbalance"},"forward_headers":["%s","x-fake-tokens"],"targets":[`+
		`{"provider":"openai","api_key":"sk-bench","custom_host":"http://%s/v1","weight":0.95},`+
		`{"provider":"openai","api_key":"sk-bench","custom_host":"http://%s/v1","weight":0.05}]}`,
		strings.ToLower(streamHeader), e.stable, e.canary)
	g := &gateway{
		name: Portkey, addr: "127.0.0.1:" + port, cmd: cmd, log: logf, pids: []int{cmd.Process.Pid},
		header: "x-portkey-config: " + cfg + "\r\n", version: "@portkey-ai/gateway " + PortkeyVersion + ", node " + commandVersion("node", "--version"),
	}
	if err := waitHTTP("http://"+g.addr+"/", 30*time.Second, cmd, logf.Name()); err != nil {
		g.stop()
		return nil, err
	}
	return g, nil
}

// commandVersion returns the first line a command prints about its version.
func commandVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil && len(out) == 0 {
		return "unknown"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
