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
