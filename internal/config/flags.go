package config

import "github.com/spf13/pflag"

// ApplyFlags applies the flags of fs that the user set on the command line
// (pflag's Changed), by the names in FlagKeys; flags not in FlagKeys are
// ignored. Unset flags keep the file's (or the environment's) value, which
// is why serve must not bake SAFEHUB_* into its flag defaults when it
// reads a config file.
func (c *Config) ApplyFlags(fs *pflag.FlagSet) error {
	set := map[string]string{}
	fs.Visit(func(f *pflag.Flag) { // Visit walks only flags that were set
		if _, ok := FlagKeys[f.Name]; ok {
			set[f.Name] = f.Value.String()
		}
	})
	return c.ApplyOverrides(set)
}
