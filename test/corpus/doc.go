// Package corpus holds the scanner's test corpus generator (gen.py) and, behind
// the "corpus" build tag, the Go test that checks every generated file's
// verdict. See run.sh.
package corpus
