package sluice_test

import (
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestRegistry_Latest_ReleaseCandidate: v2.0.0-rc1 went to production for
// a trial, then v2.0.0 was released; policy latest must serve v2.0.0.
func TestRegistry_Latest_ReleaseCandidate(t *testing.T) {
	reg := sluice.NewRegistry()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	reg.Models["chat"] = &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}
	for i, tag := range []string{"v2.0.0", "v2.0.0-rc1", "v1.9.0"} {
		reg.Versions["chat:"+tag] = &sluice.Version{Model: "chat", Version: tag, Stage: sluice.StageProduction, CreatedAt: now.Add(time.Duration(i) * time.Minute)}
	}
	if l := reg.Latest("chat"); l == nil || l.Version != "v2.0.0" {
		t.Fatalf("Latest = %v, want v2.0.0", l)
	}
	var tags []string
	for _, v := range reg.VersionsOf("chat") {
		tags = append(tags, v.Version)
	}
	if want := []string{"v1.9.0", "v2.0.0-rc1", "v2.0.0"}; !slices.Equal(tags, want) {
		t.Fatalf("VersionsOf = %v, want %v", tags, want)
	}
}

// TestRegistry_Latest_DateHotfix: a team tagging by date fixes
// 2026.11.20 with 2026.11.20-hotfix and promotes it; policy latest must
// serve the hotfix, not the build it fixes, and list it last.
func TestRegistry_Latest_DateHotfix(t *testing.T) {
	reg := sluice.NewRegistry()
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	reg.Models["chat"] = &sluice.Model{Name: "chat", Policy: sluice.Policy{Kind: sluice.PolicyLatest}}
	for i, tag := range []string{"2026.11.20-hotfix", "2026.11.20", "2026.11.20-rc1"} {
		reg.Versions["chat:"+tag] = &sluice.Version{Model: "chat", Version: tag, Stage: sluice.StageProduction, CreatedAt: now.Add(-time.Duration(i) * time.Minute)}
	}
	if l := reg.Latest("chat"); l == nil || l.Version != "2026.11.20-hotfix" {
		t.Fatalf("Latest = %v, want 2026.11.20-hotfix", l)
	}
	var tags []string
	for _, v := range reg.VersionsOf("chat") {
		tags = append(tags, v.Version)
	}
	if want := []string{"2026.11.20-rc1", "2026.11.20", "2026.11.20-hotfix"}; !slices.Equal(tags, want) {
		t.Fatalf("VersionsOf = %v, want %v", tags, want)
	}
}
