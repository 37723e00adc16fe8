// Package config loads Sluice's YAML files: the gateway configuration that
// `sluice serve` reads and the declarative model file that `sluice apply -f`
// sends. Decoding is strict (an unknown key is an error naming it),
// ${ENV} references are expanded first, and values are validated at load
// with messages that name the key.
package config
