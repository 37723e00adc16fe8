package sluice

// RolloutQuery selects a model's rollouts from the store, which keeps every
// rollout ever started, ended ones included (the registry holds only each
// model's latest).
type RolloutQuery struct {
	// Model is the model whose rollouts are read, in the order they were
	// last written (for one model's, the order they started); empty reads
	// every model's, newest started first.
	Model string
	// ID keeps only the rollout of this id (empty: every one).
	ID string
	// Before keeps only the rollouts written before the rollout of this id
	// (the last one of the page before), in the order read; empty starts
	// at the newest. A Before that names no rollout of Model (of any model
	// when Model is empty) is a CodeNotFound.
	Before string
	// Limit caps the result; 0 or less means no cap.
	Limit int
}

// ErrNoBefore is the error of a store asked for a page before q.Before
// that names no rollout of q.Model.
func (q RolloutQuery) ErrNoBefore() error {
	if q.Model == "" {
		return Errorf(CodeNotFound, "there is no rollout %s to page from: give the id of a rollout the history listed (the last one shown)", q.Before)
	}
	return Errorf(CodeNotFound, "model %s has no rollout %s to page from: give the id of a rollout its history listed (the last one shown)", q.Model, q.Before)
}
