package bench

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// The npm project that pins the Portkey gateway, copied into the node
// directory when it has none (a sluice binary run outside the repository).
var (
	//go:embed package.json
	packageJSON []byte
	//go:embed package-lock.json
	packageLock []byte
)

// installer installs the tools a run needs, once each.
type installer struct {
	log        io.Writer
	allow      bool // may run apt-get and npm
	aptUpdated bool
}

// ensureCommand makes sure a command is on PATH, installing the Debian
// package that has it when allowed.
func (in *installer) ensureCommand(ctx context.Context, command, pkg string) error {
	if _, err := exec.LookPath(command); err == nil {
		return nil
	}
	if !in.allow {
		return fmt.Errorf("%s is not installed (apt-get install -y %s, or run without --no-install)", command, pkg)
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return fmt.Errorf("%s is not installed and there is no apt-get to install it: install %s", command, pkg)
	}
	if !in.aptUpdated {
		fmt.Fprintln(in.log, "installing: apt-get update")
		if err := in.run(ctx, "", "apt-get", "update", "-qq"); err != nil {
			return fmt.Errorf("apt-get update: %w", err)
		}
		in.aptUpdated = true
	}
	fmt.Fprintf(in.log, "installing: apt-get install -y %s\n", pkg)
	if err := in.run(ctx, "", "apt-get", "install", "-y", "-qq", pkg); err != nil {
		return fmt.Errorf("apt-get install %s: %w", pkg, err)
	}
	if _, err := exec.LookPath(command); err != nil {
		return fmt.Errorf("%s is still not on PATH after installing %s", command, pkg)
	}
	return nil
}

// ensurePortkey installs the pinned Portkey gateway into dir with npm.
func (in *installer) ensurePortkey(ctx context.Context, dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js")); err == nil {
		return nil
	}
	if err := in.ensureCommand(ctx, "node", "nodejs"); err != nil {
		return err
	}
	if err := in.ensureCommand(ctx, "npm", "npm"); err != nil {
		return err
	}
	if !in.allow {
		return fmt.Errorf("portkey is not installed in %s (run npm ci there, or run without --no-install)", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, b := range map[string][]byte{"package.json": packageJSON, "package-lock.json": packageLock} {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); os.IsNotExist(err) {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(in.log, "installing: npm ci in %s (@portkey-ai/gateway %s)\n", dir, PortkeyVersion)
	if err := in.run(ctx, dir, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"); err != nil {
		return fmt.Errorf("npm ci in %s: %w", dir, err)
	}
	return nil
}

func (in *installer) run(ctx context.Context, dir, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if len(out) > 2000 {
			out = out[len(out)-2000:]
		}
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}
