package config

import (
	"fmt"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Log configures the gateway's own log, written to standard error.
type Log struct {
	// Format is text (default: slog's key=value lines) or json (one JSON
	// object a line, for a log shipper).
	Format string `yaml:"format"`
	// Level is the least severe record written: debug, info (default),
	// warn or error. SIGHUP applies a new level; a new format needs a
	// restart.
	Level string `yaml:"level"`
}

// logLevels are the values of log.level, least severe first.
var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func (l *Log) setDefaults() {
	if l.Format == "" {
		l.Format = "text"
	}
	if l.Level == "" {
		l.Level = "info"
	}
	l.Format = strings.ToLower(l.Format)
	l.Level = strings.ToLower(l.Level)
}

func (l *Log) validate() error {
	if err := CheckLogFormat(l.Format); err != nil {
		return fmt.Errorf("log.format: %w", err)
	}
	if err := CheckLogLevel(l.Level); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	return nil
}

// CheckLogFormat checks a value of log.format (or --log-format); the
// error says which values it takes.
func CheckLogFormat(format string) error {
	if f := strings.ToLower(format); f != "text" && f != "json" {
		return fmt.Errorf("%q is not a log format Sluice writes; use text or json", format)
	}
	return nil
}

// CheckLogLevel checks a value of log.level (or --log-level); the error
// says which values it takes.
func CheckLogLevel(level string) error {
	if _, ok := logLevels[strings.ToLower(level)]; !ok {
		return fmt.Errorf("%q is not a log level; use debug, info, warn or error", level)
	}
	return nil
}

// SlogLevel returns the level as log/slog's; info when it is not set.
func (l Log) SlogLevel() slog.Level {
	if lv, ok := logLevels[strings.ToLower(l.Level)]; ok {
		return lv
	}
	return slog.LevelInfo
}

// PeekLogFormat returns the log.format of the gateway configuration file
// at path as far as it can be read, for the one line `sluice serve` writes
// when it cannot start: "json" or "text", or "" when the file cannot be
// read or is not YAML. It reads leniently what LoadGateway refuses (an
// unknown key, a bad value elsewhere, an unset ${VAR} elsewhere), so the
// refusal itself is written in the format the file asks for.
func PeekLogFormat(path string) string {
	if path == "-" {
		return "" // standard input is read once, by LoadGateway
	}
	text, err := readFile(path)
	if err != nil {
		return ""
	}
	exp, expErr := expandEnvYAML(text)
	if expErr == nil {
		text = exp
	}
	var doc struct {
		Log struct {
			Format string `yaml:"format"`
		} `yaml:"log"`
	}
	if yaml.Unmarshal(text, &doc) != nil {
		return ""
	}
	if expErr != nil {
		// A variable elsewhere is unset (the error to be written): the
		// format's own, if it has one, may be set.
		doc.Log.Format = envRE.ReplaceAllStringFunc(doc.Log.Format, func(ref string) string {
			return os.Getenv(envRE.FindStringSubmatch(ref)[1])
		})
	}
	l := Log{Format: doc.Log.Format}
	l.setDefaults()
	if CheckLogFormat(l.Format) != nil {
		return ""
	}
	return l.Format
}
