package config

import "testing"

// FuzzParse: any bytes give a config or an error, never a panic, and a
// config that parses also validates without panicking.
func FuzzParse(f *testing.F) {
	for _, s := range []string{fullConfig, "", "listen: [\n", "audit_log:\n  max_size: 1G\n",
		"cache_max: 99999999999P\n", "a: &x [*x]\n", "audit_log: !!binary aGk=\n", "- 1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yaml")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		_ = c.Validate()
	})
}
