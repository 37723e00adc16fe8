# Sourced by scripts/test and .ci/run: installs what the tests need on a
# fresh Debian machine of this kind (only what is missing), starts
# PostgreSQL if it is not running (and stops it again when the calling
# script exits), and exports the variables the tests read.
export PATH=$PATH:/usr/local/go/bin:$HOME/go/bin
export GOFLAGS=-buildvcs=false

# Debian packages, installed only when missing so that a re-run is fast;
# apt-get update runs at most once.
apt_updated=
need_pkg() { # need_pkg COMMAND PACKAGE [apt-get options]
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:3}" "$2" >/dev/null
}

echo "== Chromium (the dashboard's browser test), promtool and Prometheus"
need_pkg chromium chromium
# One package holds both: promtool checks the alerting rules, and the
# Prometheus server is what the Prometheus-gate tests query (they fail, never
# skip, without it).
need_pkg promtool prometheus --no-install-recommends
need_pkg prometheus prometheus --no-install-recommends
chromium --version 2>/dev/null || true
# The browser test saves its screenshots here.
export SLUICE_UI_SCREENSHOT_DIR=${SLUICE_UI_SCREENSHOT_DIR:-/tmp/sluice-ui-screenshots}

echo "== PostgreSQL (the postgres store and the multi-replica tests)"
need_pkg pg_ctlcluster postgresql
pg_cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
if [ -z "$pg_cluster" ]; then
  pg_createcluster "$(ls /usr/lib/postgresql | sort -n | tail -1)" main >/dev/null
  pg_cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
fi
if ! pg_ctlcluster $pg_cluster status >/dev/null 2>&1; then
  pg_ctlcluster $pg_cluster start
  # Stop the server this script started, however the script ends.
  trap 'pg_ctlcluster $pg_cluster stop || true' EXIT
fi
pg_port=$(pg_lsclusters --no-header | awk 'NR==1 {print $3}')
# The role and database, created once (a re-run finds them).
su postgres -c "psql -p $pg_port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'sluice'\"" | grep -q 1 ||
  su postgres -c "psql -p $pg_port -qc \"CREATE ROLE sluice LOGIN PASSWORD 'sluice' CREATEDB\""
su postgres -c "psql -p $pg_port -qtAc \"SELECT 1 FROM pg_database WHERE datname = 'sluice'\"" | grep -q 1 ||
  su postgres -c "createdb -p $pg_port -O sluice sluice"
# Tests that need PostgreSQL read this and fail without it (they never skip).
export SLUICE_TEST_POSTGRES="postgres://sluice:sluice@127.0.0.1:$pg_port/sluice?sslmode=disable"
psql "$SLUICE_TEST_POSTGRES" -qtAc 'SELECT version()'

