package rollout

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestNext_PauseResumeSayWhatIsWrong: pausing a paused rollout answered
// "cannot pause rollout chat-1: it is paused: resume it first", as if the
// pause needed a resume, and resuming a rollout that is not paused gave no
// hint at all. Each now says what state it is in and what to do instead.
func TestNext_PauseResumeSayWhatIsWrong(t *testing.T) {
	live := func(t *testing.T) sluice.Rollout {
		r := mustStart(t, sluice.RolloutSpec{Strategy: sluice.StrategyCanary})
		r, _ = must(t, r, t0, Event{Kind: EvWarmed})
		return r
	}
	paused, _ := must(t, live(t), t0.Add(time.Minute), Event{Kind: EvPause})
	for _, c := range []struct {
		name string
		r    sluice.Rollout
		ev   EventKind
		want string
	}{
		{"ErrPausePaused", paused, EvPause, "it is already paused: resume it with sluice rollout resume chat --reason \"…\""},
		{"ErrResumeProgressing", live(t), EvResume, "it is progressing, not paused: there is nothing to resume"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Next(c.r, Event{Kind: c.ev}, t0.Add(2*time.Minute))
			if sluice.ErrorCode(err) != sluice.CodeConflict || !strings.Contains(sluice.ErrorMessage(err), c.want) {
				t.Errorf("err = %v, want %q", err, c.want)
			}
		})
	}
}
