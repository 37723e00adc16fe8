package bench

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"
)

//go:embed wrk.lua
var wrkScript string

// wrkOut is the JSON line wrk.lua's done() prints.
type wrkOut struct {
	Requests   int64   `json:"requests"`
	DurationUS int64   `json:"duration_us"`
	Connect    int64   `json:"connect"`
	Read       int64   `json:"read"`
	Write      int64   `json:"write"`
	Status     int64   `json:"status"`
	Timeout    int64   `json:"timeout"`
	P50US      int64   `json:"p50_us"`
	P99US      int64   `json:"p99_us"`
	P999US     int64   `json:"p999_us"`
	MaxUS      int64   `json:"max_us"`
	MeanUS     float64 `json:"mean_us"`
}

// writeWrkScript writes the wrk script for rq into dir and returns its path.
func writeWrkScript(dir string, rq *request) (string, error) {
	t, err := template.New("wrk").Parse(wrkScript)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]string{"Body": string(rq.body), "UserHeader": rq.userHeader}); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "wrk.lua")
	return path, os.WriteFile(path, b.Bytes(), 0o644)
}

// runWrk runs wrk with conc connections against rq for d and returns what
// it measured as a loadResult (wrk's percentiles are kept in Latency as
// single points).
func runWrk(ctx context.Context, script string, rq *request, conc int, d time.Duration) (*loadResult, *wrkOut, error) {
	threads := min(2, conc)
	args := []string{
		"-t", strconv.Itoa(threads), "-c", strconv.Itoa(conc),
		// wrk reads whole seconds only.
		"-d", strconv.Itoa(max(1, int(d.Round(time.Second)/time.Second))) + "s",
		"--timeout", "10s", "-s", script,
		"http://" + rq.addr + rq.path, "--", strconv.Itoa(rq.users),
	}
	for _, line := range strings.Split(strings.TrimSpace(rq.header), "\r\n") {
		k, _, _ := strings.Cut(line, ":")
		if k == "" || strings.EqualFold(k, "Host") || strings.EqualFold(k, "Content-Type") {
			continue
		}
		args = append(args, line)
	}
	cmd := exec.CommandContext(ctx, "wrk", args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, nil, fmt.Errorf("wrk: %v: %s", err, errb.String())
	}
	i := bytes.Index(out.Bytes(), []byte("WRKJSON "))
	if i < 0 {
		return nil, nil, fmt.Errorf("wrk printed no results: %s", out.String())
	}
	line := out.Bytes()[i+len("WRKJSON "):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	var w wrkOut
	if err := json.Unmarshal(line, &w); err != nil {
		return nil, nil, fmt.Errorf("wrk results %q: %w", line, err)
	}
	res := &loadResult{
		// wrk's requests are the answered ones (non-2xx included); its
		// socket errors and timeouts are exchanges that got no answer.
		Requests: w.Requests + w.Connect + w.Read + w.Write + w.Timeout,
		Errors:   w.Connect + w.Read + w.Write + w.Status + w.Timeout,
		Elapsed:  time.Duration(w.DurationUS) * time.Microsecond,
	}
	if res.Errors > 0 {
		res.FirstError = fmt.Sprintf("wrk errors: connect %d, read %d, write %d, non-2xx %d, timeout %d", w.Connect, w.Read, w.Write, w.Status, w.Timeout)
	}
	return res, &w, nil
}
