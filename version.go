package sluice

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Stage is a version's place in its lifecycle.
type Stage string

// The lifecycle stages, in order.
const (
	StageDevelopment Stage = "development"
	StageStaging     Stage = "staging"
	StageProduction  Stage = "production"
	StageDeprecated  Stage = "deprecated"
	StageRetired     Stage = "retired"
)

// Stages lists every stage in lifecycle order.
var Stages = []Stage{StageDevelopment, StageStaging, StageProduction, StageDeprecated, StageRetired}

// transitions says which stage may follow which. A version moves forward
// through the lifecycle; it may step back from staging to development (a
// failed validation) and from deprecated to production (a deprecation
// reverted), and may be retired from any stage. Nothing leaves retired.
var transitions = map[Stage][]Stage{
	StageDevelopment: {StageStaging, StageRetired},
	StageStaging:     {StageDevelopment, StageProduction, StageRetired},
	StageProduction:  {StageDeprecated, StageRetired},
	StageDeprecated:  {StageProduction, StageRetired},
	StageRetired:     nil,
}

// Valid reports whether s is one of the lifecycle stages.
func (s Stage) Valid() bool { _, ok := transitions[s]; return ok }

// Servable reports whether a version in stage s may receive traffic.
func (s Stage) Servable() bool { return s.Valid() && s != StageRetired }

// CheckTransition returns nil when a version may move from stage from to
// stage to, and a CodeInvalid error naming the allowed next stages otherwise.
func CheckTransition(from, to Stage) error {
	if !to.Valid() {
		return Errorf(CodeInvalid, "unknown stage %q: use one of %s", to, joinStages(Stages))
	}
	if from == to {
		return nil
	}
	next := transitions[from]
	if slices.Contains(next, to) {
		return nil
	}
	if len(next) == 0 {
		return Errorf(CodeInvalid, "a %s version cannot change stage: register a new version instead", from)
	}
	return Errorf(CodeInvalid, "cannot move a version from %s to %s: from %s it may go to %s", from, to, from, joinStages(next))
}

func joinStages(ss []Stage) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Version is one immutable build of a model: fixed weights and config served
// by one or more backend endpoints. Everything but Stage is fixed once the
// version is registered; re-registering the same ID with other content is a
// conflict.
type Version struct {
	// Model is the model's name, such as "chat".
	Model string `json:"model" yaml:"-"`
	// Version is the version tag: a semver such as "v1.2.0" or a date tag
	// such as "2026-11-20".
	Version string `json:"version" yaml:"version"`
	// Endpoints are the base URLs of the OpenAI-compatible backends serving
	// this version, such as "http://10.0.0.7:8000". Requests are spread over
	// them round-robin.
	Endpoints []string `json:"endpoints" yaml:"endpoints"`
	// UpstreamModel is the "model" value sent to the backend. Empty means the
	// version's full ID.
	UpstreamModel string `json:"upstream_model,omitempty" yaml:"upstream_model,omitempty"`
	// BaseModel is the foundation model the weights derive from.
	BaseModel string `json:"base_model,omitempty" yaml:"base_model,omitempty"`
	// Family is the model family, such as "llama-3".
	Family string `json:"family,omitempty" yaml:"family,omitempty"`
	// Size is the parameter count as written by people, such as "8b".
	Size string `json:"size,omitempty" yaml:"size,omitempty"`
	// WeightHash identifies the weights; two versions with the same hash
	// differ only in configuration.
	WeightHash string `json:"weight_hash,omitempty" yaml:"weight_hash,omitempty"`
	// ConfigHash identifies the serving configuration.
	ConfigHash string `json:"config_hash,omitempty" yaml:"config_hash,omitempty"`
	// Lineage is free-form provenance: dataset version, training run, etc.
	Lineage map[string]string `json:"lineage,omitempty" yaml:"lineage,omitempty"`
	// GPUMemoryGB is the memory one replica needs, for capacity planning.
	GPUMemoryGB float64 `json:"gpu_memory_gb,omitempty" yaml:"gpu_memory_gb,omitempty"`
	// LoadTimeSeconds is how long a replica takes to load, for planning.
	LoadTimeSeconds float64 `json:"load_time_seconds,omitempty" yaml:"load_time_seconds,omitempty"`
	// Stage is the lifecycle stage; the one mutable field. Empty on
	// registration means development.
	Stage Stage `json:"stage" yaml:"stage,omitempty"`
	// SunsetAt, for a deprecated version, is when it will be retired; it is
	// sent in the Sunset header. Zero means not announced.
	SunsetAt time.Time `json:"sunset_at,omitzero" yaml:"sunset_at,omitempty"`
	// CreatedAt is when the version was registered: set by the registry,
	// at the commit of the change (the time of its audit entries).
	CreatedAt time.Time `json:"created_at" yaml:"-"`
}

