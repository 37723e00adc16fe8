package server

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/proxy"
)

// Issue 6 (reliability and security): outlier ejection merged with health
// checks, client API keys on the data plane, and TLS on both listeners.

// newEjector returns the circuit breaker per version that the proxy feeds,
// or nil when outlier_ejection.disabled is set. An ejected version leaves
// the splits like one failing health checks.
func (s *Server) newEjector(o config.OutlierEjection) *proxy.Ejector {
	if o.Disabled {
		return nil
	}
	return proxy.NewEjector(proxy.EjectOptions{
		ConsecutiveFailures: o.ConsecutiveFailures, FailureRate: o.FailureRate, MinRequests: o.MinRequests,
		Window: o.Window, Cooldown: o.Cooldown, MaxCooldown: o.MaxCooldown,
		Logger: s.logger,
		OnChange: func(ejected map[string]string) {
			s.mu.Lock()
			s.ejected = ejected
			s.mu.Unlock()
			s.logger.Info("outlier ejection changed", "ejected", ejectedList(ejected))
			s.Control.Republish()
		},
	})
}

// outOfService returns the versions the routing table leaves out of
// splits: those failing health checks and those ejected.
func (s *Server) outOfService() map[string]bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ejected) == 0 {
		return s.unhealthy
	}
	out := maps.Clone(s.unhealthy)
	if out == nil {
		out = map[string]bool{}
	}
	for id := range s.ejected {
		out[id] = true
	}
	return out
}

// OutOfService says why a version is out of the splits, or "" when it is
// not: ejected by the circuit breaker, or failing health checks. The
// rollout controller rolls back a rollout whose candidate is out.
func (s *Server) OutOfService(versionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if why, ok := s.ejected[versionID]; ok {
		return "ejected by outlier detection: " + why
	}
	if s.unhealthy[versionID] {
		return "failing health checks"
	}
	return ""
}

// newKeySet returns the client API keys of the configuration and the
// store's (as last read), or nil when the gateway requires none (no
// client_keys, and require_client_keys not set). Operator and admin tokens
// pass too, and may force a version, as without keys.
func (s *Server) newKeySet(keys []config.ClientKey) (*proxy.KeySet, error) {
	if len(keys) == 0 && !s.requireKeys {
		return nil, nil
	}
	return s.buildKeySet(keys, s.stored.list)
}

// buildKeySet returns the KeySet of the config file's keys and the
// store's, with the revoked keys remembered and the store read again for
// a secret not held. The caller holds keysMu, or is New.
func (s *Server) buildKeySet(keys []config.ClientKey, stored []sluice.StoredKey) (*proxy.KeySet, error) {
	ks, shadowed := clientKeysOf(keys, stored)
	for _, name := range shadowed {
		s.logger.Warn("a client key in the store has the name or secret of one in the config file, which wins: revoke the stored one (sluice key delete) or rename the file's", "key", name)
	}
	out, err := proxy.NewKeySet(ks, func(ctx context.Context, secret string) (bool, error) {
		// The fire drill's own requests (sendSynthetic) carry a secret
		// that lives only in this process.
		if subtle.ConstantTimeCompare([]byte(secret), []byte(s.drillSecret)) == 1 {
			return false, nil
		}
		t, err := s.Auth.AuthenticateSecret(ctx, secret)
		switch {
		case sluice.IsTokenExpired(err):
			// The admin API's answer, naming the token and when it
			// expired (never the secret), not "not known".
			return false, err
		case api.IsTokenStoreDown(err):
			// It may be a token this gateway has not read yet: a 503 to
			// retry, not a 401 saying the key is not known.
			return false, errKeyStoreDown
		case err != nil:
			return false, proxy.ErrUnknownKey
		case !t.Role.Allows(sluice.RoleOperator):
			// A token the admin API takes: say so, rather than
			// "not known", which sent its holder after a typo.
			return false, sluice.Errorf(sluice.CodeForbidden, "this is the admin token %s, whose role %s cannot call models: send a client key, or an operator or admin token", t.Name, t.Role)
		}
		return true, nil
	}, s.now)
	if err != nil {
		return nil, err
	}
	out.SetRevoked(revokedOf(stored, s.stored.revoked))
	out.SetMiss(s.keyMiss)
	out.SetTouch(s.touchKey)
	out.SetShare(s.keyShare)
	return out, nil
}

// errKeyStoreDown is the data plane's answer to a secret that is no client
// key while the admin tokens (which pass as keys) cannot be read: it
// cannot be told from a token this gateway has not read yet.
var errKeyStoreDown = sluice.Errorf(sluice.CodeUnavailable, "cannot check the API key: it is not one of this gateway's client keys, and whether it is an admin token (which also passes as a key) cannot be checked: the token store is unavailable; retry shortly")

// tlsCert holds a listener's certificate, read again by ReloadTLS.
type tlsCert struct {
	key   string // the config key, tls or admin_tls
	files config.TLS
	cert  atomic.Pointer[tls.Certificate]
}

