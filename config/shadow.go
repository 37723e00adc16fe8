package config

import "fmt"

// DefaultShadowPairsKept is shadow.pairs_kept when the key is left out. It
// is proxy.DefaultShadowPairs (config imports no adapter; a server test
// keeps the two equal).
const DefaultShadowPairsKept = 500

// maxShadowPairsKept bounds shadow.pairs_kept: a pair holds up to about
// 10 KB (a prompt of 4,000 bytes, two answers of 1,000, and their tool
// calls: 1,000 bytes of arguments and 16 names of 64 a side), so the bound
// is some 1 GB, far past the gateway's usual memory.
const maxShadowPairsKept = 100_000

// Shadow configures what the gateway keeps of shadow runs.
type Shadow struct {
	// PairsKept is how many answer pairs of shadow runs (the live answer
	// and the candidate's, with the prompt) each gateway process keeps in
	// memory, the newest across models, for the dashboard, the admin API
	// and `sluice rollout pairs`; the oldest go first. On PostgreSQL with
	// StorePairs, also how many the store keeps, across models and
	// replicas. Up to about 10 KB each; default DefaultShadowPairsKept
	// (about 5 MB when full).
	PairsKept *int `yaml:"pairs_kept"`
	// StorePairs, on a shared store (PostgreSQL), keeps the pairs there,
	// prompts and answer texts included, so that every replica lists the
	// whole fleet's (the newest PairsKept across models); false keeps them
	// in each process's memory only, as on SQLite, where it is not read.
	// Default true.
	StorePairs *bool `yaml:"store_pairs"`
}

func (s *Shadow) setDefaults() {
	if s.PairsKept == nil {
		n := DefaultShadowPairsKept
		s.PairsKept = &n
	}
	if s.StorePairs == nil {
		t := true
		s.StorePairs = &t
	}
}

func (s *Shadow) validate() error {
	if s.PairsKept == nil {
		return nil // Validate before setDefaults: the default
	}
	if n := *s.PairsKept; n < 1 || n > maxShadowPairsKept {
		return fmt.Errorf("shadow.pairs_kept: %d must be between 1 and %d (each pair takes up to about 10 KB of memory); leave the key out for the default %d", n, maxShadowPairsKept, DefaultShadowPairsKept)
	}
	return nil
}
