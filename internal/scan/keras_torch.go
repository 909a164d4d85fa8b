package scan

import (
	"bytes"
	"encoding/base64"
	"errors"

	"github.com/safehub/safehub/internal/scan/finding"
)

// kerasTorchChain names the sink in the chain of findings from the torch
// file inside a TorchModuleWrapper, e.g. "keras TorchModuleWrapper → os.system".
const kerasTorchChain = "keras TorchModuleWrapper"

// scanTorchModuleWrapper scans the torch file a TorchModuleWrapper carries.
// Keras 3 writes config.module as base64 of torch.save bytes and its
// from_config passes the decoded bytes to torch.load(weights_only=False)
// (keras/src/utils/torch_utils.py), so the bytes are scanned as a nested
// file, one level down, with the same options. The wrapper itself is
// already graded unsafe; this names the callable behind it.
func (s *scanner) scanTorchModuleWrapper(t target, obj map[string]any, out *outcome) {
	cfg, _ := obj["config"].(map[string]any)
	if cfg == nil {
		return
	}
	enc, ok := cfg["module"].(string)
	if !ok {
		return
	}
	// The walker visits cfg next and grades every "module" key as a Python
	// module name; this one is a payload, already handled here.
	delete(cfg, "module")
	// The config is bounded (maxKerasConfig, the HDF5 attribute reader), so
	// the decoded size is too; the inflate cap still applies as for any
	// embedded file.
	if int64(base64.StdEncoding.DecodedLen(len(enc))) > s.opts.MaxInflate {
		out.add(t.note(finding.Unknown, 0, "keras TorchModuleWrapper module of %d base64 characters exceeds the %d-byte limit", len(enc), s.opts.MaxInflate))
		return
	}
	data, err := decodeLooseBase64(enc)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "keras TorchModuleWrapper module is not base64 (%v), so the torch file in it cannot be checked", err))
		return
	}
	inner := t.child(bytes.NewReader(data), int64(len(data)), "TorchModuleWrapper.module")
	inner.chain = joinChain(t.chain, kerasTorchChain)
	res := s.scanTarget(inner)
	out.add(res.findings...)
}

func joinChain(outer, sink string) string {
	if outer == "" {
		return sink
	}
	return outer + " → " + sink
}

// decodeLooseBase64 decodes as Python's base64.b64decode does by default:
// characters outside the alphabet are skipped and decoding stops at the
// first padding character.
func decodeLooseBase64(s string) ([]byte, error) {
	clean := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '=' {
			break
		}
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			clean = append(clean, c)
		}
	}
	if len(clean)%4 == 1 {
		return nil, errors.New("invalid number of base64 characters")
	}
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
	n, err := base64.RawStdEncoding.Decode(out, clean)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}