func (c *tlsCert) load() error {
	cert, err := tls.LoadX509KeyPair(c.files.CertFile, c.files.KeyFile)
	if err != nil {
		return fmt.Errorf("%s.cert_file and key_file: cannot load the certificate %s and key %s (%v): both must be PEM files, the key unencrypted and matching the certificate", c.key, c.files.CertFile, c.files.KeyFile, err)
	}
	c.cert.Store(&cert)
	return nil
}

// samePort reports whether the address addr (host:port) names the port
// bound is on, on an address that collides with bound's: the same IP, or
// either one every address (0.0.0.0, ::, no host). addr's host name is
// looked up (localhost). Another IP on the port is another socket, which
// the kernel lets both bind: held there, it is another process's.
func samePort(addr string, bound net.Addr) bool {
	host, port, err := net.SplitHostPort(addr)
	tcp, ok := bound.(*net.TCPAddr)
	if err != nil || !ok || port != strconv.Itoa(tcp.Port) {
		return false
	}
	if host == "" || tcp.IP.IsUnspecified() {
		return true
	}
	ips, err := net.LookupIP(host)
	if err != nil {
		return false
	}
	for _, ip := range ips {
		if ip.IsUnspecified() || ip.Equal(tcp.IP) {
			return true
		}
	}
	return false
}

// listen listens on addr (the config's addrKey), over TLS when files (the
// config's tlsKey) names a certificate. Its errors name the key to fix.
func (s *Server) listen(addr, addrKey string, files config.TLS, tlsKey string) (net.Listener, error) {
	var cert *tlsCert
	if files.Enabled() {
		cert = &tlsCert{key: tlsKey, files: files}
		if err := cert.load(); err != nil {
			return nil, err
		}
	}
	ln := s.heldListener(addrKey) // bound while the store was awaited
	var err error
	if ln == nil {
		ln, err = net.Listen("tcp", addr)
	}
	if errors.Is(err, syscall.EADDRINUSE) && addrKey == "admin_listen" && s.ln != nil && samePort(addr, s.ln.Addr()) {
		// The config refuses admin_listen written as listen is; the same
		// port with another host (localhost, 0.0.0.0) is found here, and
		// "another process" sent the user looking for this one.
		return nil, fmt.Errorf("%s %s: the port is this gateway's own listen (%s): give admin_listen a port of its own, or leave it out to serve the admin API on listen", addrKey, addr, s.Config.Listen)
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		flag := ""
		if addrKey == "listen" {
			flag = " (or pass sluice serve --listen HOST:PORT)"
		}
		return nil, fmt.Errorf("%s %s: %w: another process is using the port; stop it, or set another %s in the config%s", addrKey, addr, err, addrKey, flag)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", addrKey, addr, err)
	}
	if cert == nil {
		return ln, nil
	}
	s.certs = append(s.certs, cert)
	return tls.NewListener(ln, &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return cert.cert.Load(), nil },
	}), nil
}

// ReloadTLS reads the listeners' certificates again (SIGHUP), so a renewed
// certificate is served without a restart; on an error the old one stays.
func (s *Server) ReloadTLS() error {
	for _, c := range s.certs {
		if err := c.load(); err != nil {
			return err
		}
	}
	return nil
}

func scheme(t config.TLS) string {
	if t.Enabled() {
		return "https://"
	}
	return "http://"
}

// wrapKeys puts the client key check in front of the data plane when keys
// are configured. Each request is checked against the keys in force
// (ReloadClientKeys swaps them); the proxy's Admit and ForceAllowed read
// only the caller a check put in the request's context, so they need no
// swapping.
func (s *Server) wrapKeys(h http.Handler) http.Handler {
	if s.Keys == nil {
		return h
	}
	s.keys.CompareAndSwap(nil, s.Keys)
	type keyed struct {
		ks *proxy.KeySet
		h  http.Handler
	}
	var cur atomic.Pointer[keyed]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ks := s.keys.Load()
		k := cur.Load()
		if k == nil || k.ks != ks {
			k = &keyed{ks, ks.Wrap(h)}
			cur.Store(k)
		}
		k.h.ServeHTTP(w, r)
	})
}

// ClientKeys returns the client API keys in force (nil when none).
func (s *Server) ClientKeys() *proxy.KeySet {
	if ks := s.keys.Load(); ks != nil {
		return ks
	}
	return s.Keys
}

