package config

import (
	"fmt"

	"github.com/sluicehq/sluice"
)

// LoadApplyFile reads a declarative model file (YAML; "-" for standard
// input) into an ApplyDoc and checks what can be checked without the
// registry: names, endpoints, stages, weights.
func LoadApplyFile(path string) (sluice.ApplyDoc, error) {
	b, err := readFile(path)
	if err != nil {
		return sluice.ApplyDoc{}, err
	}
	return ParseApplyDoc(path, b)
}

// ParseApplyDoc parses the YAML text of a model file; name labels errors.
func ParseApplyDoc(name string, text []byte) (sluice.ApplyDoc, error) {
	var doc sluice.ApplyDoc
	if err := decodeStrict(name, text, &doc); err != nil {
		return doc, err
	}
	if len(doc.Models) == 0 {
		return doc, fmt.Errorf("%s: no models: the file needs a top-level \"models:\" list", name)
	}
	for i, m := range doc.Models {
		at := fmt.Sprintf("%s: models[%d]", name, i)
		if err := sluice.CheckName("model name", m.Name); err != nil {
			return doc, fmt.Errorf("%s.name: %s", at, sluice.ErrorMessage(err))
		}
		for j := range m.Versions {
			v := m.Versions[j]
			v.Model = m.Name
			if err := v.Validate(); err != nil {
				return doc, fmt.Errorf("%s.versions[%d]: %s", at, j, sluice.ErrorMessage(err))
			}
		}
		if m.Policy != nil {
			switch m.Policy.Kind {
			case "", sluice.PolicyLatest, sluice.PolicyAll, sluice.PolicySpecific, sluice.PolicySplit, sluice.PolicyOff:
			default:
				return doc, fmt.Errorf("%s.policy.kind: unknown policy %q: use specific, latest, all, split or off", at, m.Policy.Kind)
			}
		}
	}
	return doc, nil
}
