package bench

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// What the user does: reads the bench's peak RSS for nginx, a master and
// two workers that share most of their pages.
// What must happen: the processes' shared pages count once (their PSS
// summed), not once per process (their RSS summed), which made nginx look
// twice its size; a single process is still measured by its RSS, as the
// target says.
func TestMemory_SharedPagesCountedOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes; skipped under -short")
	}
	var pids []int
	for range 3 {
		cmd := exec.Command("sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		pids = append(pids, cmd.Process.Pid)
	}
	time.Sleep(100 * time.Millisecond) // past exec
	if _, err := os.Stat("/proc/self/smaps_rollup"); err != nil {
		t.Fatalf("this kernel has no smaps_rollup (Linux 4.14+): %v", err)
	}
	sumRSS, sumPSS := rss(pids), memory(pids)
	if sumPSS <= 0 || sumPSS >= sumRSS {
		t.Fatalf("three sleeps sharing their pages: PSS sum %d, RSS sum %d; want the PSS sum below the RSS sum", sumPSS, sumRSS)
	}
	if one := memory(pids[:1]); one != rss(pids[:1]) {
		t.Fatalf("one process: memory %d, want its RSS %d", one, rss(pids[:1]))
	}
	t.Logf("3 processes: RSS summed %d KiB, PSS summed %d KiB", sumRSS>>10, sumPSS>>10)
}
