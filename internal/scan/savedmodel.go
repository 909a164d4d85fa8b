package scan

import (
	"bytes"

	"github.com/safehub/safehub/internal/scan/finding"
)

// TensorFlow SavedModel (saved_model.pb): a protobuf graph. Graphs run
// their ops when the model is loaded and called; a few ops reach outside
// TensorFlow (modelaudit_tensorflow_dangerous_ops). The graph is searched
// for NodeDef.op fields naming them, without a full protobuf parse.

const maxSavedModelScan = 64 << 20

// savedModelOutsideOps read or write arbitrary files or call back into
// Python. The rest of the peers' list (SaveV2, RestoreV2, Print, ...) is
// in every ordinary SavedModel and is not reported.
var savedModelOutsideOps = []string{"ReadFile", "WriteFile", "PyFunc", "EagerPyFunc", "PyFuncStateless", "PyCall", "ShellExecute"}

// looksLikeSavedModel: saved_model_schema_version = 1, then a MetaGraphDef.
func looksLikeSavedModel(h []byte) bool {
	return len(h) > 4 && h[0] == 0x08 && h[1] == 0x01 && h[2] == 0x12
}

func (s *scanner) scanSavedModel(t target, out *outcome) {
	out.format = "savedmodel"
	n := min(t.size, maxSavedModelScan)
	if t.size > n {
		out.add(t.note(finding.Unknown, 0, "SavedModel graph larger than the %d bytes the scanner searches", maxSavedModelScan))
	}
	b, err := readAt(t.r, 0, n)
	if err != nil {
		out.add(t.note(finding.Unknown, 0, "cannot read the SavedModel: %v", err))
		return
	}
	for _, op := range savedModelOutsideOps {
		field := append([]byte{0x12, byte(len(op))}, op...) // NodeDef.op
		if i := bytes.Index(b, field); i >= 0 {
			out.add(t.note(finding.Unsafe, int64(i), "TensorFlow graph uses the %s op, which reaches outside the model when it runs", op))
		}
	}
}
