package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// What the user does: gives admin_listen the port listen has, spelled with
// another host (listen: 127.0.0.1:PORT, admin_listen: localhost:PORT or
// 0.0.0.0:PORT), which the config's check of the two strings lets through.
// What must happen: the start is refused, saying this gateway's own listen
// holds the port and what to write. It said "another process is using the
// port; stop it", and the user went looking for a process that was this
// one.
func TestServe_AdminListenOnListensPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	for _, host := range []string{"localhost", "0.0.0.0"} {
		dir := t.TempDir()
		admin := net.JoinHostPort(host, strconv.Itoa(port))
		cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:"+strconv.Itoa(port)+"\nadmin_listen: "+admin+"\nstore: "+filepath.Join(dir, "s.db")+"\n")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var out, stderr strings.Builder
		code := Main(ctx, []string{"serve", "-c", cfg}, strings.NewReader(""), &out, &stderr)
		stopped := ctx.Err() != nil
		cancel()
		if stopped {
			t.Fatalf("serve with admin_listen %s ran until the test stopped it; stderr:\n%s", admin, stderr.String())
		}
		want := "admin_listen " + admin + ": the port is this gateway's own listen (127.0.0.1:" + strconv.Itoa(port) + "): give admin_listen a port of its own, or leave it out to serve the admin API on listen"
		if code == 0 || !strings.Contains(stderr.String(), want) || strings.Contains(stderr.String(), "another process") {
			t.Errorf("serve with admin_listen %s: exit %d, stderr %q; want %q", admin, code, stderr.String(), want)
		}
	}
}

// What the user does: gives admin_listen listen's port on another address
// (listen: 127.0.0.1:PORT, admin_listen: 127.0.0.2:PORT, which the kernel
// lets both bind), where another process holds admin_listen's address.
// What must happen: the refusal says another process holds it, as it is
// so; not that this gateway's own listen does, which it does not.
func TestServe_AdminListenHeldElsewhereOnListensPort(t *testing.T) {
	other, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		if testing.Short() {
			t.Skipf("no 127.0.0.2 to listen on: %v", err)
		}
		t.Fatal(err)
	}
	defer other.Close()
	port := strconv.Itoa(other.Addr().(*net.TCPAddr).Port)
	dir := t.TempDir()
	cfg := gatewayConfig(t, dir, "listen: 127.0.0.1:"+port+"\nadmin_listen: 127.0.0.2:"+port+"\nstore: "+filepath.Join(dir, "s.db")+"\n")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out, stderr strings.Builder
	code := Main(ctx, []string{"serve", "-c", cfg}, strings.NewReader(""), &out, &stderr)
	if ctx.Err() != nil {
		t.Fatalf("serve ran until the test stopped it; stderr:\n%s", stderr.String())
	}
	if code == 0 || !strings.Contains(stderr.String(), "another process is using the port") || strings.Contains(stderr.String(), "this gateway's own listen") {
		t.Errorf("serve with admin_listen 127.0.0.2:%s held by another process: exit %d, stderr %q; want it said another process uses the port", port, code, stderr.String())
	}
}

// What the user does: names the config file as an argument, sluice serve
// sluice.yaml, forgetting -c.
// What must happen: the error says serve takes the file with -c, and
// nothing starts. It said `unknown command "sluice.yaml" for "sluice
// serve"`.
func TestServe_ConfigAsArgumentSaysDashC(t *testing.T) {
	_, stderr, code := run(t, "serve", "sluice.yaml")
	want := "sluice serve takes no arguments: pass the config file with -c, sluice serve -c sluice.yaml"
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("serve sluice.yaml: exit %d, stderr %q; want %q", code, stderr, want)
	}
	_, stderr, code = run(t, "serve", "now")
	if want := `sluice serve takes no arguments (got "now"): its settings are flags and the config file (sluice serve --help)`; code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("serve now: exit %d, stderr %q; want %q", code, stderr, want)
	}
}
