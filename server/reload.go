package server

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/rollout"
)

// ReloadConfig reads the configuration file at path again, with over (the
// flags of `sluice serve`) applied, as SIGHUP does, and applies what a
// reload applies from it: the admin tokens, the client keys, the
// backends' headers, tracing and the rollouts' alert webhooks. Each ${file:PATH} in it is read again, so a key kept
// in a file (a Kubernetes Secret, a systemd credential) is rotated; each
// ${ENV} is the environment as it was at start. A file that does not load
// (a missing ${file:} among them) changes nothing; a part that does not
// apply keeps what is in force. Each failure is logged here, naming the
// key and never a value. It returns the file as read (nil when it did not
// load), for the caller's log level and restart check, the files its
// ${file:PATH} references name (those of a file that did not load too, so
// that a reference to a file not there yet is watched for: reload.watch),
// the state of each file it read as it read it (config.Fingerprint, the
// configuration file's too: what reload.watch compares with, so a change
// made after the read is still a change), and whether everything applied.
func (s *Server) ReloadConfig(ctx context.Context, path string, over config.Override) (ncfg *config.Gateway, files []string, states map[string]string, ok bool) {
	read, err := config.LoadGatewayOver(path, over)
	if err != nil {
		s.logger.Error("reload config: the file did not load, so nothing in it was applied: admin tokens unchanged, client keys unchanged, backend headers unchanged, tracing unchanged, alert webhooks unchanged, log.level unchanged, shutdown.drain unchanged (a reload applies these; other settings take a restart)", "err", err)
		return nil, read.Files, read.FileStates, false
	}
	ncfg = &read
	ok = true
	if err := s.Auth.SetStatic(ctx, ncfg.StaticTokens()); err != nil {
		s.logger.Error("reload admin tokens: tokens unchanged", "err", err)
		ok = false
	} else {
		s.warnTokenExpiry(ncfg.Tokens)
	}
	if err := s.ReloadClientKeys(ncfg.ClientKeys); err != nil {
		s.logger.Error("reload client keys: keys unchanged", "err", err)
		ok = false
	}
	if err := s.ReloadBackends(ncfg.Backends); err != nil {
		s.logger.Error("reload backends: backend headers unchanged", "err", err)
		ok = false
	}
	if err := s.ReloadTracing(ncfg.Tracing); err != nil {
		s.logger.Error("reload tracing: tracing unchanged", "err", err)
		ok = false
	}
	// Checked at load, as a whole: alerts being sent finish where they
	// were going, the next go to the hooks read now.
	s.ReloadAlerts(ncfg.Rollouts.Alerts)
	return ncfg, ncfg.Files, ncfg.FileStates, ok
}

// ReloadAlerts puts hooks, the rollouts.alerts of the config file read
// again, in force for the alerts sent from now on.
func (s *Server) ReloadAlerts(hooks []config.Webhook) {
	var next []rollout.Webhook
	for _, w := range hooks {
		next = append(next, alertHook(w))
	}
	s.alerts.SetHooks(next)
}

// TokenExpiryWarning is how long before a config file token expires the
// gateway starts warning of it, at start and at each reload.
const TokenExpiryWarning = 7 * 24 * time.Hour

// warnTokenExpiry logs each of the config file's admin tokens that has
// expired (it is refused) or expires within TokenExpiryWarning, naming
// the token, its key in the file and when, never its secret.
func (s *Server) warnTokenExpiry(tokens []config.TokenConfig) {
	now := s.now()
	for i, t := range tokens {
		at := t.ExpiresAt()
		key := fmt.Sprintf("tokens[%d].expires", i)
		switch {
		case at.IsZero():
		case !now.Before(at):
			s.logger.Warn("an admin token of the config file has expired and is refused: give it a later expires (or a new secret) and reload", "token", t.Name, "key", key, "expired_at", at.UTC().Format(time.RFC3339))
		case at.Sub(now) <= TokenExpiryWarning:
			s.logger.Warn("an admin token of the config file expires soon: give it a later expires (or a new secret) and reload before then", "token", t.Name, "key", key, "expires_at", at.UTC().Format(time.RFC3339), "in", at.Sub(now).Round(time.Minute).String())
		}
	}
}
