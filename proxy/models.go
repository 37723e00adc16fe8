package proxy

import (
	"encoding/json"
	"net/http"
)

// modelEntry is one entry of GET /v1/models in the OpenAI shape, with
// Sluice's routing facts as extra fields the OpenAI clients ignore.
type modelEntry struct {
	ID       string            `json:"id"`
	Object   string            `json:"object"`
	Created  int64             `json:"created"`
	OwnedBy  string            `json:"owned_by"`
	Policy   string            `json:"policy,omitempty"`
	Versions []string          `json:"versions,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Stage    string            `json:"stage,omitempty"`
}

// serveModels lists each model (the bare name, its policy, versions and
// labels), then each addressable version as "model:version" and each label
// as "model@label", so a client can discover every name it may send.
func (p *Proxy) serveModels(w http.ResponseWriter, r *http.Request) {
	views := p.opt.Routes.Load().Models()
	data := []modelEntry{}
	for _, m := range views {
		e := modelEntry{ID: m.Name, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: "sluice", Policy: m.Policy}
		for _, v := range m.Versions {
			if v.Servable {
				e.Versions = append(e.Versions, v.ID)
			}
		}
		if len(m.Labels) > 0 {
			e.Labels = map[string]string{}
			for _, l := range m.Labels {
				e.Labels[l.Label] = m.Name + ":" + l.Version
			}
		}
		data = append(data, e)
		for _, v := range m.Versions {
			if v.Addressable {
				data = append(data, modelEntry{ID: v.ID, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: "sluice", Stage: string(v.Stage)})
			}
		}
		for _, l := range m.Labels {
			data = append(data, modelEntry{ID: m.Name + "@" + l.Label, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: "sluice"})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": data})
}
