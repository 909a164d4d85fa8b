package config

import (
	"bytes"
	"os"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// Resolve is the whole layering for `safehub serve` in one call: the file
// at path (when path is "", DefaultPath if it exists, else no file), then
// the environment, then the flags of fs that were set, then Validate.
func Resolve(path string, fs *pflag.FlagSet) (*Config, error) {
	c := Defaults()
	if path == "" {
		if _, err := os.Stat(DefaultPath); err == nil {
			path = DefaultPath
		}
	}
	if path != "" {
		var err error
		if c, err = Load(path); err != nil {
			return nil, err
		}
	}
	c.ApplyEnv()
	if fs != nil {
		if err := c.ApplyFlags(fs); err != nil {
			return nil, err
		}
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// IsConfigFile reports whether the YAML file at path looks like a safehub
// config rather than a policy: a mapping whose top-level keys are all
// config keys. `safehub policy check` uses it to pick the checker.
func IsConfigFile(path string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	return isConfigData(data), nil
}

func isConfigData(data []byte) bool {
	if len(data) > MaxConfigBytes {
		return false
	}
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil || len(doc.Content) == 0 {
		return false
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode || len(m.Content) == 0 {
		return false
	}
	// A config file is one that names any serve setting and no policy
	// key, so that a misspelt key in a config file is reported against the
	// config schema, not the policy's.
	known := map[string]bool{}
	for _, k := range topKeys {
		known[k] = true
	}
	config := false
	for i := 0; i < len(m.Content); i += 2 {
		k := m.Content[i].Value
		if policyKeys[k] {
			return false
		}
		config = config || known[k]
	}
	return config
}

// policyKeys are the top-level keys of a policy file.
var policyKeys = map[string]bool{"mode": true, "weights_only_pickles": true, "defaults": true, "scan_profile": true, "rules": true}
