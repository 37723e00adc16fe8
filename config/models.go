package config

import (
	"fmt"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
)

// LoadApplyFile reads a declarative model file (YAML; "-" for standard
// input) into an ApplyDoc and checks what can be checked without the
// registry: names, endpoints, stages, weights.
func LoadApplyFile(path string) (sluice.ApplyDoc, error) {
	doc, _, err := LoadApplyFileRefs(path)
	return doc, err
}

// LoadApplyFileRefs is LoadApplyFile that also returns the files the
// model file's ${file:PATH} references name, each once, in order.
func LoadApplyFileRefs(path string) (sluice.ApplyDoc, []string, error) {
	b, err := readFile(path)
	if err != nil {
		return sluice.ApplyDoc{}, nil, err
	}
	var read readLog
	doc, err := parseApplyDoc(path, b, &read)
	return doc, read.paths, err
}

// ParseApplyDoc parses the YAML text of a model file; name labels errors.
func ParseApplyDoc(name string, text []byte) (sluice.ApplyDoc, error) {
	return parseApplyDoc(name, text, nil)
}

// parseApplyDoc is ParseApplyDoc noting in files (when not nil) the
// ${file:PATH} references read.
func parseApplyDoc(name string, text []byte, files *readLog) (sluice.ApplyDoc, error) {
	var doc sluice.ApplyDoc
	if err := decodeStrictFiles(name, text, &doc, files); err != nil {
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
		if m.Rollout != nil {
			// The server refuses it too (and for the planner's rolling,
			// which only it can tell); here the file's line is known.
			if err := sluice.UnjudgedGuards(*m.Rollout); err != nil {
				return doc, fmt.Errorf("%s.rollout.analysis.guards%s: %s", at, lineSuffix(text, "models", strconv.Itoa(i), "rollout", "analysis", "guards"), sluice.ErrorMessage(err))
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

// lineSuffix is " (line N)" for the value at path in the YAML text (each
// step a mapping key, or a list index in digits), "" when it is not
// there. ${ENV} expansion keeps lines where they are, so the text as
// written gives them.
func lineSuffix(text []byte, path ...string) string {
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil || len(doc.Content) == 0 {
		return ""
	}
	n := doc.Content[0]
	for _, step := range path {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == step {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(step); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return ""
		}
		n = next
	}
	return fmt.Sprintf(" (line %d)", n.Line)
}
