package bench

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// 100 on every Linux this runs on.
const clockTicks = 100

// cpuTime returns the user plus system CPU time the processes have used.
func cpuTime(pids []int) time.Duration {
	var ticks int64
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			continue
		}
		// The command may hold spaces; the fields after it are plain.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		// f[0] is field 3 (state); utime and stime are fields 14 and 15.
		if len(f) > 13 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			s, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + s
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks
}

// memory returns the memory of a gateway's processes, in bytes: the
// resident memory of a single process (what the RSS target is about), and
// for several (nginx's master and workers) the sum of their proportional
// set sizes, which counts each page they share once in all: their RSS
// would count the shared pages once per process (nginx's 23.9 MiB of RSS
// were 12.5 MiB of PSS). RSS is the fallback where smaps_rollup cannot be
// read.
func memory(pids []int) int64 {
	if len(pids) > 1 {
		if v, ok := pss(pids); ok {
			return v
		}
	}
	return rss(pids)
}

// pss returns the sum of the processes' proportional set sizes, in bytes,
// from /proc/PID/smaps_rollup; ok is false when one cannot be read.
func pss(pids []int) (total int64, ok bool) {
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
		if err != nil {
			return 0, false
		}
		found := false
		for line := range strings.Lines(string(b)) {
			if rest, has := strings.CutPrefix(line, "Pss:"); has {
				f := strings.Fields(rest)
				if len(f) == 2 && f[1] == "kB" {
					kb, err := strconv.ParseInt(f[0], 10, 64)
					if err == nil {
						total += kb << 10
						found = true
					}
				}
				break
			}
		}
		if !found {
			return 0, false
		}
	}
	return total, true
}

// rss returns the resident memory of the processes, in bytes.
func rss(pids []int) int64 {
	var total int64
	page := int64(os.Getpagesize())
	for _, pid := range pids {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/statm")
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) > 1 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			total += n * page
		}
	}
	return total
}

// children returns the pids whose parent is pid (nginx's workers).
func children(pid int) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			if c, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// rssSampler keeps the peak memory (see memory) of a set of processes
// while a cell runs.
type rssSampler struct {
	pids []int
	stop chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak int64
}

func sampleRSS(pids []int) *rssSampler {
	s := &rssSampler{pids: pids, stop: make(chan struct{})}
	if len(pids) == 0 {
		return s
	}
	s.wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			v := memory(s.pids)
			s.mu.Lock()
			s.peak = max(s.peak, v)
			s.mu.Unlock()
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	})
	return s
}

// done stops sampling and returns the peak.
func (s *rssSampler) done() int64 {
	close(s.stop)
	s.wg.Wait()
	if len(s.pids) > 0 {
		s.peak = max(s.peak, memory(s.pids))
	}
	return s.peak
}

// loadAvg returns the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// loadAvgs returns the 1, 5 and 15-minute load averages as /proc shows them.
func loadAvgs() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Machine describes where a run happened.
type Machine struct {
	CPUs     int    `json:"cpus"`
	Model    string `json:"cpu_model"`
	MemoryMB int64  `json:"memory_mib"`
	Kernel   string `json:"kernel"`
	Go       string `json:"go"`
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				m.MemoryMB = kb / 1024
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// machineTicks returns the machine's CPU time since boot from /proc/stat,
// in USER_HZ ticks summed over all CPUs: busy (not idle or waiting for I/O)
// and in all; ok is false where /proc/stat cannot be read.
func machineTicks() (busy, total int64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	return parseCPUStat(b)
}

// parseCPUStat reads the first ("cpu ") line of /proc/stat: user nice
// system idle iowait irq softirq steal (guest time is inside user). Steal,
// time the hypervisor gave another VM, counts as busy: the machine's cores
// were not free for the run.
func parseCPUStat(b []byte) (busy, total int64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	var idle int64
	for i, v := range f[1:min(len(f), 9)] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, false
		}
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total - idle, total, total > 0
}

// busyShare is the share of the machine's CPU time that was busy between
// two machineTicks readings, in percent; -1 when unknown.
func busyShare(b0, t0, b1, t1 int64) float64 {
	if t1 <= t0 {
		return -1
	}
	return 100 * float64(b1-b0) / float64(t1-t0)
}
