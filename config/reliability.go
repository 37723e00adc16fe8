package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
)

// OutlierEjection configures the circuit breaker per version: a version
// whose requests keep failing leaves the splits for a cool-down, as one
// failing health checks does.
type OutlierEjection struct {
	// Disabled turns outlier ejection off.
	Disabled bool `yaml:"disabled"`
	// ConsecutiveFailures ejects a version after this many failed requests
	// in a row; default 5.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// FailureRate ejects a version when this fraction of its requests in
	// Window failed (at least MinRequests of them); default 0.5.
	FailureRate float64 `yaml:"failure_rate"`
	// MinRequests is the least number of requests in Window before the
	// failure rate counts; default 20.
	MinRequests int `yaml:"min_requests"`
	// Window is how far back the failure rate looks; default 10s.
	Window time.Duration `yaml:"window"`
	// Cooldown is how long a first ejection lasts; default 10s. A version
	// that fails again on probation is ejected twice as long each time.
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxCooldown caps an ejection; default 5m, or Cooldown if longer.
	MaxCooldown time.Duration `yaml:"max_cooldown"`
}

// ClientKey is an API key for the OpenAI API (the data plane). When any is
// configured, every data plane request needs one (or an operator or admin
// token).
type ClientKey struct {
	// Name identifies the key in logs and the request log; never the secret.
	Name string `yaml:"name"`
	// Secret is the key itself; prefer "${ENV}".
	Secret string `yaml:"secret"`
	// SHA256 is the hex SHA-256 of the key, instead of Secret.
	SHA256 string `yaml:"sha256"`
	// Models the key may use, by model name (pins and labels of them
	// included); empty means every model.
	Models []string `yaml:"models"`
	// RateLimit is the requests per second the key may send; 0 means no
	// limit.
	RateLimit float64 `yaml:"rate_limit"`
	// Burst is how many requests may come at once above the rate; default
	// the rate rounded up (one second's worth), at least 1.
	Burst int `yaml:"burst"`
	// TokensPerMinute is how many tokens (prompt and answer, as the
	// backends' usage reports them) the key may use a minute; 0 means no
	// limit. Written as TokenBudget is: 200k, or a whole number.
	TokensPerMinute Tokens `yaml:"tokens_per_minute"`
	// TokenBudget is how many tokens (prompt and answer, as the request
	// log holds them) the key may use in each BudgetPeriod, across every
	// replica; 0 means no budget. Written as the CLI's --token-budget:
	// 50M, 1.5k, or a whole number.
	TokenBudget Tokens `yaml:"token_budget"`
	// BudgetPeriod is the budget's calendar period in UTC: day, week or
	// month.
	BudgetPeriod string `yaml:"budget_period"`
	// ForceVersion lets the key use the force-version header.
	ForceVersion bool `yaml:"force_version"`
}

// Tokens is a count of tokens in the config file (token_budget,
// tokens_per_minute): a whole number, or one with k, M or G such as 50M or
// 1.5k, read by sluice.ParseTokens; a YAML number it does not read
// (50_000_000, 5e7) is read as YAML reads it, as both keys were before
// they took suffixes, if it is whole. The CLI's --token-budget and
// --tokens-per-minute read theirs with ParseTokens, the same parser, so a
// value can be copied between the two.
type Tokens int64

// UnmarshalYAML reads a count of tokens. A value that is not one is a
// yaml type error naming config.Tokens, which explainTypeErrors turns
// into one naming the key (client_keys[2].token_budget) and saying what
// to write.
func (t *Tokens) UnmarshalYAML(n *yaml.Node) error {
	v, err := tokensOf(n)
	if err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s `%s` into config.Tokens", n.Line, n.ShortTag(), n.Value)}}
	}
	*t = Tokens(v)
	return nil
}

// ParseTokens reads a count of tokens written as the config file's
// token_budget and tokens_per_minute take it (Tokens): 50M, 1.5k, 200000,
// or a YAML number such as 50_000_000 or 5e7. The CLI reads its
// --token-budget and --tokens-per-minute with it. The error is
// sluice.ParseTokens's, which says what to write.
func ParseTokens(s string) (int64, error) {
	v, err := sluice.ParseTokens(s)
	if err == nil {
		return v, nil
	}
	// As the file reads a plain value after its key, its tag resolved by
	// YAML; the whole text, so quotes (text, as in the file), a tag or a
	// comment are not read past.
	var doc yaml.Node
	if yaml.Unmarshal([]byte(s), &doc) == nil && len(doc.Content) == 1 {
		n := doc.Content[0]
		if v, yerr := tokensOf(n); yerr == nil && n.Style == 0 && n.Value == strings.TrimSpace(s) {
			return v, nil
		}
	}
	return 0, err
}

