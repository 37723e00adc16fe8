package fakellm

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadConfig reads a YAML configuration file, expands ${NAME} references to
// environment variables, decodes it strictly (unknown keys are errors) and
// validates it. Defaults are not applied; New does that.
func LoadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read fakellm config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return Config{}, fmt.Errorf("fakellm config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig is LoadConfig on a YAML document already in memory. An empty
// document is the zero Config.
func ParseConfig(data []byte) (Config, error) {
	var cfg Config
	dec := yaml.NewDecoder(bytes.NewReader(expandEnv(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// expandEnv replaces ${NAME} with the value of environment variable NAME.
// A bare $ is left alone so refusal texts and the like may contain it.
func expandEnv(data []byte) []byte {
	if !bytes.Contains(data, []byte("${")) {
		return data
	}
	var out bytes.Buffer
	for {
		i := bytes.Index(data, []byte("${"))
		if i < 0 {
			break
		}
		j := bytes.IndexByte(data[i:], '}')
		if j < 0 {
			break
		}
		out.Write(data[:i])
		out.WriteString(os.Getenv(string(data[i+2 : i+j])))
		data = data[i+j+1:]
	}
	out.Write(data)
	return out.Bytes()
}

// checkKeys fails on mapping keys other than the allowed ones; a custom
// UnmarshalYAML loses the decoder's KnownFields strictness, so it is
// restored here.
func checkKeys(node *yaml.Node, typ string, allowed ...string) error {
	for i := 0; i+1 < len(node.Content); i += 2 {
		k := node.Content[i]
		ok := false
		for _, a := range allowed {
			ok = ok || k.Value == a
		}
		if !ok {
			return fmt.Errorf("line %d: field %s not found in %s (want %s)", k.Line, k.Value, typ, strings.Join(allowed, ", "))
		}
	}
	return nil
}

// UnmarshalYAML accepts a mapping with median_ms and p99_ms, or a bare
// number of milliseconds for a fixed duration.
func (d *Distribution) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if node.Kind == yaml.ScalarNode {
		*d = Distribution{}
		return node.Decode(&d.MedianMS)
	}
	if err := checkKeys(node, "distribution", "median_ms", "p99_ms"); err != nil {
		return err
	}
	type plain Distribution
	return node.Decode((*plain)(d))
}

// UnmarshalJSON accepts an object with median_ms and p99_ms, or a bare
// number of milliseconds for a fixed duration.
func (d *Distribution) UnmarshalJSON(data []byte) error {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] != '{' && t[0] != 'n' {
		*d = Distribution{}
		return json.Unmarshal(t, &d.MedianMS)
	}
	type plain Distribution
	return json.Unmarshal(data, (*plain)(d))
}

// UnmarshalYAML accepts a mapping with mean and spread, or a bare number for
// a fixed length.
func (t *TokenCount) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.AliasNode && node.Alias != nil {
		node = node.Alias
	}
	if node.Kind == yaml.ScalarNode {
		*t = TokenCount{}
		return node.Decode(&t.Mean)
	}
	if err := checkKeys(node, "output_tokens", "mean", "spread"); err != nil {
		return err
	}
	type plain TokenCount
	return node.Decode((*plain)(t))
}

// UnmarshalJSON accepts an object with mean and spread, or a bare number for
// a fixed length.
func (t *TokenCount) UnmarshalJSON(data []byte) error {
	if s := bytes.TrimSpace(data); len(s) > 0 && s[0] != '{' && s[0] != 'n' {
		*t = TokenCount{}
		return json.Unmarshal(s, &t.Mean)
	}
	type plain TokenCount
	return json.Unmarshal(data, (*plain)(t))
}
