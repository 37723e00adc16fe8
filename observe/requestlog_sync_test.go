package observe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

// TestRequestLog_Sync: Sync returns once the rows enqueued before it are
// written, without waiting for the flush interval (an hour here) or a full
// batch; while the store hangs it waits, and gives up with its context;
// on a closed log it returns at once.
func TestRequestLog_Sync(t *testing.T) {
	st := &memStore{}
	opt := quiet()
	opt.BatchSize = 100
	l := observe.NewRequestLog(st, opt)
	defer l.Close(context.Background())

	for i := range 3 {
		l.Enqueue(row(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.written(); n != 3 {
		t.Fatalf("after Sync, %d rows written, want the 3 enqueued before it", n)
	}
	if err := l.Sync(ctx); err != nil { // nothing new: at once
		t.Fatal(err)
	}

	block := make(chan struct{})
	st.mu.Lock()
	st.block = block
	st.mu.Unlock()
	l.Enqueue(row(3))
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if err := l.Sync(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Sync with the store hanging: %v, want its context's deadline", err)
	}
	close(block)
	if err := l.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if n := st.written(); n != 4 {
		t.Fatalf("after the store came back and Sync, %d rows written, want 4", n)
	}

	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Sync(ctx); err != nil {
		t.Fatalf("Sync on a closed log: %v", err)
	}
}
