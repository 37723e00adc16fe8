package main

import (
	"strings"
	"testing"
	"time"
)

// What the user does: announces a version's retirement as the README's
// lifecycle suggests, by date: sluice stage chat:v1.1.0 deprecated
// --sunset 2099-12-31 (as token create --expires 2027-03-01 and a model
// file's sunset_at: 2099-12-31 take it).
// What must happen: the date is that day's start, UTC, and a time without
// a zone is UTC; only a value that is no time at all is refused, naming
// the forms taken. The flag took RFC 3339 alone and refused the date.
func TestCLI_StageSunsetTakesADate(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("stage", "chat:v1.2.0", "production", "--reason", "both released")...)
	for _, c := range []struct{ flag, want string }{
		{"2099-12-31", "2099-12-31T00:00:00Z"},
		{"2099-11-30T12:00", "2099-11-30T12:00:00Z"},
		{"2099-10-01T12:00:00+02:00", "2099-10-01T10:00:00Z"},
	} {
		mustRun(t, cmd("stage", "chat:v1.1.0", "deprecated", "--sunset", c.flag, "--reason", "superseded by v1.2.0")...)
		v := gw.Control.Registry().Versions["chat:v1.1.0"]
		if got := v.SunsetAt.UTC().Format(time.RFC3339); v.Stage != "deprecated" || got != c.want {
			t.Errorf("--sunset %s: v1.1.0 is %s with sunset %s, want deprecated with %s", c.flag, v.Stage, got, c.want)
		}
	}
	_, errOut, code := run(t, cmd("stage", "chat:v1.1.0", "deprecated", "--sunset", "next week", "--reason", "x")...)
	if code == 0 || !strings.Contains(errOut, `--sunset "next week"`) || !strings.Contains(errOut, "2027-03-01") || !strings.Contains(errOut, "T12:00:00Z") {
		t.Errorf("a sunset that is no time: exit %d, %q; want it refused naming the flag and the forms taken", code, errOut)
	}
}