// ID returns the full version id, "model:version".
func (v *Version) ID() string { return v.Model + ":" + v.Version }

// Upstream returns the model name to send to the backend.
func (v *Version) Upstream() string {
	if v.UpstreamModel != "" {
		return v.UpstreamModel
	}
	return v.ID()
}

// Clone returns a deep copy of v.
func (v Version) Clone() Version {
	v.Endpoints = slices.Clone(v.Endpoints)
	if v.Lineage != nil {
		l := make(map[string]string, len(v.Lineage))
		for k, x := range v.Lineage {
			l[k] = x
		}
		v.Lineage = l
	}
	return v
}

// ContentDiff returns the names of the immutable fields in which v and o
// differ (Stage, SunsetAt and CreatedAt are not content). An empty result
// means the two describe the same version.
func (v *Version) ContentDiff(o *Version) []string {
	var d []string
	if v.Model != o.Model {
		d = append(d, "model")
	}
	if v.Version != o.Version {
		d = append(d, "version")
	}
	if !slices.Equal(v.Endpoints, o.Endpoints) {
		d = append(d, "endpoints")
	}
	if v.Upstream() != o.Upstream() {
		d = append(d, "upstream_model")
	}
	if v.BaseModel != o.BaseModel {
		d = append(d, "base_model")
	}
	if v.Family != o.Family {
		d = append(d, "family")
	}
	if v.Size != o.Size {
		d = append(d, "size")
	}
	if v.WeightHash != o.WeightHash {
		d = append(d, "weight_hash")
	}
	if v.ConfigHash != o.ConfigHash {
		d = append(d, "config_hash")
	}
	if !mapsEqual(v.Lineage, o.Lineage) {
		d = append(d, "lineage")
	}
	if v.GPUMemoryGB != o.GPUMemoryGB {
		d = append(d, "gpu_memory_gb")
	}
	if v.LoadTimeSeconds != o.LoadTimeSeconds {
		d = append(d, "load_time_seconds")
	}
	return d
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		if y, ok := b[k]; !ok || x != y {
			return false
		}
	}
	return true
}

// nameRE is what model names, version tags and labels may contain: they
// appear in URLs, headers and metric labels, so no spaces, quotes, control
// characters or the separators ':' and '@'.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._\-/]{0,127}$`)

// CheckName returns a CodeInvalid error unless s is a valid model name,
// version tag or label; what names the kind of thing for the message.
func CheckName(what, s string) error {
	if !nameRE.MatchString(s) {
		return Errorf(CodeInvalid, "invalid %s %q: %s", what, s, NameRule)
	}
	return nil
}

// NameRule says what CheckName accepts, for messages that must not repeat
// the value refused (a client key's secret given where its name goes).
const NameRule = "use 1 to 128 letters, digits, '.', '_', '-' or '/', starting with a letter or digit"

// CheckKeyName checks the name of a client key given to find its requests.
// Its error does not repeat s: a secret pasted there (Bearer sk-...) is not
// echoed to a terminal or a log.
//
// A value that passes the name rule but looks like a secret (LooksLikeSecret:
// sk-..., or a long random run of letters and digits such as the README's
// openssl rand -hex 24) is refused too, so that the CLI never sends it and
// the admin API never searches for it; the config refuses such names for
// keys, so every key's name passes.
func CheckKeyName(s string) error {
	if !nameRE.MatchString(s) {
		return &Error{Code: CodeInvalid, Fields: []string{"key"}, Message: "key is not a client key's name (" + NameRule +
			"): give the key's name from client_keys in the gateway's config, never its secret (the value is not repeated here in case it is one)"}
	}
	if LooksLikeSecret(s) {
		return &Error{Code: CodeInvalid, Fields: []string{"key"}, Message: "key looks like an API key's secret (" + secretShape +
			"), not a client key's name: give the key's NAME from client_keys in the gateway's config, such as team-a (the value is not repeated here)"}
	}
	return nil
}

