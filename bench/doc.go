// Package bench is the harness behind `sluice bench`: it measures what
// Sluice's data plane costs, side by side with the floor (requests sent
// straight to the backend), nginx with a weighted canary (split_clients
// 95/5 on a user header, upstream keep-alive) and the Portkey AI gateway
// (a 95/5 loadbalance config), on the same machine in one run.
//
// Two simulated model servers (fakellm, stable and canary) run inside the
// harness's process; the gateways run as their own processes so their CPU
// time and memory can be read from /proc. Each cell (gateway, scenario,
// concurrency) runs in rounds with the gateways alternating, A B A B, so
// that drift in the machine's load cancels out. Non-streamed requests are
// sent by wrk when it is installed; streams, and the open-loop runs at half
// of each gateway's saturation throughput, by a Go HTTP/1.1 client that
// timestamps every chunk and compares it with the time the backend wrote
// it (the backends stamp the writes of requests carrying X-Bench-Stream),
// which is how long the gateway held the chunk.
//
// The files beside the code are part of the harness: nginx.conf is the
// nginx configuration template, wrk.lua the wrk script template, and
// package.json with package-lock.json pin the Portkey gateway (with
// @hono/node-server overridden to 1.13.5, without which its streaming fails
// with HTTP 500). RESULTS.md and results.json are the last full run's
// figures; benchstat-*.txt hold the before/after Go benchmark comparisons
// of each optimisation of the data plane.
package bench
