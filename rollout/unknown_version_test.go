package rollout_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// What the user does: sluice rollout start chat --to 1.1.0 (the tag is
// v1.1.0), or --from a tag that is not there.
// What must happen: the error names the model's versions, as the data
// plane's 404 for an unknown pin does; it said only "register it with
// sluice apply -f first", sending the user to register a version that
// was there under another spelling.
func TestController_UnknownVersionNamesTheModelsVersions(t *testing.T) {
	ctx := context.Background()
	clock := &rvClock{now: time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)}
	st := rvStore(t, filepath.Join(t.TempDir(), "s.db"))
	ctl := rvChat(t, st, clock.Now, true)
	c := rvController(rollout.Options{Control: ctl, Now: clock.Now})
	t.Cleanup(c.Wait)
	for _, spec := range []sluice.RolloutSpec{
		{Model: "chat", Candidate: "2"},
		{Model: "chat", Candidate: "v2", Baseline: "1"},
	} {
		_, err := c.Start(ctx, "alice", "ship", spec)
		var se *sluice.Error
		if err == nil || !errors.As(err, &se) || se.Code != sluice.CodeNotFound || !strings.Contains(se.Message, "chat has v1, v2") {
			t.Errorf("Start(%+v) = %v, want not found naming chat's versions (chat has v1, v2)", spec, err)
		}
	}
}
