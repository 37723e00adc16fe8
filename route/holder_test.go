package route

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestHolder_Swap swaps tables while requests decide; run it with -race.
func TestHolder_Swap(t *testing.T) {
	toV1 := Build(MustSplit(t, "", 100, 0), nil, Options{})
	toV2 := Build(MustSplit(t, "", 0, 100), nil, Options{})
	h := NewHolder(toV1)

	var stop atomic.Bool
	var wg sync.WaitGroup
	var seen [2]atomic.Int64
	errs := make(chan error, 4)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				r := Request{Model: "chat", StickyKey: user(g*1_000_000 + i)}
				d, err := h.Decide(&r)
				if err != nil {
					errs <- err
					return
				}
				switch d.Target.ID {
				case "chat:v1":
					seen[0].Add(1)
				case "chat:v2":
					seen[1].Add(1)
				default:
					t.Errorf("decided %s", d.Target.ID)
					return
				}
				d.Target.Endpoint()
				if i%64 == 0 {
					// Four readers on two cores would otherwise starve the
					// swapper until the scheduler preempts them.
					runtime.Gosched()
				}
			}
		})
	}
	total := func() int64 { return seen[0].Load() + seen[1].Load() }
	deadline := time.Now().Add(10 * time.Second)
	for i := range 400 {
		if i%2 == 0 {
			h.Store(toV2)
		} else {
			h.Store(toV1)
		}
		// Let the readers decide a few requests with each table.
		for start := total(); total() < start+10 && time.Now().Before(deadline); {
			runtime.Gosched()
		}
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if seen[0].Load() == 0 || seen[1].Load() == 0 {
		t.Errorf("decisions per version = %d, %d; want both tables to have served", seen[0].Load(), seen[1].Load())
	}
	if h.Load() != toV1 {
		t.Errorf("Load returned a table other than the last stored")
	}
}

func TestHolder_Load(t *testing.T) {
	var h Holder
	if h.Load() != nil {
		t.Fatal("the zero Holder holds a table")
	}
	if _, err := h.Decide(&Request{Model: "chat"}); err == nil {
		t.Fatal("Decide with no table succeeded")
	}
}