// tokensOf reads a YAML node as a count of tokens: sluice.ParseTokens's
// forms, else a whole YAML number (yamlWhole).
func tokensOf(n *yaml.Node) (int64, error) {
	if n.Kind != yaml.ScalarNode {
		return 0, errors.New("not a scalar")
	}
	if v, err := sluice.ParseTokens(n.Value); err == nil {
		return v, nil
	}
	return yamlWhole(n)
}

// yamlWhole reads n, a YAML number ParseTokens does not read, as the
// int64 token_budget and tokens_per_minute were before they took 50M:
// 50_000_000, 5e7 or 0x2FAF080
// (so a file written then still loads), but only a whole one in range,
// where the int64 cut 2.5 to 2.
func yamlWhole(n *yaml.Node) (int64, error) {
	bad := errors.New("not a whole number")
	switch n.ShortTag() {
	case "!!int":
		var v int64
		if n.Decode(&v) != nil {
			return 0, bad
		}
		return v, nil
	case "!!float":
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) || math.Abs(f) >= 1<<63 {
			return 0, bad
		}
		return int64(f), nil
	}
	return 0, bad
}

// maxTokensPerMinute bounds a key's tokens_per_minute: a token then costs
// at least 60 ns of the key's minute, which its bucket counts in ns.
const maxTokensPerMinute = 1e9

// TLS names a listener's certificate and key (PEM files).
type TLS struct {
	// CertFile is the certificate chain, leaf first.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the private key.
	KeyFile string `yaml:"key_file"`
}

// Enabled reports whether a certificate is configured.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

func (o *OutlierEjection) setDefaults() {
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = 5
	}
	if o.FailureRate == 0 {
		o.FailureRate = 0.5
	}
	if o.MinRequests == 0 {
		o.MinRequests = 20
	}
	if o.Window == 0 {
		o.Window = 10 * time.Second
	}
	if o.Cooldown == 0 {
		o.Cooldown = 10 * time.Second
	}
	if o.MaxCooldown == 0 {
		o.MaxCooldown = max(5*time.Minute, o.Cooldown)
	}
}

