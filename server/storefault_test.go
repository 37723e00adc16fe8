//go:build linux

package server_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/internal/fsattr"
	"github.com/sluicehq/sluice/server"
)

// storeOutage checks a gateway through a store outage that outage starts
// and returns a function ending: the data plane keeps serving from its
// snapshot, a change fails with a clear error naming wantErr and leaves
// nothing behind (registry revision, routing and audit as before), and once
// the outage ends the same change succeeds and every request is in the
// request log.
func storeOutage(t *testing.T, gw *server.Server, admin string, wantErr string, outage func() (end func())) {
	t.Helper()
	ctx := context.Background()
	cl := api.NewClient(gw.AdminURL(), admin)
	before := gw.Control.Registry()
	auditBefore, err := gw.Store.Audit(ctx, sluice.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	serve := func(n int) {
		for i := 0; i < n; i++ {
			resp, e := postRead(t, nil, gw.URL(), `{"model":"chat","messages":[]}`, map[string]string{"X-User-Id": "u" + itoa(i)})
			if resp.StatusCode != 200 {
				t.Fatalf("data plane during the outage: %d %s", resp.StatusCode, e.Error.Message)
			}
			sent++
		}
	}
	serve(20)
	end := outage()
	defer func() {
		if end != nil {
			end()
		}
	}()
	serve(50)
	split := []sluice.Weight{{Version: "v1.0.0", Percent: 70}, {Version: "v1.1.0", Percent: 30}}
	var changeErr error
	for try := 0; try < 5 && changeErr == nil; try++ {
		// A full disk may still have room in the WAL for a small change:
		// retry until the store refuses.
		_, changeErr = cl.SetSplit(ctx, "chat", split, "", "during the outage")
		if changeErr == nil {
			split[0].Percent--
			split[1].Percent++
			before = gw.Control.Registry()
			auditBefore, _ = gw.Store.Audit(ctx, sluice.AuditQuery{})
		}
	}
	if sluice.ErrorCode(changeErr) != sluice.CodeUnavailable || !strings.Contains(sluice.ErrorMessage(changeErr), wantErr) {
		t.Fatalf("change during the outage: %v, want a 503 saying %q", changeErr, wantErr)
	}
	serve(50)
	// Nothing half-applied: the routing served and the registry held are
	// the ones from before the failed change.
	if after := gw.Control.Registry(); after.Revision != before.Revision || after.Models["chat"].Policy.String() != before.Models["chat"].Policy.String() {
		t.Fatalf("a failed change moved the registry: revision %d → %d, policy %s → %s", before.Revision, after.Revision, before.Models["chat"].Policy, after.Models["chat"].Policy)
	}
	end()
	end = nil
	if _, err := cl.SetSplit(ctx, "chat", split, "", "after the outage"); err != nil {
		t.Fatalf("the same change after the outage: %v", err)
	}
	stored, err := gw.Store.LoadRegistry(ctx)
	if err != nil || stored.Revision != before.Revision+1 {
		t.Fatalf("stored revision %v (%v), want %d: exactly the one successful change", stored.Revision, err, before.Revision+1)
	}
	auditAfter, _ := gw.Store.Audit(ctx, sluice.AuditQuery{})
	if len(auditAfter) != len(auditBefore)+1 || auditAfter[0].Reason != "after the outage" || auditAfter[0].Actor != "test-admin" {
		t.Fatalf("audit grew by %d (newest %+v), want exactly the successful change by its actor", len(auditAfter)-len(auditBefore), auditAfter[0])
	}
	// Every request of the outage reaches the request log once the store
	// is back (the log retries its batches).
	waitFor(t, "the request log to catch up", 30*time.Second, func() bool {
		counts, err := gw.Store.CountRequests(ctx, sluice.RequestQuery{Model: "chat"})
		var n int64
		for _, c := range counts {
			n += c.Count
		}
		return err == nil && n == int64(sent)
	})
}

func outageDoc(b1, b2 *fakellm.Server) sluice.ApplyDoc {
	return chatDoc(map[string]string{"v1.0.0": b1.URL(), "v1.1.0": b2.URL()}, []sluice.Weight{{Version: "v1.0.0", Percent: 90}, {Version: "v1.1.0", Percent: 10}}, map[string]string{"stable": "v1.0.0"})
}

// TestStore_Unavailable runs the gateway through store outages: the SQLite
// file locked by another connection, made read-only (immutable) under the
// running gateway, and a full disk (a small tmpfs, where this test may
// mount one).
func TestStore_Unavailable(t *testing.T) {
	b1 := MustBackend(t, fakellm.Config{})
	b2 := MustBackend(t, fakellm.Config{})
	fastLog := func(c *config.Gateway) {
		c.RequestLog.FlushInterval = 50 * time.Millisecond
	}

	t.Run("Locked", func(t *testing.T) {
		gw, admin := mustGatewayWith(t, fastLog, nil, outageDoc(b1, b2))
		storeOutage(t, gw, admin, "locked", func() func() {
			// Wait for the gateway's own writes (the request log) to let go.
			db, err := sql.Open("sqlite", gw.Config.Store+"?_pragma=busy_timeout(10000)")
			if err != nil {
				t.Fatal(err)
			}
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(context.Background(), "BEGIN IMMEDIATE"); err != nil {
				t.Fatal(err)
			}
			return func() {
				conn.ExecContext(context.Background(), "ROLLBACK")
				conn.Close()
				db.Close()
			}
		})
	})

	t.Run("ReadOnly", func(t *testing.T) {
		// chmod does not stop writes through descriptors already open (nor
		// root), so the file is made read-only the way that holds for
		// every open descriptor and for root: the immutable attribute
		// (chattr +i) on the database, its WAL and their directory.
		gw, admin := mustGatewayWith(t, fastLog, nil, outageDoc(b1, b2))
		dir := filepath.Dir(gw.Config.Store)
		files := []string{gw.Config.Store, gw.Config.Store + "-wal", dir}
		if err := setImmutable(dir, true); err != nil {
			t.Fatalf("cannot set the immutable attribute on %s (%v): this case needs CAP_LINUX_IMMUTABLE and a file system with chattr +i (ext4, xfs, btrfs)", dir, err)
		}
		setImmutable(dir, false)
		// Whatever happens, the files must be writable again before the
		// gateway shuts down (which flushes the request log) and the temp
		// dir is removed.
		t.Cleanup(func() {
			for _, f := range files {
				setImmutable(f, false)
			}
		})
		storeOutage(t, gw, admin, "read-only", func() func() {
			for _, f := range files {
				if err := setImmutable(f, true); err != nil {
					t.Fatalf("chattr +i %s: %v", f, err)
				}
			}
			// The gateway still holds the file open read-write: prove the
			// attribute stops writes through such a descriptor.
			fd, err := os.OpenFile(gw.Config.Store, os.O_RDWR, 0)
			if err == nil {
				fd.Close()
				t.Fatalf("the store file opens for writing while immutable")
			}
			return func() {
				for _, f := range files {
					if err := setImmutable(f, false); err != nil {
						t.Errorf("chattr -i %s: %v", f, err)
					}
				}
			}
		})
	})

	t.Run("DiskFull", func(t *testing.T) {
		dir := t.TempDir()
		if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
			t.Fatalf("cannot mount a tmpfs to fill (%v): this case needs root with CAP_SYS_ADMIN", err)
		}
		t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) }) // after the gateway stops
		gw, admin := mustGatewayWith(t, func(c *config.Gateway) {
			fastLog(c)
			c.Store = filepath.Join(dir, "sluice.db")
		}, nil, outageDoc(b1, b2))
		storeOutage(t, gw, admin, "disk is full", func() func() {
			filler := filepath.Join(dir, "filler")
			f, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 64<<10)
			for {
				if _, err := f.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling the disk: %v", err)
					}
					break
				}
			}
			// The last bytes: page by page.
			for {
				if _, err := f.Write(chunk[:512]); err != nil {
					break
				}
			}
			f.Close()
			return func() { os.Remove(filler) }
		})
	})
}

// setImmutable sets or clears the immutable attribute of path (chattr +i /
// -i).
func setImmutable(path string, on bool) error { return fsattr.SetImmutable(path, on) }