// secretShape says what LooksLikeSecret takes for a secret, for messages.
const secretShape = "sk-... or sk_..., or a run of 20 or more letters and digits as a random key makes: hex, or mixed-case letters and digits"

// LooksLikeSecret reports whether s looks like an API key's secret rather
// than a name: it starts with sk- or sk_ (any case; OpenAI's, Anthropic's
// and LiteLLM's keys, and this gateway's examples), or holds a run of 20
// or more ASCII letters and digits, at least 3 of each, as a random key
// makes: hex (openssl rand -hex 24, a SHA-256), or upper- and lower-case
// letters among digits, switching between letters and digits at least 5
// times (a base62 token). Names such as team-a, batch-jobs-2026,
// acmecorp2024production or region2eu3west1cluster4 are not: a config
// file naming a key so loaded before the check was added, and must still.
func LooksLikeSecret(s string) bool {
	if len(s) >= 3 && strings.EqualFold(s[:2], "sk") && (s[2] == '-' || s[2] == '_') {
		return true
	}
	var run, letters, digits, switches int
	var hex, upper, lower bool
	var last byte // 'd' or 'l': the class of the run's last character
	reset := func() {
		run, letters, digits, switches, last = 0, 0, 0, 0, 0
		hex, upper, lower = true, false, false
	}
	reset()
	for i := 0; i <= len(s); i++ {
		var c byte
		if i < len(s) {
			c = s[i]
		}
		var class byte
		switch {
		case c >= '0' && c <= '9':
			class, digits = 'd', digits+1
		case c >= 'a' && c <= 'z':
			class, letters, lower = 'l', letters+1, true
			hex = hex && c <= 'f'
		case c >= 'A' && c <= 'Z':
			class, letters, upper = 'l', letters+1, true
			hex = hex && c <= 'F'
		}
		if class == 0 {
			if run >= 20 && letters >= 3 && digits >= 3 && (hex || upper && lower && switches >= 5) {
				return true
			}
			reset()
			continue
		}
		if last != 0 && class != last {
			switches++
		}
		run, last = run+1, class
	}
	return false
}

// Validate checks a version about to be registered.
func (v *Version) Validate() error {
	if err := CheckName("model name", v.Model); err != nil {
		return err
	}
	if err := CheckName("version", v.Version); err != nil {
		return err
	}
	if len(v.Endpoints) == 0 {
		return &Error{Code: CodeInvalid, Message: fmt.Sprintf("version %s has no endpoints: add the base URL of its OpenAI-compatible backend, such as http://127.0.0.1:8000", v.ID()), Fields: []string{"endpoints"}}
	}
	for _, e := range v.Endpoints {
		if err := CheckEndpoint(e); err != nil {
			return fmt.Errorf("version %s: %w", v.ID(), err)
		}
	}
	if v.Stage != "" && !v.Stage.Valid() {
		return Errorf(CodeInvalid, "version %s: unknown stage %q: use one of %s", v.ID(), v.Stage, joinStages(Stages))
	}
	if v.GPUMemoryGB < 0 || v.LoadTimeSeconds < 0 {
		return Errorf(CodeInvalid, "version %s: gpu_memory_gb and load_time_seconds cannot be negative", v.ID())
	}
	for _, f := range []struct{ name, text string }{
		{"upstream_model", v.UpstreamModel}, {"base_model", v.BaseModel}, {"family", v.Family},
		{"size", v.Size}, {"weight_hash", v.WeightHash}, {"config_hash", v.ConfigHash},
	} {
		if err := CheckText(f.name, f.text); err != nil {
			return fmt.Errorf("version %s: %w", v.ID(), err)
		}
	}
	for k, val := range v.Lineage {
		if err := CheckText("lineage key", k); err != nil {
			return fmt.Errorf("version %s: %w", v.ID(), err)
		}
		if err := CheckText("lineage."+k, val); err != nil {
			return fmt.Errorf("version %s: %w", v.ID(), err)
		}
	}
	return nil
}