// ReloadClientKeys replaces the client API keys with keys, as read again
// from the configuration file on SIGHUP: the next requests are checked
// against them (a removed key gets 401 from then on, a new one is
// accepted), requests already admitted go on, and a key kept with the same
// secret and limit keeps its rate-limit bucket. On an error the keys in
// force stay. Turning keys on or off altogether needs a restart, since it
// changes what the data plane is wired with. The log says whether they
// changed, never a secret: a reload meant to rotate a key that finds the
// same ones (a Secret volume not yet rewritten) says they are unchanged.
func (s *Server) ReloadClientKeys(keys []config.ClientKey) error {
	s.keysMu.Lock()
	defer s.keysMu.Unlock()
	// require_client_keys takes a restart (config/restart.go), so the
	// value the gateway started with holds.
	if want := len(keys) > 0 || s.requireKeys; (s.Keys != nil) != want {
		if s.Keys == nil {
			return fmt.Errorf("client_keys: the gateway started without client keys; restart it to require keys")
		}
		return fmt.Errorf("client_keys: removing every key would open the OpenAI API to anyone; restart the gateway to run without keys, or set require_client_keys: true to keep requiring the keys issued with sluice key create")
	}
	if s.Keys == nil {
		return nil
	}
	if reflect.DeepEqual(keys, s.keysCfg) {
		s.logger.Info("client keys unchanged: the config file gives the ones in force", "keys", len(keys))
		return nil
	}
	ks, err := s.newKeySet(keys)
	if err != nil {
		return fmt.Errorf("client_keys: %w", err)
	}
	ks.Carry(s.ClientKeys())
	s.keys.Store(ks)
	s.keysCfg = slices.Clone(keys)
	s.kickBudgets()
	s.logger.Info("client keys reloaded", "keys", ks.Len())
	s.warnKeyModels(keys)
	return nil
}

// warnKeyModels logs a warning for each of the config file's client keys
// that names a model not registered (a typo goes unnoticed otherwise until
// the key's requests fail), naming the registered ones; at start, once
// the registry is read, and after a reload that changed the keys; not
// while no model at all is registered. A key may be written before its
// model is registered: it is not refused.
func (s *Server) warnKeyModels(keys []config.ClientKey) {
	reg := s.Control.Registry()
	if len(reg.Models) == 0 {
		return // a new gateway, whose keys are written before its models
	}
	for _, k := range keys {
		if w := sluice.UnknownKeyModels(k.Name, k.Models, reg); w != "" {
			s.logger.Warn("client_keys: " + w)
		}
	}
}

// boundWrites gives each data plane request a write deadline of the
// request timeout (plus a margin for the error event the proxy sends when
// it fires): a client that stops reading cannot hold the handler, its
// backend connection and its buffers for longer. The http.Server has no
// WriteTimeout because the admin listener also serves long event streams.
//
// It bounds the request body the same way: a body sent slowly (headers in
// time, then a byte now and then) must have arrived within the request
// timeout, at most the http.Server's ReadTimeout of 5 minutes; the server
// lifts the read deadline once the body is read, so it never cuts a
// stream short.
//
// The proxy counts the request timeout from the body's arrival, so a
// request with a body gets the body's allowance on top of its write
// deadline: from the request's start, the upload may take up to read and
// the answer then up to the request timeout. A deadline of the request
// timeout alone cut off the answer of a body uploaded in 3 s whose backend
// answered within the request timeout (TestTimeout_SlowUploadAnswerWritten).
// Setting the deadline when the body has arrived would be exact, but it
// costs each request a clock read and a second deadline; a client that
// stops reading is still held for a bounded time.
func (s *Server) boundWrites(h http.Handler) http.Handler {
	read, d := s.requestBounds()
	withBody := read + d
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		// No body (ContentLength 0): the server already reads ahead on
		// the connection to notice a client leaving, with no deadline;
		// one set now would end that read.
		body := r.ContentLength != 0
		write := d
		if body {
			write = withBody
		}
		if dw, ok := w.(interface {
			SetWriteDeadline(time.Time) error
			SetReadDeadline(time.Time) error
		}); ok {
			dw.SetWriteDeadline(now.Add(write))
			if body {
				dw.SetReadDeadline(now.Add(read))
			}
		} else {
			rc := http.NewResponseController(w)
			rc.SetWriteDeadline(now.Add(write))
			if body {
				rc.SetReadDeadline(now.Add(read))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// keepRolloutRouting returns doc without the policy and the rollout's own
// labels (stable, preview) of models whose rollout is under way: the
// rollout owns them until it ends
// (and then restores what was there before it), so re-applying the models
// file when the gateway restarts must not reset a live rollout's split.
func (s *Server) keepRolloutRouting(doc sluice.ApplyDoc, reg *sluice.Registry) sluice.ApplyDoc {
	out, kept := doc.KeepRolloutRouting(reg)
	for _, m := range kept {
		s.logger.Info("models_file: routing of a model under rollout left to the rollout", "model", m, "rollout", reg.Rollouts[m].ID)
	}
	return out
}

// ejectedList is the ejected set in words, for logs.
func ejectedList(m map[string]string) string {
	var out []string
	for id, why := range m {
		out = append(out, id+" ("+why+")")
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// requestBounds returns how long a client may take to send a request's body
// (the request timeout, at most 5 min) and how long its answer may take to
// write once the body has arrived (the request timeout and 2 s); both
// servers of the data plane use them (fasthttp's write deadline starts when
// it writes the answer, net/http's in boundWrites at the request's start).
func (s *Server) requestBounds() (read, write time.Duration) {
	d := s.Config.Timeouts.Request
	if d <= 0 {
		d = 10 * time.Minute // the proxy's default
	}
	return min(d, 5*time.Minute), d + 2*time.Second
}
