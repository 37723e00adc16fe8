package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
)

// routingLog writes a debug record each time the routing table is
// rebuilt, saying what changed since the last one: an operator chasing
// "why did this request go there" sees when the routing moved and how.
// It costs nothing when debug is off (the diff is computed only when the
// record is written), and it is off the request path (the control plane's
// publish calls it).
type routingLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	reg    *sluice.Registry // the last table's registry; nil before the first
	out    map[string]bool  // its versions out of service
	down   map[string]bool  // its endpoints found down
}

// rebuilt logs the table built from reg with out out of service and the
// endpoints in down left out of their versions' endpoints.
func (l *routingLog) rebuilt(reg *sluice.Registry, out, down map[string]bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, prevOut, prevDown := l.reg, l.out, l.down
	l.reg, l.out, l.down = reg, maps.Clone(out), maps.Clone(down)
	if !l.logger.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	changes := routingChanges(prev, reg, prevOut, out)
	for _, e := range unionKeys(prevDown, down) {
		if down[e] && !prevDown[e] {
			changes = append(changes, "endpoint "+proxy.RedactedEndpoint(e)+" down: its version's requests go to its other endpoints")
		} else if prevDown[e] && !down[e] {
			changes = append(changes, "endpoint "+proxy.RedactedEndpoint(e)+" up again")
		}
	}
	if len(changes) == 0 {
		changes = []string{"no model, version, service or endpoint change (a rollout's record, or the same routing published again)"}
	}
	l.logger.Debug("routing table rebuilt", "revision", reg.Revision, "changes", changes)
}

// routingChanges describes, in words, how the routing of next differs
// from prev's: models added, removed or changed (their policy, labels,
// rules), versions registered or removed, and versions taken out of
// service or back.
func routingChanges(prev, next *sluice.Registry, prevOut, nextOut map[string]bool) []string {
	if prev == nil {
		prev = sluice.NewRegistry()
	}
	var out []string
	for _, name := range unionKeys(prev.Models, next.Models) {
		a, b := prev.Models[name], next.Models[name]
		switch {
		case a == nil:
			out = append(out, fmt.Sprintf("model %s added: policy %s", name, b.Policy))
		case b == nil:
			out = append(out, fmt.Sprintf("model %s removed", name))
		case a.Policy.String() != b.Policy.String():
			out = append(out, fmt.Sprintf("model %s: policy %s → %s", name, a.Policy, b.Policy))
		case !sameJSON(a, b):
			out = append(out, fmt.Sprintf("model %s: labels, rules or settings changed (policy %s)", name, b.Policy))
		}
	}
	for _, id := range unionKeys(prev.Versions, next.Versions) {
		a, b := prev.Versions[id], next.Versions[id]
		switch {
		case a == nil:
			out = append(out, "version "+id+" registered")
		case b == nil:
			out = append(out, "version "+id+" removed")
		case !sameJSON(a, b):
			out = append(out, "version "+id+" changed")
		}
	}
	for _, id := range unionKeys(prevOut, nextOut) {
		if nextOut[id] && !prevOut[id] {
			out = append(out, "version "+id+" out of service")
		} else if prevOut[id] && !nextOut[id] {
			out = append(out, "version "+id+" back in service")
		}
	}
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
