package scan

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/safehub/safehub/internal/scan/finding"
)

// kerasWithModule is a .keras archive whose one layer is a
// TorchModuleWrapper with config.module set to module.
func kerasWithModule(t *testing.T, module any) []byte {
	t.Helper()
	cfg, err := json.Marshal(map[string]any{
		"module": "keras", "class_name": "Sequential",
		"config": map[string]any{"name": "s", "layers": []any{map[string]any{
			"module": "keras.layers", "class_name": "TorchModuleWrapper", "registered_name": nil,
			"config": map[string]any{"name": "t", "module": module},
		}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return zipBytes(t,
		zipMember{Name: "metadata.json", Data: []byte(`{"keras_version":"3.9.0"}`)},
		zipMember{Name: "config.json", Data: cfg})
}

// The torch file inside a TorchModuleWrapper is scanned: its payload is
// named with the wrapper in the chain, and the base64 is never reported as
// a module name.
func TestKerasTorchModuleWrapperPayload(t *testing.T) {
	evilZip := zipBytes(t, torchMembers(t, evilP2)...)
	cases := map[string]string{
		"base64":          base64.StdEncoding.EncodeToString(evilZip),
		"wrapped base64":  wrap76(base64.StdEncoding.EncodeToString(evilZip)),
		"unpadded base64": strings.TrimRight(base64.StdEncoding.EncodeToString(evilZip), "="),
		"legacy pickle":   base64.StdEncoding.EncodeToString(evilP2),
	}
	for name, enc := range cases {
		t.Run(name, func(t *testing.T) {
			r := scanBytes(t, "m.keras", kerasWithModule(t, enc))
			expect(t, r, "keras", finding.Unsafe)
			named := false
			for _, f := range r.Findings {
				if f.Verdict == finding.Unsafe && strings.Contains(f.Callable, "system") &&
					strings.HasPrefix(f.Chain, "keras TorchModuleWrapper → ") && strings.HasSuffix(f.Chain, "system") {
					named = true
				}
				if strings.Contains(f.Callable, enc[:16]) || strings.Contains(f.Reason, enc[:16]) {
					t.Errorf("base64 reported as a name: %+v", f)
				}
			}
			if !named {
				t.Errorf("payload not named with the wrapper chain: %+v", r.Findings)
			}
		})
	}
}

// A wrapper around a clean torch file is still unsafe (torch.load with
// weights_only=False), but has no payload finding; undecodable base64 says so.
func TestKerasTorchModuleWrapperCleanAndBroken(t *testing.T) {
	clean := base64.StdEncoding.EncodeToString(zipBytes(t, torchMembers(t, nil)...))
	r := scanBytes(t, "m.keras", kerasWithModule(t, clean))
	expect(t, r, "keras", finding.Unsafe)
	for _, f := range r.Findings {
		if f.Verdict == finding.Unsafe && f.Callable != "" {
			t.Errorf("clean torch module reported a call: %+v", f)
		}
	}
	r = scanBytes(t, "m.keras", kerasWithModule(t, "QUJDR"))
	expect(t, r, "keras", finding.Unsafe)
	if !hasReason(r, "not base64") {
		t.Errorf("undecodable module not reported: %+v", r.Findings)
	}
	// A module that is not a string is left to the generic walk.
	expect(t, scanBytes(t, "m.keras", kerasWithModule(t, map[string]any{"class_name": "__bytes__"})), "keras", finding.Unsafe)
}

func wrap76(s string) string {
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\n")
		s = s[76:]
	}
	b.WriteString(s)
	return b.String()
}

func TestDecodeLooseBase64(t *testing.T) {
	for in, want := range map[string]string{
		"aGVsbG8=":        "hello",
		"aGVs\nbG8":       "hello",
		"aGVsbG8=garbage": "hello",
		"":                "",
	} {
		got, err := decodeLooseBase64(in)
		if err != nil || string(got) != want {
			t.Errorf("decodeLooseBase64(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := decodeLooseBase64("abcde"); err == nil {
		t.Error("5 base64 characters decoded without error")
	}
}
