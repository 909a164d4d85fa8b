package pickle

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

// lists.json is a verbatim copy of /work/shared/scanner-lists.json: data
// tables with their upstream sources (allowlists, deny-lists, the Python-2
// name mappings). Code here only reads it.
//
//go:embed lists.json
var listsJSON []byte

type rawLists struct {
	TorchAllowed struct {
		Names []string `json:"names"`
	} `json:"torch_weights_only_allowed_globals"`
	TorchBlocked struct {
		Modules []string `json:"modules"`
	} `json:"torch_weights_only_blocked_modules"`
	TorchOpcodes struct {
		Opcodes []string `json:"opcodes"`
	} `json:"torch_weights_only_opcodes"`
	NumpyAdditions struct {
		Names []string `json:"names"`
	} `json:"numpy_tolerant_additions"`
	ImportMapping struct {
		Mapping map[string]string `json:"mapping"`
	} `json:"python_compat_import_mapping"`
	NameMapping struct {
		Mapping [][4]string `json:"mapping"`
	} `json:"python_compat_name_mapping"`
	Deny struct {
		Paths      []string `json:"paths"`
		Components []string `json:"components"`
	} `json:"recommended_deny"`
	NeverAllow struct {
		Names []string `json:"names"`
	} `json:"never_allow"`
	Sinks struct {
		Names []string `json:"names"`
	} `json:"nested_payload_sinks"`
}

type pair struct{ module, name string }

// tables is the parsed, indexed form of lists.json.
type tables struct {
	torchAllowed   []string
	torchBlocked   map[string]bool // modules never allowed, even if allowlisted
	torchOpcodes   map[string]bool // opcodes torch's weights_only unpickler accepts
	numpyAdditions []string
	importMapping  map[string]string
	nameMapping    map[pair]pair
	denyPaths      map[string]bool
	denyComponents map[string]bool
	neverAllow     map[string]bool
	sinks          map[string]bool
}

var (
	tablesOnce sync.Once
	tablesVal  *tables
	tablesErr  error
)

// loadTables parses the embedded lists once.
func loadTables() (*tables, error) {
	tablesOnce.Do(func() { tablesVal, tablesErr = parseTables(listsJSON) })
	return tablesVal, tablesErr
}

func mustTables() *tables {
	t, err := loadTables()
	if err != nil {
		// The file is embedded at build time and covered by tests, so this
		// is a build defect, not an input error.
		panic(err)
	}
	return t
}

func parseTables(b []byte) (*tables, error) {
	var raw rawLists
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("pickle: parse lists.json: %w", err)
	}
	if len(raw.TorchAllowed.Names) == 0 || len(raw.Deny.Paths) == 0 || len(raw.NeverAllow.Names) == 0 {
		return nil, fmt.Errorf("pickle: lists.json lacks the allowlist, deny-list or never_allow list")
	}
	t := &tables{
		torchAllowed:   raw.TorchAllowed.Names,
		torchBlocked:   set(raw.TorchBlocked.Modules),
		torchOpcodes:   set(raw.TorchOpcodes.Opcodes),
		numpyAdditions: raw.NumpyAdditions.Names,
		importMapping:  raw.ImportMapping.Mapping,
		nameMapping:    make(map[pair]pair, len(raw.NameMapping.Mapping)),
		denyPaths:      set(raw.Deny.Paths),
		denyComponents: set(raw.Deny.Components),
		neverAllow:     set(raw.NeverAllow.Names),
		sinks:          set(raw.Sinks.Names),
	}
	for _, row := range raw.NameMapping.Mapping {
		t.nameMapping[pair{row[0], row[1]}] = pair{row[2], row[3]}
	}
	return t, nil
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}
