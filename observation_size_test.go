package sluice_test

import (
	"testing"
	"unsafe"

	"github.com/sluicehq/sluice"
)

// TestObservation_Size: the proxy allocates one Observation per request
// (it escapes in forward), so its size is the request path's bytes. 256
// is a size class of Go's allocator and the next is 288: adding Replica
// (a string, 16 bytes) to the struct as it was laid out, its booleans in
// three words, took it to 272 bytes, i.e. 32 bytes more a request
// (BenchmarkProxy_ServeHTTPKeyed's B/op rose by that). Keeping the seven
// booleans in one word holds it at 256 with the field.
func TestObservation_Size(t *testing.T) {
	const sizeClass = 256 // runtime/sizeclasses.go: ..., 240, 256, 288, ...
	if got := unsafe.Sizeof(sluice.Observation{}); got > sizeClass {
		t.Errorf("sluice.Observation is %d bytes, over the allocator's %d-byte size class (the next is 288): the proxy allocates one a request; keep its booleans together (or find the bytes elsewhere)", got, sizeClass)
	}
}
