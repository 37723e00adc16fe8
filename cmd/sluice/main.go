// Command sluice is the Sluice gateway and its command-line client: `sluice
// serve` runs the gateway, `sluice demo` shows it working, and the other
// subcommands talk to a running gateway's admin API.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
