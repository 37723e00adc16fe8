package config

import (
	"fmt"
	"net/url"
	"time"
)

// Prometheus is the Prometheus server that rollouts' Prometheus gates
// (analysis.prometheus in a rollout spec) query. With no URL, a rollout
// that has gates is refused at start.
type Prometheus struct {
	// URL is the server's base URL, such as http://prometheus:9090.
	URL string `yaml:"url"`
	// Timeout bounds each gate's query; default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

func (p *Prometheus) setDefaults() {
	if p.URL != "" && p.Timeout == 0 {
		p.Timeout = 10 * time.Second
	}
}

func (p *Prometheus) validate() error {
	if p.URL != "" {
		u, err := url.Parse(p.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("prometheus.url: %q is not an http:// or https:// base URL such as http://prometheus:9090", p.URL)
		}
	}
	if p.Timeout < 0 {
		return fmt.Errorf("prometheus.timeout: must be positive, such as 10s")
	}
	if p.URL == "" && p.Timeout != 0 {
		return fmt.Errorf("prometheus.timeout: set without prometheus.url; give the URL of the Prometheus to query, such as http://prometheus:9090")
	}
	return nil
}
