package main

import (
	"regexp"
	"strings"
	"testing"
)

// What the user does: runs sluice rollout drill and reads how long the
// candidate's traffic took to stop.
// What must happen: each figure says what it measures. The last step's
// time is its 200 check requests', one after another ("candidate traffic
// stops 7.861s" read as the time to stop, where the rollback's commit took
// 3.4 ms); its detail says so, and says where the first request after the
// rollback went and when it was answered.
func TestDrill_TimesSayWhatTheyMeasure(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	mustRun(t, cmd("set", "policy", "chat", "specific", "v1.1.0", "--reason", "pin before the drill")...)
	out := mustRun(t, cmd("rollout", "drill", "chat", "--to", "v1.2.0")...)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`candidate traffic stops +\S+ +0 of 200 check requests, sent one after another after the rollback \(at [^)]+\), reached chat:v1\.2\.0; the first, answered \S+ after the rollback's commit, went to chat:v1\.1\.0\. This step's time is the 200 requests', not the stop's: traffic left the candidate with the rollback's commit`),
		regexp.MustCompile(`\(times: each step's own; traffic leaves the candidate with the roll back step's commit, and the last step's time is its check requests', sent one after another\)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("the drill's output does not say what its times measure; want %s in:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "drill PASSED") {
		t.Errorf("the drill did not pass:\n%s", out)
	}
}
