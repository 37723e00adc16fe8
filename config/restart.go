package config

import (
	"reflect"
	"strings"
)

// reloadable are the settings a running gateway takes from its config
// file on SIGHUP; every other change needs a restart.
// shutdown (its drain) is read when the shutdown begins.
var reloadable = map[string]bool{"tokens": true, "client_keys": true, "backends": true, "tracing": true, "shutdown": true}

// NeedRestart returns the top-level keys whose settings differ between the
// running configuration and next (the file read again on SIGHUP) and are
// not reloaded, so a reload can say which changes wait for a restart.
// Of rollouts, the alerts are reloaded. Certificates (tls, admin_tls) are reloaded from the same files, so only a
// change of file names counts, and of the log only a change of format.
func NeedRestart(running, next Gateway) []string {
	var keys []string
	next.Log.Level = running.Log.Level             // SIGHUP applies log.level
	next.Rollouts.Alerts = running.Rollouts.Alerts // and rollouts.alerts
	rv, nv := reflect.ValueOf(running), reflect.ValueOf(next)
	t := rv.Type()
	for i := range t.NumField() {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if key == "" || key == "-" || reloadable[key] {
			continue
		}
		if !reflect.DeepEqual(rv.Field(i).Interface(), nv.Field(i).Interface()) {
			keys = append(keys, key)
		}
	}
	return keys
}
