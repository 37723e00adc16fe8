package server

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"
)

// recordsTo is a slog handler that sends each record on a channel.
type recordsTo chan slog.Record

func (c recordsTo) Enabled(context.Context, slog.Level) bool      { return true }
func (c recordsTo) Handle(_ context.Context, r slog.Record) error { c <- r; return nil }
func (c recordsTo) WithAttrs([]slog.Attr) slog.Handler            { return c }
func (c recordsTo) WithGroup(string) slog.Handler                 { return c }

// A start while PostgreSQL is away tries again after 1 s, 2 s, 4 s, then
// every 10 s, as the README and the store_wait key say; it waited 8 s
// before the fourth retry.
func TestOpenStoreWaiting_Pauses(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 7 s")
	}
	// A listener that closes each connection at once, as a server that is
	// not up yet (a proxy in front of it, or one going down) does; held
	// for the whole test, so no other process can take its port, as one
	// could a port closed to get "connection refused".
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	recs := make(recordsTo, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := openStoreWaiting(ctx, "postgres://sluice@"+addr+"/sluice?sslmode=disable&connect_timeout=2", time.Minute, slog.New(recs), nil, nil)
		done <- err
	}()
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 10 * time.Second}
	for i, w := range want {
		select {
		case r := <-recs:
			var got time.Duration
			r.Attrs(func(a slog.Attr) bool {
				if a.Key == "retry_in" {
					got = a.Value.Duration()
				}
				return true
			})
			if got != w {
				t.Errorf("try %d: retry_in %v, want %v", i+1, got, w)
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no log of try %d", i+1)
		}
	}
	cancel()
	if err := <-done; err == nil {
		t.Error("openStoreWaiting ended without an error when its context ended")
	}
}
