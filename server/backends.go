package server

import (
	"fmt"
	"net/http"
	"reflect"
	"slices"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/proxy"
)

// backendHeaders turns the config's backends into the proxy's.
func backendHeaders(bs []config.Backend) []proxy.BackendHeaders {
	out := make([]proxy.BackendHeaders, 0, len(bs))
	for _, b := range bs {
		h := make(http.Header, len(b.Headers))
		for k, v := range b.Headers {
			h[http.CanonicalHeaderKey(k)] = []string{v}
		}
		out = append(out, proxy.BackendHeaders{Match: b.Match, Header: h, TranscriptionStreamUsage: b.TranscriptionStreamUsage})
	}
	return out
}

// ReloadBackends replaces the backends' headers with bs, as read again
// from the configuration file on SIGHUP: every request sent from then on
// (live, mirrored, health checks, warm-ups) carries the new ones, so a
// backend's key is rotated without a restart. On an error the headers in
// force stay. The log says whether they changed and how many entries
// there are, never a value: a reload that was meant to rotate a key but
// found the same ones (a Secret volume the kubelet has not yet rewritten)
// says so.
func (s *Server) ReloadBackends(bs []config.Backend) error {
	s.backendsMu.Lock()
	defer s.backendsMu.Unlock()
	if len(bs) == 0 && len(s.backendsCfg) == 0 || reflect.DeepEqual(bs, s.backendsCfg) {
		s.logger.Info("backend headers unchanged: the config file gives the ones in force", "backends", len(bs))
		return nil
	}
	if err := s.Backends.Set(backendHeaders(bs)); err != nil {
		return fmt.Errorf("backends: %w", err)
	}
	s.backendsCfg = slices.Clone(bs)
	s.logger.Info("backend headers reloaded", "backends", len(bs))
	return nil
}
