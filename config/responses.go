package config

import "fmt"

// DefaultRememberIDs is responses.remember_ids when the key is left out.
// It is proxy.DefaultResponseIDs (config imports no adapter; a server test
// keeps the two equal).
const DefaultRememberIDs = 100_000

// Responses configures the Responses API (/v1/responses).
type Responses struct {
	// RememberIDs is how many of the latest response ids the gateway
	// remembers the version and endpoint of, so that a request that
	// continues a response (previous_response_id) and the by-id endpoints
	// (GET /v1/responses/{id}, ...) reach the backend that keeps it; the
	// oldest are forgotten first. About 150 bytes each, taken only as
	// responses come; default DefaultRememberIDs (about 15 MB). It cannot
	// be 0: without the memory a conversation continued during a split
	// lands on a version that does not hold it (a 404 from the backend),
	// and a gateway that serves no Responses request pays nothing for it.
	RememberIDs *int `yaml:"remember_ids"`
}

func (r *Responses) setDefaults() {
	if r.RememberIDs == nil {
		n := DefaultRememberIDs
		r.RememberIDs = &n
	}
}

func (r *Responses) validate() error {
	if r.RememberIDs == nil {
		return nil // Validate before setDefaults: the default
	}
	if n := *r.RememberIDs; n < 1 {
		return fmt.Errorf("responses.remember_ids: %d must be at least 1 (the memory cannot be turned off: a conversation continued with previous_response_id needs it to reach the version that holds it, and it costs nothing until responses come); leave the key out for the default %d", n, DefaultRememberIDs)
	}
	return nil
}
