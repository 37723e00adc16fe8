package deploy_test

import (
	"fmt"
	"os"
	"reflect"
	"sort"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestKubernetes_PrometheusRuleIsTheRulesFile: the Prometheus Operator
// loads rules only from PrometheusRule objects, so
// kubernetes/prometheusrule.yaml carries prometheus/sluice-alerts.yml's
// groups (the file promtool checks and tests). Its spec.groups must equal
// the file's groups in every name, expression, duration, label and
// annotation, so that the two cannot drift.
func TestKubernetes_PrometheusRuleIsTheRulesFile(t *testing.T) {
	var pr struct {
		k8sObject `yaml:",inline"`
		Spec      struct {
			Groups []any `yaml:"groups"`
		} `yaml:"spec"`
	}
	decodeManifest(t, "prometheusrule.yaml", "monitoring.coreos.com/v1", "PrometheusRule", &pr)
	b, err := os.ReadFile("prometheus/sluice-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []any `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Groups) == 0 {
		t.Fatal("prometheus/sluice-alerts.yml has no groups")
	}
	if diffs := yamlDiff("groups", file.Groups, pr.Spec.Groups); len(diffs) > 0 {
		for _, d := range diffs {
			t.Error(d)
		}
		t.Errorf("kubernetes/prometheusrule.yaml's spec.groups differ from prometheus/sluice-alerts.yml's groups (above: the file's value, then the PrometheusRule's): copy the file's groups under spec:")
	}
}

// yamlDiff returns where two decoded YAML values differ, by path.
func yamlDiff(path string, a, b any) []string {
	if reflect.DeepEqual(a, b) {
		return nil
	}
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range av {
			keys[k] = true
		}
		for k := range bv {
			keys[k] = true
		}
		var sorted []string
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		var out []string
		for _, k := range sorted {
			out = append(out, yamlDiff(path+"."+k, av[k], bv[k])...)
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			break
		}
		var out []string
		for i := range av {
			out = append(out, yamlDiff(fmt.Sprintf("%s[%d]", path, i), av[i], bv[i])...)
		}
		return out
	}
	return []string{fmt.Sprintf("%s: %#v != %#v", path, a, b)}
}

// TestYAMLDiff: the comparison finds a change anywhere, names where, and
// finds none between equal values.
func TestYAMLDiff(t *testing.T) {
	var a, b any
	if err := yaml.Unmarshal([]byte("groups: [{name: g, rules: [{alert: A, expr: up == 0, for: 5m}]}]"), &a); err != nil {
		t.Fatal(err)
	}
	if d := yamlDiff("", a, a); d != nil {
		t.Errorf("equal values differ: %v", d)
	}
	for _, other := range []string{
		"groups: [{name: g, rules: [{alert: A, expr: up == 1, for: 5m}]}]",
		"groups: [{name: g, rules: [{alert: A, expr: up == 0, for: 10m}]}]",
		"groups: [{name: g, rules: [{alert: A, expr: up == 0}]}]",
		"groups: [{name: g, rules: [{alert: A, expr: up == 0, for: 5m, labels: {severity: page}}]}]",
		"groups: [{name: g, rules: [{alert: A, expr: up == 0, for: 5m}, {alert: B, expr: up == 0}]}]",
		"groups: [{name: h, rules: [{alert: A, expr: up == 0, for: 5m}]}]",
	} {
		if err := yaml.Unmarshal([]byte(other), &b); err != nil {
			t.Fatal(err)
		}
		if d := yamlDiff("", a, b); len(d) == 0 {
			t.Errorf("%s: no difference found", other)
		}
	}
}
