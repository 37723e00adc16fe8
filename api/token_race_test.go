package api_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentTokenCreate: two admins creating a token of the same
// name at once must not both succeed. createToken checked for the name and
// then wrote with an upsert (INSERT ... ON CONFLICT DO UPDATE), so both
// requests could get 201 with different secrets: the first secret handed
// out silently stopped working and the audit log showed two creations. The
// store's PutToken now refuses a taken name, in the same transaction.
func TestConcurrentTokenCreate(t *testing.T) {
	e := MustEnv(t)
	for round := 0; round < 20; round++ {
		name := fmt.Sprintf("ci-%d", round)
		body := []byte(`{"name":"` + name + `","role":"viewer","reason":"ci"}`)
		var wg sync.WaitGroup
		var mu sync.Mutex
		created := 0
		start := make(chan struct{})
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				r := e.do(t, "POST", "/admin/v1/tokens", adminSecret, body)
				if r.Status == http.StatusCreated {
					mu.Lock()
					created++
					mu.Unlock()
				}
			}()
		}
		close(start)
		wg.Wait()
		if created != 1 {
			t.Fatalf("round %d: %d concurrent creations of token %s answered 201, want exactly 1 (the others 409)", round, created, name)
		}
	}
}
