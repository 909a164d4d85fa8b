package policy

import (
	"fmt"

	"go.yaml.in/yaml/v3"
)

// rawPolicy is the YAML schema (docs/policy.md). Every value remembers its
// line so validation errors can point at it.
type rawPolicy struct {
	Mode               located[string] `yaml:"mode"`
	WeightsOnlyPickles located[bool]   `yaml:"weights_only_pickles"`
	Defaults           located[bool]   `yaml:"defaults"`
	ScanProfile        located[string] `yaml:"scan_profile"`
	Rules              []rawRule       `yaml:"rules"`
}

type rawRule struct {
	Name               located[string] `yaml:"name"`
	Action             located[string] `yaml:"action"`
	Repos              stringList      `yaml:"repos"`
	RepoTypes          stringList      `yaml:"repo_types"`
	Files              stringList      `yaml:"files"`
	Reason             located[string] `yaml:"reason"`
	WeightsOnlyPickles located[bool]   `yaml:"weights_only_pickles"`
}

// located is a scalar value with the line it was written on. Set is false
// when the key is absent (or null).
type located[T any] struct {
	Value T
	Line  int
	Set   bool
}

func (l *located[T]) UnmarshalYAML(n *yaml.Node) error {
	l.Line = n.Line
	if n.Kind != yaml.ScalarNode {
		var zero T
		return typeError(n, fmt.Sprintf("expected %s, got %s", scalarWords(zero), kindWords(n.Kind)))
	}
	if err := n.Decode(&l.Value); err != nil {
		return err // a *yaml.TypeError with the line; decoding goes on
	}
	l.Set = true
	return nil
}

// stringList is a list of strings; a single string is accepted as a list of
// one ("files: '*.bin'"), since that is what an admin means by it.
type stringList struct {
	Items []located[string]
	Line  int // 0 when the key is absent
	Nodes int // list items written, valid or not
}

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	s.Line = n.Line
	switch n.Kind {
	case yaml.ScalarNode:
		s.Items = []located[string]{{Value: n.Value, Line: n.Line, Set: true}}
		s.Nodes = 1
		return nil
	case yaml.SequenceNode:
		s.Nodes = len(n.Content)
		var errs []string
		for _, item := range n.Content {
			if item.Kind == yaml.AliasNode && item.Alias != nil {
				item = item.Alias // "- *common" names an anchored string
			}
			if item.Kind != yaml.ScalarNode {
				errs = append(errs, fmt.Sprintf("line %d: expected a string in this list, got %s", item.Line, kindWords(item.Kind)))
				continue
			}
			s.Items = append(s.Items, located[string]{Value: item.Value, Line: item.Line, Set: true})
		}
		if errs != nil {
			return &yaml.TypeError{Errors: errs}
		}
		return nil
	}
	return typeError(n, "expected a string or a list of strings, got "+kindWords(n.Kind))
}

func typeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

func kindWords(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a value"
}

func scalarWords(v any) string {
	if _, ok := v.(bool); ok {
		return "true or false"
	}
	return "a string"
}
