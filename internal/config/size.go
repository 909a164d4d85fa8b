package config

import (
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Size is a byte count written as "500G", "20GiB", "1T", "512M" or a plain
// number of bytes. Units are powers of 1024, as in serve's --cache-max.
type Size int64

var units = []struct {
	suffix byte
	shift  uint
}{{'K', 10}, {'M', 20}, {'G', 30}, {'T', 40}, {'P', 50}}

// ParseSize reads a Size; "" is 0.
func ParseSize(s string) (Size, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "B"), "I")
	if t == "" {
		return 0, nil
	}
	shift := uint(0)
	for _, u := range units {
		if t[len(t)-1] == u.suffix {
			shift, t = u.shift, t[:len(t)-1]
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > (1<<62)>>shift {
		return 0, fmt.Errorf("%q is not a size such as 500G, 512M or 1048576", s)
	}
	return Size(n << shift), nil
}

// Set parses s into z (pflag.Value-style).
func (z *Size) Set(s string) error {
	v, err := ParseSize(s)
	if err != nil {
		return err
	}
	*z = v
	return nil
}

// String writes the largest exact unit: 536870912000 -> "500G".
func (z Size) String() string {
	n := int64(z)
	if n == 0 {
		return "0"
	}
	for i := len(units) - 1; i >= 0; i-- {
		if m := int64(1) << units[i].shift; n%m == 0 {
			return strconv.FormatInt(n/m, 10) + string(units[i].suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

// Bytes is z as an int64.
func (z Size) Bytes() int64 { return int64(z) }

// UnmarshalYAML accepts a number of bytes or a string with a unit.
func (z *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return typeErr(n.Line, fmt.Sprintf("expected a size such as 500G, got a %s", kindWord(n.Kind)))
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		return typeErr(n.Line, err.Error())
	}
	*z = v
	return nil
}

// MarshalYAML writes the short form, so a written config reads like a hand-written one.
func (z Size) MarshalYAML() (any, error) { return z.String(), nil }

// typeErr reports a bad value the way yaml reports type errors, so that
// decoding goes on and every problem of the file is listed at once.
func typeErr(line int, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", line, msg)}}
}

func kindWord(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}
