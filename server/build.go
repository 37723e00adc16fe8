package server

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/postgres"
	"github.com/sluicehq/sluice/sqlite"
)

// BuildInfo returns this binary's build with the newest schema of each
// store it knows, for `sluice version`, the start's log line and
// sluice_build_info.
func BuildInfo() sluice.Build {
	b := sluice.CurrentBuild()
	b.SQLiteSchema, b.PostgresSchema = sqlite.LatestSchema(), postgres.LatestSchema()
	return b
}

// buildCollector is sluice_build_info: 1, labelled with the binary's
// release, revision and schemas. During a rolling upgrade each replica's
// scrape says which binary it runs (`count by (postgres_schema)
// (sluice_build_info)`), which nothing else the gateway serves told: a
// replica of a release from before this metric has none.
func buildCollector() prometheus.Collector {
	b := BuildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_build_info",
		Help: "Always 1: the labels name this process's binary: its release (\"devel\" unless the build stamped one), its VCS revision (\"\" when the build recorded none), the Go toolchain, and the newest SQLite and PostgreSQL store schemas it knows (a store migrated past them is refused).",
		ConstLabels: prometheus.Labels{"release": b.Release, "revision": b.Revision, "goversion": b.Go,
			"sqlite_schema": strconv.Itoa(b.SQLiteSchema), "postgres_schema": strconv.Itoa(b.PostgresSchema)}})
	g.Set(1)
	return g
}
