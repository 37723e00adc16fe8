package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// changeDetail says what an audited change of a model's routing or a
// version's stage changes, from and to ("policy specific v1.2.0 → split
// v1.1.0=95 v1.2.0=5; label stable v1.2.0 → v1.1.0", "stage staging →
// production"), for apply's list of changes: its action and model alone
// hid what a dry run was read for. "" when there is nothing to add (a
// version registered, a model created).
func changeDetail(a sluice.AuditEntry) string {
	if len(a.Before) == 0 || len(a.After) == 0 {
		return ""
	}
	if strings.HasPrefix(a.Action, "version.") {
		var b, f struct {
			Stage sluice.Stage `json:"stage"`
		}
		if json.Unmarshal(a.Before, &b) != nil || json.Unmarshal(a.After, &f) != nil || b.Stage == f.Stage {
			return ""
		}
		return fmt.Sprintf("stage %s → %s", b.Stage, f.Stage)
	}
	if !strings.HasPrefix(a.Action, "model.") {
		return ""
	}
	var b, f sluice.Model
	if json.Unmarshal(a.Before, &b) != nil || json.Unmarshal(a.After, &f) != nil {
		return ""
	}
	var parts []string
	if bp, fp := b.Policy.String(), f.Policy.String(); bp != fp {
		parts = append(parts, fmt.Sprintf("policy %s → %s", bp, fp))
	} else if b.Policy.Salt != f.Policy.Salt {
		parts = append(parts, "salt changed (users move between the split's versions)")
	}
	names := slices.Sorted(maps.Keys(b.Labels))
	for n := range maps.Keys(f.Labels) {
		if _, ok := b.Labels[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		from, to := b.Labels[n], f.Labels[n]
		if from == to {
			continue
		}
		parts = append(parts, fmt.Sprintf("label %s %s → %s", n, orNone(from), orNone(to)))
	}
	br, _ := json.Marshal(b.Rules)
	fr, _ := json.Marshal(f.Rules)
	if string(br) != string(fr) {
		parts = append(parts, fmt.Sprintf("rules changed (%d → %d)", len(b.Rules), len(f.Rules)))
	}
	if b.Description != f.Description {
		parts = append(parts, "description")
	}
	return strings.Join(parts, "; ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
