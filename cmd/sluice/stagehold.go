package main

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice"
)

// noHoldNote says which stages of a model file's rollout: section have no
// hold, and what that means, or "" when each has one. A stage written
// without hold gets none (RolloutStage.Hold's zero), where sluice rollout
// start --stages gives each 5m unless --hold says otherwise: a user who
// wrote stages: [{percent: 20}] expecting the CLI's stage saw it pass in
// one analysis. The default is not changed, since GitOps files already
// applied rely on it (a stage may wait on its sample alone by design);
// sluice apply, apply --dry-run and plan -f say it instead. The last stage
// at 100% is the promotion and holds nothing either way.
func noHoldNote(spec *sluice.RolloutSpec) string {
	if spec == nil {
		return ""
	}
	var which []string
	for i, s := range spec.Stages {
		if s.Hold == 0 && s.Percent < 100 {
			which = append(which, fmt.Sprintf("%d (%s%%)", i+1, sluice.FormatPercent(s.Percent)))
		}
	}
	switch len(which) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("stage %s has no hold: it moves on as soon as the analysis passes and the stage has its min_samples (default 100), however short the time; write hold: 5m on it to hold it as sluice rollout start --stages does by default", which[0])
	}
	return fmt.Sprintf("stages %s and %s have no hold: each moves on as soon as the analysis passes and the stage has its min_samples (default 100), however short the time; write hold: 5m on each to hold it as sluice rollout start --stages does by default", strings.Join(which[:len(which)-1], ", "), which[len(which)-1])
}
