package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDemo_FramesSayHowToLook: the README sends a user to the dashboard
// at "the gateway address [the demo] prints, followed by /ui, with the
// admin token it prints"; the demo printed both once, on stderr, and in a
// terminal its live view cleared the screen a second later, so neither
// could be read. Every live frame now carries the dashboard's address and
// the CLI's SLUICE_SERVER and SLUICE_TOKEN for this run; the last frame,
// drawn as the gateway stops, does not.
func TestDemo_FramesSayHowToLook(t *testing.T) {
	bin, err := sluiceBin.Path()
	if err != nil {
		t.Fatal(err)
	}
	// No timing: it waits for the first live frame (in a pipe, every
	// fifth second's), written in one piece, then stops the demo as
	// Ctrl-C does. A fixed --duration of 7 s left a loaded machine two
	// seconds for the demo's setup and late ticks before that frame.
	cmd := exec.Command(bin, "demo", "--duration", "10m", "--rate", "20")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var outb strings.Builder
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	for live := false; sc.Scan(); {
		outb.WriteString(sc.Text() + "\n")
		if !live && strings.HasPrefix(sc.Text(), "Sluice demo — ") {
			live = true // a frame is written at once: the first is out
			if err := cmd.Process.Signal(os.Interrupt); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	out := outb.String()
	if err != nil {
		t.Fatalf("sluice demo: %v\n%s\n%s", err, tail(stderr.String(), 20), tail(out, 40))
	}
	m := regexp.MustCompile(`gateway at (http://127\.0\.0\.1:\d+) \(admin token for this run: (slk_\S+)\)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no gateway address and token on stderr:\n%s", stderr.String())
	}
	url, secret := m[1], m[2]
	frames := strings.Split(out, "Sluice demo — ")[1:]
	if len(frames) < 2 {
		t.Fatalf("want a live frame and the last one, got %d:\n%s", len(frames), tail(out, 40))
	}
	live, last := frames[0], frames[len(frames)-1]
	for _, want := range []string{"Dashboard: " + url + "/ui", "export SLUICE_SERVER=" + url + " SLUICE_TOKEN=" + secret} {
		if !strings.Contains(live, want) {
			t.Errorf("a live frame lacks %q:\n%s", want, tail(live, 60))
		}
	}
	if strings.Contains(last, secret) {
		t.Errorf("the last frame, drawn as the gateway stops, still sends the user to it:\n%s", tail(last, 60))
	}
}
