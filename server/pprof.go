package server

import (
	"net/http"
	"net/http/pprof"

	"github.com/sluicehq/sluice"
)

// pprofRoutes serves the Go profiler under /debug/pprof/ on the admin
// routes, to admin tokens only: a profile shows request data in memory and
// costs CPU while it runs, so nobody else may start one. `sluice bench
// --pprof` uses it to profile the gateway under load.
func (s *Server) pprofRoutes(mux *http.ServeMux) {
	h := http.NewServeMux()
	h.HandleFunc("/debug/pprof/", pprof.Index)
	h.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	h.HandleFunc("/debug/pprof/profile", pprof.Profile)
	h.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	h.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/debug/pprof/", s.Auth.Middleware(sluice.RoleAdmin, h))
}
