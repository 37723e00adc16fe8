// Package deploy holds no code: it keeps the files that run Sluice beside
// other systems, and the test that keeps them true to the gateway.
//
//   - prometheus/sluice-alerts.yml: recording and alerting rules (a
//     candidate worse than the stable version on error rate, refusal rate
//     or p99 latency; a version calling tools far less often than the
//     model's other versions; a rollout stuck; a rollback fired), checked
//     with promtool check rules and promtool test rules (TestRules_Promtool
//     runs both, and fails without promtool).
//   - grafana/sluice-dashboard.json: a Grafana dashboard over Sluice's own
//     metrics.
//   - kubernetes/: a Deployment, Service, ConfigMap, Secret,
//     PodDisruptionBudget and ServiceMonitor; kubernetes_test.go decodes
//     them strictly and checks that they fit together and with the gateway
//     (probes answered, secrets only in the Secret, the restricted Pod
//     Security Standard, a grace period that covers the shutdown).
//   - systemd/sluice.service: one replica per host.
//
// The test starts a real gateway, sends it traffic, runs a rollout, scrapes
// /metrics and checks that every metric the rules and the dashboard query
// is one the gateway exports.
package deploy
