package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice"
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

// modelEntries lists each model (the bare name, its policy, the versions a
// pin reaches and its labels), then each addressable version as "model:version" and each label
// as "model@label", so a client can discover every name it may send. With
// client keys, a key limited to some models sees only those.
func (p *Proxy) modelEntries(r *http.Request) []modelEntry {
	views := p.opt.Routes.Load().Models()
	data := []modelEntry{}
	for _, m := range views {
		if p.opt.Admit != nil && p.opt.Admit(r, m.Name) != nil {
			continue
		}
		e := modelEntry{ID: m.Name, Object: "model", Created: m.UpdatedAt.Unix(), OwnedBy: "sluice", Policy: m.Policy}
		for _, v := range m.Versions {
			// The names a client may send (a staging version that only a
			// label, rule or policy could reach is servable, not pinned).
			if v.Addressable {
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
	return data
}

// serveModels answers GET /v1/models: modelEntries as an OpenAI list.
func (p *Proxy) serveModels(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"object": "list", "data": p.modelEntries(r)})
}

// serveModel answers GET /v1/models/{id} (the SDKs' models.retrieve): the
// entry of /v1/models with that id, or 404.
func (p *Proxy) serveModel(w http.ResponseWriter, r *http.Request, id string) {
	for _, e := range p.modelEntries(r) {
		if e.ID == id {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(e)
			return
		}
	}
	p.refuse(w, r, id, sluice.Errorf(sluice.CodeNotFound, "%s", "the model "+strconv.Quote(id)+" does not exist here: GET /v1/models lists the names this gateway serves"))
}