// CheckText returns a CodeInvalid error naming field unless s is valid
// UTF-8 without NUL: the text PostgreSQL refuses, which SQLite would keep,
// so that both stores take the same changes.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return &Error{Code: CodeInvalid, Fields: []string{field}, Message: fmt.Sprintf("%s is not valid UTF-8: send it as UTF-8 text", field)}
	}
	if strings.IndexByte(s, 0) >= 0 {
		return &Error{Code: CodeInvalid, Fields: []string{field}, Message: fmt.Sprintf("%s contains a NUL character: remove it", field)}
	}
	return nil
}

// CheckEndpoint returns a CodeInvalid error unless e is an http or https base
// URL with a host.
func CheckEndpoint(e string) error {
	rest, ok := strings.CutPrefix(e, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(e, "https://")
	}
	// The messages never quote the URL: it may hold credentials, and a
	// webhook's URL (Slack's, Discord's) is itself the secret.
	if !ok {
		scheme, _, found := strings.Cut(e, "://")
		if !found || strings.ContainsAny(scheme, "/@:?#") || len(scheme) > 10 {
			return Errorf(CodeInvalid, "invalid endpoint URL: it does not start with http:// or https://; use a base URL such as http://127.0.0.1:8000")
		}
		return Errorf(CodeInvalid, "invalid endpoint URL: its scheme is %q; use an http:// or https:// base URL such as http://127.0.0.1:8000", scheme)
	}
	if rest == "" {
		return Errorf(CodeInvalid, "invalid endpoint URL: it names no host; use an http:// or https:// base URL such as http://127.0.0.1:8000")
	}
	if i := strings.IndexAny(rest, " \t\r\n\"'<>"); i >= 0 {
		return Errorf(CodeInvalid, "invalid endpoint URL: character %d is a space, tab, line break, quote or angle bracket, which a URL cannot hold (write %%20 for a space); use an http:// or https:// base URL such as http://127.0.0.1:8000", len(e)-len(rest)+i+1)
	}
	// A URL that does not parse can never be reached, and the proxy's
	// error would have to say why on every request. The message quotes
	// only the part at fault: the URL may hold credentials or a webhook's
	// secret path.
	u, err := url.Parse(e)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Errorf(CodeInvalid, "invalid endpoint URL (%v): use an http:// or https:// base URL such as http://127.0.0.1:8000", err)
	}
	if u.Host == "" {
		return Errorf(CodeInvalid, "invalid endpoint URL: it names no host; use an http:// or https:// base URL such as http://127.0.0.1:8000")
	}
	if u.User != nil && u.User.String() == RedactedUserinfo {
		return Errorf(CodeInvalid, "endpoint %s holds %s@ where its credentials were: it was read with a viewer's or operator's token, which are not shown them; write the endpoint's real URL (with its user:password@), or ask an admin for the model file", u.Redacted(), RedactedUserinfo)
	}
	if name, ok := redactedQueryParam(u.RawQuery); ok {
		shown := *u
		shown.RawQuery, shown.Fragment = "", ""
		return Errorf(CodeInvalid, "endpoint %s holds %s=%s in its query where a secret was: it was read with a viewer's or operator's token, which are not shown them; write the endpoint's real URL, or ask an admin for the model file", shown.Redacted(), name, RedactedUserinfo)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Errorf(CodeInvalid, "invalid endpoint URL: port %q is not a port number (1 to 65535)", p)
		}
	}
	return nil
}

// RedactedUserinfo replaces the credentials (user:password@) of a backend's
// URL, and the values of its query parameters that look secret
// (SecretQueryParam), wherever the admin API or the dashboard shows it to
// a token that may not see them. An endpoint that holds it there is
// refused: it was read that way, not written by someone who knows the
// credentials.
const RedactedUserinfo = "REDACTED"

// SplitFullID splits "model:version" into its parts; ok is false when s has
// no ':'.
func SplitFullID(s string) (model, version string, ok bool) {
	return strings.Cut(s, ":")
}
