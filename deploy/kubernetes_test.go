package deploy_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// The Kubernetes objects, as far as the manifests use them. Decoding is
// strict (unknown fields are errors), so a misspelt or misplaced field,
// which kubectl apply would drop with a warning at most, fails here.

type k8sMeta struct {
	Name        string            `yaml:"name"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type k8sObject struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Metadata   k8sMeta `yaml:"metadata"`
}

type k8sSelector struct {
	MatchLabels map[string]string `yaml:"matchLabels"`
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	InitialDelaySeconds int `yaml:"initialDelaySeconds"`
	PeriodSeconds       int `yaml:"periodSeconds"`
	TimeoutSeconds      int `yaml:"timeoutSeconds"`
	FailureThreshold    int `yaml:"failureThreshold"`
}

type k8sEnv struct {
	Name      string `yaml:"name"`
	Value     string `yaml:"value"`
	ValueFrom *struct {
		ResourceFieldRef *struct {
			Resource string `yaml:"resource"`
			Divisor  string `yaml:"divisor"`
		} `yaml:"resourceFieldRef"`
	} `yaml:"valueFrom"`
}

type k8sContainer struct {
	Name    string   `yaml:"name"`
	Image   string   `yaml:"image"`
	Command []string `yaml:"command"`
	Args    []string `yaml:"args"`
	Ports   []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env     []k8sEnv `yaml:"env"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	Lifecycle      *struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext *struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   bool  `yaml:"readOnlyRootFilesystem"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
}

type k8sDeployment struct {
	k8sObject `yaml:",inline"`
	Spec      struct {
		Replicas int         `yaml:"replicas"`
		Selector k8sSelector `yaml:"selector"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable int `yaml:"maxUnavailable"`
				MaxSurge       int `yaml:"maxSurge"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata k8sMeta `yaml:"metadata"`
			Spec     struct {
				TerminationGracePeriodSeconds int   `yaml:"terminationGracePeriodSeconds"`
				AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
				SecurityContext               struct {
					RunAsNonRoot   bool `yaml:"runAsNonRoot"`
					RunAsUser      int  `yaml:"runAsUser"`
					RunAsGroup     int  `yaml:"runAsGroup"`
					SeccompProfile *struct {
						Type string `yaml:"type"`
					} `yaml:"seccompProfile"`
				} `yaml:"securityContext"`
				Containers []k8sContainer `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name string `yaml:"name"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
				TopologySpreadConstraints []struct {
					MaxSkew           int         `yaml:"maxSkew"`
					TopologyKey       string      `yaml:"topologyKey"`
					WhenUnsatisfiable string      `yaml:"whenUnsatisfiable"`
					LabelSelector     k8sSelector `yaml:"labelSelector"`
				} `yaml:"topologySpreadConstraints"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sService struct {
	k8sObject `yaml:",inline"`
	Spec      struct {
		Type     string            `yaml:"type"`
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sConfigMap struct {
	k8sObject `yaml:",inline"`
	Data      map[string]string `yaml:"data"`
}

type k8sSecret struct {
	k8sObject  `yaml:",inline"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
}

type k8sPDB struct {
	k8sObject `yaml:",inline"`
	Spec      struct {
		MaxUnavailable *int        `yaml:"maxUnavailable"`
		MinAvailable   *int        `yaml:"minAvailable"`
		Selector       k8sSelector `yaml:"selector"`
	} `yaml:"spec"`
}

type k8sServiceMonitor struct {
	k8sObject `yaml:",inline"`
	Spec      struct {
		Selector  k8sSelector `yaml:"selector"`
		Endpoints []struct {
			Port          string `yaml:"port"`
			Path          string `yaml:"path"`
			Interval      string `yaml:"interval"`
			ScrapeTimeout string `yaml:"scrapeTimeout"`
		} `yaml:"endpoints"`
	} `yaml:"spec"`
}

// decodeManifest decodes the one object of a manifest file strictly into
// v, and checks its apiVersion and kind, and that it is named sluice.
func decodeManifest(t *testing.T, name, apiVersion, kind string, v any) {
	t.Helper()
	decodeManifestNamed(t, name, apiVersion, kind, "sluice", v)
}

// decodeManifestNamed is decodeManifest for an object named object.
func decodeManifestNamed(t *testing.T, name, apiVersion, kind, object string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("kubernetes", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("kubernetes/%s: %v", name, err)
	}
	var more any
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		t.Fatalf("kubernetes/%s: holds more than one object", name)
	}
	var obj k8sObject
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.APIVersion != apiVersion || obj.Kind != kind {
		t.Fatalf("kubernetes/%s: %s %s, want %s %s", name, obj.APIVersion, obj.Kind, apiVersion, kind)
	}
	if obj.Metadata.Name != object || obj.Metadata.Labels["app.kubernetes.io/name"] != "sluice" {
		t.Errorf("kubernetes/%s: metadata %+v, want the name %s and the label app.kubernetes.io/name: sluice", name, obj.Metadata, object)
	}
}

// matches reports whether a selector selects the labels.
func matches(sel map[string]string, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

type manifests struct {
	dep      k8sDeployment
	svc      k8sService // the data plane's, for clients
	adminSvc k8sService // admin_listen's, for the cluster
	cm       k8sConfigMap
	secret   k8sSecret
	pdb      k8sPDB
	sm       k8sServiceMonitor
}

func loadManifests(t *testing.T) *manifests {
	t.Helper()
	var m manifests
	decodeManifest(t, "deployment.yaml", "apps/v1", "Deployment", &m.dep)
	decodeManifest(t, "service.yaml", "v1", "Service", &m.svc)
	decodeManifestNamed(t, "service-admin.yaml", "v1", "Service", "sluice-admin", &m.adminSvc)
	decodeManifest(t, "configmap.yaml", "v1", "ConfigMap", &m.cm)
	decodeManifest(t, "secret.yaml", "v1", "Secret", &m.secret)
	decodeManifest(t, "poddisruptionbudget.yaml", "policy/v1", "PodDisruptionBudget", &m.pdb)
	decodeManifest(t, "servicemonitor.yaml", "monitoring.coreos.com/v1", "ServiceMonitor", &m.sm)
	return &m
}

// TestKubernetes_Objects checks that the manifests fit together: the
// selectors select the pods, the named ports exist, every ${ENV} of the
// ConfigMap comes from the Secret, and the pod runs under the restricted
// Pod Security Standard.
func TestKubernetes_Objects(t *testing.T) {
	m := loadManifests(t)
	spec := m.dep.Spec.Template.Spec
	pod := m.dep.Spec.Template.Metadata.Labels
	if len(spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(spec.Containers))
	}
	c := spec.Containers[0]

	if !matches(m.dep.Spec.Selector.MatchLabels, pod) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", m.dep.Spec.Selector.MatchLabels, pod)
	}
	ports := map[string]bool{}
	for _, p := range c.Ports {
		ports[p.Name] = true
	}
	for name, svc := range map[string]k8sService{"sluice": m.svc, "sluice-admin": m.adminSvc} {
		if !matches(svc.Spec.Selector, pod) {
			t.Errorf("the Service %s's selector %v does not select the pods %v", name, svc.Spec.Selector, pod)
		}
		for _, p := range svc.Spec.Ports {
			if !ports[p.TargetPort] {
				t.Errorf("the Service %s's port %s targets %q, which the container does not name", name, p.Name, p.TargetPort)
			}
		}
	}
	// The split: clients' Service reaches the data plane (the container's
	// http port, listen) only; the admin port (admin_listen: the admin
	// API, the dashboard, /metrics) is on a ClusterIP Service of its own.
	if len(m.svc.Spec.Ports) != 1 || m.svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("the sluice Service's ports %+v; want the data plane's (http) alone", m.svc.Spec.Ports)
	}
	if len(m.adminSvc.Spec.Ports) != 1 || m.adminSvc.Spec.Ports[0].TargetPort != "admin" {
		t.Errorf("the sluice-admin Service's ports %+v; want the admin port alone", m.adminSvc.Spec.Ports)
	}
	if m.adminSvc.Spec.Type != "" && m.adminSvc.Spec.Type != "ClusterIP" {
		t.Errorf("the sluice-admin Service is of type %s; keep it ClusterIP, off the network clients reach", m.adminSvc.Spec.Type)
	}
	if matches(m.svc.Metadata.Labels, m.adminSvc.Metadata.Labels) && matches(m.adminSvc.Metadata.Labels, m.svc.Metadata.Labels) {
		t.Error("the two Services have the same labels: nothing can select the admin one alone")
	}
	if got := m.dep.Spec.Template.Metadata.Annotations["prometheus.io/port"]; got != strconv.Itoa(containerPort(c, "admin")) {
		t.Errorf("the pod's prometheus.io/port is %q; want the admin port %d, where /metrics is", got, containerPort(c, "admin"))
	}
	for what, p := range map[string]*k8sProbe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		if p == nil {
			t.Errorf("no %s probe", what)
		} else if !ports[p.HTTPGet.Port] {
			t.Errorf("the %s probe's port %q is not one the container names", what, p.HTTPGet.Port)
		}
	}

	// The PodDisruptionBudget: a node drain takes one replica at a time.
	if !matches(m.pdb.Spec.Selector.MatchLabels, pod) {
		t.Errorf("the PodDisruptionBudget's selector %v does not select the pods %v", m.pdb.Spec.Selector.MatchLabels, pod)
	}
	switch pdb := m.pdb.Spec; {
	case pdb.MaxUnavailable != nil && pdb.MinAvailable == nil:
		if *pdb.MaxUnavailable < 1 || *pdb.MaxUnavailable >= m.dep.Spec.Replicas {
			t.Errorf("PodDisruptionBudget maxUnavailable %d with %d replicas: it must let a drain evict one and keep one", *pdb.MaxUnavailable, m.dep.Spec.Replicas)
		}
	default:
		t.Errorf("the PodDisruptionBudget should set maxUnavailable alone (minAvailable blocks drains when a replica is already down)")
	}

	// The ServiceMonitor scrapes the admin Service's named port at
	// /metrics, and selects not the data plane's Service.
	if !matches(m.sm.Spec.Selector.MatchLabels, m.adminSvc.Metadata.Labels) {
		t.Errorf("the ServiceMonitor's selector %v does not select the sluice-admin Service %v", m.sm.Spec.Selector.MatchLabels, m.adminSvc.Metadata.Labels)
	}
	if matches(m.sm.Spec.Selector.MatchLabels, m.svc.Metadata.Labels) {
		t.Errorf("the ServiceMonitor's selector %v selects the data plane's Service too, which has no /metrics", m.sm.Spec.Selector.MatchLabels)
	}
	for _, e := range m.sm.Spec.Endpoints {
		found := false
		for _, p := range m.adminSvc.Spec.Ports {
			found = found || p.Name == e.Port && p.TargetPort == "admin"
		}
		if !found || e.Path != "/metrics" {
			t.Errorf("the ServiceMonitor scrapes port %q path %q; want the sluice-admin Service's admin port and /metrics", e.Port, e.Path)
		}
	}
	if len(m.sm.Spec.Endpoints) != 1 {
		t.Errorf("the ServiceMonitor has %d endpoints, want 1", len(m.sm.Spec.Endpoints))
	}

	// Secrets come from the Secret, never from the ConfigMap.
	text := m.cm.Data["sluice.yaml"]
	fromSecret := map[string]bool{}
	for _, e := range c.EnvFrom {
		if e.SecretRef != nil && e.SecretRef.Name == m.secret.Metadata.Name {
			for k := range m.secret.StringData {
				fromSecret[k] = true
			}
		}
	}
	for _, ref := range regexp.MustCompile(`\$\{(\w+)\}`).FindAllStringSubmatch(text, -1) {
		if !fromSecret[ref[1]] {
			t.Errorf("the ConfigMap's sluice.yaml names ${%s}, which the Secret the container reads does not hold", ref[1])
		}
	}
	if regexp.MustCompile(`(?m)^\s*[^#]*(secret|store|api_key):\s*"?[^"$\s]`).MatchString(text) {
		t.Errorf("the ConfigMap's sluice.yaml holds a secret or a DSN in clear; take it from the Secret with ${ENV}:\n%s", text)
	}

	// The restricted Pod Security Standard, which a namespace may enforce:
	// a pod that misses one of these is refused.
	sc := spec.SecurityContext
	if !sc.RunAsNonRoot || sc.RunAsUser == 0 {
		t.Error("the pod must run as a non-root user")
	}
	if sc.SeccompProfile == nil || sc.SeccompProfile.Type != "RuntimeDefault" {
		t.Error("the pod needs seccompProfile RuntimeDefault (the restricted Pod Security Standard refuses it otherwise)")
	}
	if csc := c.SecurityContext; csc == nil || csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation ||
		!csc.ReadOnlyRootFilesystem || len(csc.Capabilities.Drop) != 1 || csc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("the container's securityContext must forbid privilege escalation, drop ALL capabilities and mount the root file system read-only: %+v", csc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("Sluice never calls the Kubernetes API: set automountServiceAccountToken: false")
	}
	if c.Resources.Requests["cpu"] == "" || c.Resources.Requests["memory"] == "" || c.Resources.Limits["memory"] == "" {
		t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
	}
	// Go's GC knows nothing of the container's memory limit unless told.
	limit := c.Resources.Limits["memory"]
	var memlimit string
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			memlimit = e.Value
		}
	}
	if ml, lim := mebibytes(strings.TrimSuffix(memlimit, "B")), mebibytes(limit); ml <= 0 || ml >= lim || ml < lim*8/10 {
		t.Errorf("GOMEMLIMIT %q with a memory limit of %q: want GOMEMLIMIT set to 80-99%% of the limit", memlimit, limit)
	}
}

// mebibytes reads a Kubernetes quantity in Mi or Gi; 0 for anything else.
func mebibytes(q string) int {
	var n int
	var unit string
	if _, err := fmt.Sscanf(q, "%d%s", &n, &unit); err != nil {
		return 0
	}
	switch unit {
	case "Mi":
		return n
	case "Gi":
		return n << 10
	}
	return 0
}

// TestKubernetes_GracefulShutdown checks that a pod being replaced loses
// no request: it keeps serving while the endpoints drop it (a preStop
// sleep: Sluice stops accepting connections at SIGTERM, and kube-proxy and
// ingress controllers learn of the removal a few seconds late), and then
// has the time Sluice takes to drain (the ConfigMap's shutdown.drain, the
// default when it sets none) and flush before the kubelet kills it. The
// same for the systemd unit's TimeoutStopSec, against the default drain
// (its config file is the operator's). Each file's comment names the key,
// so that whoever raises the drain finds the budget to raise with it.
func TestKubernetes_GracefulShutdown(t *testing.T) {
	m := loadManifests(t)
	spec := m.dep.Spec.Template.Spec
	c := spec.Containers[0]
	preStop := 0
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Sleep == nil {
		t.Error("no preStop sleep: connections kube-proxy and ingress controllers still send during the seconds after SIGTERM are refused")
	} else if preStop = c.Lifecycle.PreStop.Sleep.Seconds; preStop < 5 {
		t.Errorf("preStop sleeps %d s; endpoint removal takes a few seconds to reach every node: at least 5", preStop)
	}
	text := os.Expand(m.cm.Data["sluice.yaml"], func(k string) string {
		return map[string]string{"SLUICE_STORE": "postgres://sluice@db/sluice", "SLUICE_ADMIN_TOKEN": "0123456789abcdef0123"}[k]
	})
	cfg, err := config.ParseGateway("configmap.yaml: sluice.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	drain := cfg.Shutdown.DrainTime()
	need := time.Duration(preStop)*time.Second + drain + server.ShutdownTail
	if got := time.Duration(spec.TerminationGracePeriodSeconds) * time.Second; got < need {
		t.Errorf("terminationGracePeriodSeconds is %v; the preStop sleep (%d s), the drain (shutdown.drain, %v) and what Shutdown does after it (%v) need %v",
			got, preStop, drain, server.ShutdownTail, need)
	}
	dep, err := os.ReadFile(filepath.Join("kubernetes", "deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(dep), "shutdown.drain") || !strings.Contains(text, "shutdown.drain") {
		t.Error("deployment.yaml's comment on terminationGracePeriodSeconds, or the ConfigMap's sluice.yaml, does not name shutdown.drain, the drain the grace period must cover")
	}

	b, err := os.ReadFile(filepath.Join("systemd", "sluice.service"))
	if err != nil {
		t.Fatal(err)
	}
	stop := regexp.MustCompile(`(?m)^TimeoutStopSec=(\S+)$`).FindStringSubmatch(string(b))
	if stop == nil {
		t.Fatal("sluice.service sets no TimeoutStopSec")
	}
	d, err := time.ParseDuration(stop[1])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: %v", stop[1], err)
	}
	if need := config.DefaultDrain + server.ShutdownTail; d < need {
		t.Errorf("sluice.service: TimeoutStopSec=%v; the default drain (shutdown.drain, %v) and what Shutdown does after it (%v) need %v", d, config.DefaultDrain, server.ShutdownTail, need)
	}
	if !strings.Contains(string(b), "shutdown.drain") {
		t.Error("sluice.service's comment on TimeoutStopSec does not name shutdown.drain, the drain it must cover")
	}
}

// TestKubernetes_Probes runs a gateway from the ConfigMap's sluice.yaml
// and asks it the probes' paths: both answer 200, and liveness is not the
// readiness check (which reads the store: a liveness probe that fails when
// PostgreSQL is away would restart every replica at once).
func TestKubernetes_Probes(t *testing.T) {
	m := loadManifests(t)
	c := m.dep.Spec.Template.Spec.Containers[0]
	text := os.Expand(m.cm.Data["sluice.yaml"], func(k string) string {
		return map[string]string{"SLUICE_STORE": filepath.Join(t.TempDir(), "sluice.db"), "SLUICE_ADMIN_TOKEN": "0123456789abcdef0123"}[k]
	})
	cfg, err := config.ParseGateway("configmap.yaml: sluice.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	// listen is the container's http port, admin_listen its admin port.
	for key, want := range map[string]struct{ addr, port string }{"listen": {cfg.Listen, "http"}, "admin_listen": {cfg.AdminListen, "admin"}} {
		if n := containerPort(c, want.port); want.addr != "0.0.0.0:"+strconv.Itoa(n) {
			t.Fatalf("the ConfigMap's %s is %q; the container's %s port is %d: want 0.0.0.0:%d", key, want.addr, want.port, n, n)
		}
	}
	cfg.Listen, cfg.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	gw, err := server.New(context.Background(), server.Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Shutdown(context.Background()) })
	// A replica started while PostgreSQL is away waits for it (store_wait)
	// before it serves anything: the liveness probe would kill it first
	// (its first failures come within seconds), so a startup probe holds
	// liveness off for longer than the wait, on the liveness probe's path.
	if sp := c.StartupProbe; sp == nil {
		t.Errorf("no startup probe: the liveness probe kills a replica waiting for PostgreSQL at start (store_wait %v)", cfg.StoreWaitTime())
	} else {
		if sp.HTTPGet != c.LivenessProbe.HTTPGet {
			t.Errorf("the startup probe asks %+v, the liveness probe %+v: want the same", sp.HTTPGet, c.LivenessProbe.HTTPGet)
		}
		if hold := time.Duration(sp.InitialDelaySeconds+sp.PeriodSeconds*sp.FailureThreshold) * time.Second; hold < cfg.StoreWaitTime()+20*time.Second {
			t.Errorf("the startup probe gives a replica %v to serve; store_wait is %v: want at least 20 s more, for the start after the wait", hold, cfg.StoreWaitTime())
		}
	}
	if c.LivenessProbe.HTTPGet.Path == c.ReadinessProbe.HTTPGet.Path {
		t.Errorf("liveness and readiness both probe %s", c.LivenessProbe.HTTPGet.Path)
	}
	// Each probe and the scrape on the listener of the port it names: a
	// probe on the wrong one gets a 404 and the pod never becomes ready.
	urls := map[string]string{"http": gw.URL(), "admin": gw.AdminURL()}
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	for what, p := range map[string]struct{ path, port string }{
		"readiness": {c.ReadinessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Port},
		"liveness":  {c.LivenessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Port},
		"scrape":    {m.dep.Spec.Template.Metadata.Annotations["prometheus.io/path"], portName(c, m.dep.Spec.Template.Metadata.Annotations["prometheus.io/port"])},
	} {
		if code, body := get(urls[p.port] + p.path); code != 200 {
			t.Errorf("%s: GET %s on port %q: %d %s", what, p.path, p.port, code, body)
		}
	}
	// The data plane's port, which the clients' Service exposes, serves
	// neither the admin API nor /metrics.
	for _, p := range []string{"/admin/v1/models", "/metrics", "/ui/"} {
		if code, _ := get(gw.URL() + p); code != http.StatusNotFound {
			t.Errorf("GET %s on the data plane's port: %d; want 404 (it belongs on admin_listen)", p, code)
		}
	}
}

// containerPort returns the number of the container's port named name, or
// 0.
func containerPort(c k8sContainer, name string) int {
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	return 0
}

// portName returns the name of the container's port numbered number.
func portName(c k8sContainer, number string) string {
	for _, p := range c.Ports {
		if strconv.Itoa(p.ContainerPort) == number {
			return p.Name
		}
	}
	return ""
}