// validateReliability checks outlier_ejection, client_keys, tls and
// admin_tls; the error names the key.
func (g *Gateway) validateReliability() error {
	o := g.OutlierEjection
	if o.ConsecutiveFailures < 0 {
		return fmt.Errorf("outlier_ejection.consecutive_failures: %d must be positive", o.ConsecutiveFailures)
	}
	if o.FailureRate < 0 || o.FailureRate > 1 {
		return fmt.Errorf("outlier_ejection.failure_rate: %v must be between 0 and 1, such as 0.5", o.FailureRate)
	}
	if o.MinRequests < 0 {
		return fmt.Errorf("outlier_ejection.min_requests: %d must be positive", o.MinRequests)
	}
	for key, d := range map[string]time.Duration{"outlier_ejection.window": o.Window, "outlier_ejection.cooldown": o.Cooldown, "outlier_ejection.max_cooldown": o.MaxCooldown} {
		if d < 0 {
			return fmt.Errorf("%s: must be positive, such as 10s", key)
		}
	}
	if o.MaxCooldown < o.Cooldown {
		return fmt.Errorf("outlier_ejection.max_cooldown: %s is below cooldown (%s); it caps the cool-down as it doubles, so make it at least as long", o.MaxCooldown, o.Cooldown)
	}
	names := map[string]bool{}
	hashes := map[string]string{}
	for i, k := range g.ClientKeys {
		at := fmt.Sprintf("client_keys[%d]", i)
		if err := sluice.CheckName("client key name", k.Name); err != nil {
			return fmt.Errorf("%s.name: %s", at, sluice.ErrorMessage(err))
		}
		if k.Name == "token" {
			// The proxy names an admin token used as a data plane key
			// "token": a key of that name would share what it owns.
			return fmt.Errorf("%s.name: \"token\" is reserved (it names admin tokens used as API keys, in the request log and in who owns a stored response): pick another name", at)
		}
		if sluice.LooksLikeSecret(k.Name) {
			// sluice usage --key and requests --key refuse such a value
			// before sending it: the key's requests could not be asked for.
			return fmt.Errorf("%s.name: looks like an API key's secret (sk-... or sk_..., or a run of 20 or more letters and digits as a random key makes: hex, or mixed-case letters and digits), and sluice usage --key and requests --key would refuse it as one: pick a plain name such as team-a", at)
		}
		if names[k.Name] {
			return fmt.Errorf("%s.name: %q is declared twice", at, k.Name)
		}
		names[k.Name] = true
		if (k.Secret == "") == (k.SHA256 == "") {
			return fmt.Errorf("%s: give exactly one of secret (such as \"${SLUICE_KEY_%s}\") or sha256", at, strings.ToUpper(strings.ReplaceAll(k.Name, "-", "_")))
		}
		if k.Secret != "" && len(k.Secret) < 16 {
			return fmt.Errorf("%s.secret: shorter than 16 characters; use a long random key (is its environment variable set?)", at)
		}
		if k.SHA256 != "" {
			if b, err := hex.DecodeString(k.SHA256); err != nil || len(b) != 32 {
				return fmt.Errorf("%s.sha256: must be 64 hex digits (the SHA-256 of the key, such as printf %%s \"$KEY\" | sha256sum)", at)
			}
		}
		h := k.Hash()
		if other, dup := hashes[h]; dup {
			return fmt.Errorf("%s: has the same secret as %s; give each key its own", at, other)
		}
		hashes[h] = k.Name
		for j, m := range k.Models {
			if err := sluice.CheckName("model name", m); err != nil {
				return fmt.Errorf("%s.models[%d]: %s", at, j, sluice.ErrorMessage(err))
			}
		}
		if k.RateLimit < 0 {
			return fmt.Errorf("%s.rate_limit: %v must be positive (requests per second), or 0 for no limit", at, k.RateLimit)
		}
		if k.Burst < 0 {
			return fmt.Errorf("%s.burst: %d must be positive", at, k.Burst)
		}
		if k.Burst > 0 && k.RateLimit == 0 {
			// Alone it would limit nothing, silently.
			return fmt.Errorf("%s.burst: %d is the requests allowed at once above rate_limit, and this key has no rate_limit: give a rate_limit too, or leave burst out", at, k.Burst)
		}
		if k.TokensPerMinute < 0 || k.TokensPerMinute > maxTokensPerMinute {
			return fmt.Errorf("%s.tokens_per_minute: %d must be between 1 and %d (tokens a minute, prompt and answer), or 0 for no limit", at, k.TokensPerMinute, int64(maxTokensPerMinute))
		}
		// The checks the admin API makes too, whose *sluice.Error the CLI
		// prints as its message alone: made a plain error here, so the
		// file's name stays in front of it as for the other keys.
		if err := sluice.CheckBudget(at+".", int64(k.TokenBudget), k.BudgetPeriod); err != nil {
			return errors.New(sluice.ErrorMessage(err))
		}
		if err := sluice.CheckBudgetRetention(at+".", k.BudgetPeriod, g.logRetention()); err != nil {
			return errors.New(sluice.ErrorMessage(err))
		}
	}
	for key, t := range map[string]TLS{"tls": g.TLS, "admin_tls": g.AdminTLS} {
		if !t.Enabled() {
			continue
		}
		if t.CertFile == "" || t.KeyFile == "" {
			return fmt.Errorf("%s: give both cert_file and key_file", key)
		}
		for sub, f := range map[string]string{"cert_file": t.CertFile, "key_file": t.KeyFile} {
			if _, err := os.Stat(f); err != nil {
				return fmt.Errorf("%s.%s: %v", key, sub, err)
			}
		}
	}
	if g.AdminTLS.Enabled() && g.AdminListen == "" {
		return fmt.Errorf("admin_tls: set admin_listen too (without it the admin API is served on listen, with tls)")
	}
	return nil
}

// Hash returns the hex SHA-256 of the key: of Secret, or SHA256 as given.
func (k ClientKey) Hash() string {
	if k.Secret != "" {
		return sluice.HashSecret(k.Secret)
	}
	return strings.ToLower(k.SHA256)
}

// AdminTLSConfig returns the certificate of the admin listener: admin_tls,
// else tls (one certificate for both).
func (g *Gateway) AdminTLSConfig() TLS {
	if g.AdminTLS.Enabled() {
		return g.AdminTLS
	}
	return g.TLS
}

// logRetention is how long the request log keeps its rows (its default
// when not given), 0 for ever.
func (g *Gateway) logRetention() time.Duration {
	switch {
	case g.RequestLog.Keep:
		return 0
	case g.RequestLog.Retention == 0:
		return 7 * 24 * time.Hour
	}
	return g.RequestLog.Retention
}
