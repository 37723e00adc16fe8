package bench

import (
	"strings"
	"testing"
)

func TestParseCPUStat(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 800 20 3 7 15 0 0\ncpu0 50 2 25 400 10 1 3 8 0 0\nintr 1 2 3\n"
	busy, total, ok := parseCPUStat([]byte(stat))
	if !ok || total != 1000 || busy != 180 {
		t.Fatalf("parseCPUStat = %d busy of %d, %v; want 180 of 1000 (idle and iowait out, steal in)", busy, total, ok)
	}
	// An older kernel's line without steal.
	if busy, total, ok := parseCPUStat([]byte("cpu 10 0 10 80 0\n")); !ok || busy != 20 || total != 100 {
		t.Errorf("short line: %d of %d, %v; want 20 of 100", busy, total, ok)
	}
	for _, bad := range []string{"", "intr 1 2\n", "cpu 1 2\n", "cpu a b c d e\n"} {
		if _, _, ok := parseCPUStat([]byte(bad)); ok {
			t.Errorf("parseCPUStat(%q) ok; want not", bad)
		}
	}
	if got := busyShare(100, 1000, 280, 1200); got != 90 {
		t.Errorf("busyShare = %v; want 90", got)
	}
	if got := busyShare(100, 1000, 100, 1000); got != -1 {
		t.Errorf("busyShare with no time passed = %v; want -1", got)
	}
}

// A round's machine use reaches the cell (the mean of the rounds that ran)
// and the half-saturation table; a round whose reading failed is left out,
// and results from before the column show a dash.
func TestCell_MachineBusy(t *testing.T) {
	rounds := []round{
		{res: &loadResult{Requests: 10}, busy: 80, load: 1},
		{res: &loadResult{Requests: 10}, busy: 90, load: 1},
		{res: &loadResult{Requests: 10}, busy: -1, load: 1},
		{busy: 50, load: 1}, // the round did not run
	}
	c := cell(Stream, Sluice, 0, 1850, rounds, "go open loop")
	if c.MachineBusyPct != 85 {
		t.Fatalf("MachineBusyPct = %v; want 85, the mean of the rounds measured", c.MachineBusyPct)
	}
	old := c
	old.MachineBusyPct = 0
	r := &Results{HalfSat: []Cell{c, old}}
	md := r.Markdown()
	rows := 0
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "| stream | sluice |") {
			continue
		}
		rows++
		cols := strings.Split(line, " | ")
		// ... | CPU/req | machine | load |
		got := cols[len(cols)-2]
		if rows == 1 && got != "85%" || rows == 2 && got != "—" {
			t.Errorf("row %d machine column = %q in %q", rows, got, line)
		}
	}
	if rows != 2 {
		t.Fatalf("found %d half-saturation rows in:\n%s", rows, md)
	}
}

// machineTicks reads this machine's /proc/stat: busy time is part of the
// total and both grow.
func TestMachineTicks_ThisMachine(t *testing.T) {
	b0, t0, ok := machineTicks()
	if !ok {
		t.Fatal("machineTicks could not read /proc/stat")
	}
	if b0 <= 0 || b0 > t0 {
		t.Fatalf("busy %d of %d", b0, t0)
	}
}
