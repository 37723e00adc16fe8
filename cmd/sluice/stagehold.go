package main

import "github.com/sluicehq/sluice"

// noHoldNote says which stages of a model file's rollout: section have no
// hold, and what that means, or "" when each has one. A stage written
// without hold gets none (RolloutStage.Hold's zero), where sluice rollout
// start --stages gives each 5m unless --hold says otherwise: a user who
// wrote stages: [{percent: 20}] expecting the CLI's stage saw it pass in
// one analysis. The default is not changed, since GitOps files already
// applied rely on it (a stage may wait on its sample alone by design);
// sluice apply, apply --dry-run and plan -f say it instead. The last stage
// at 100% is the promotion and holds nothing either way.
func noHoldNote(spec *sluice.RolloutSpec) string { return sluice.NoHoldWarning(spec) }
