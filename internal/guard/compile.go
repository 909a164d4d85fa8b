package guard

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// compileScript byte-compiles (source, pyc, optimisation) triples with
// checked-hash invalidation: valid whatever the files' mtimes, and still
// recompiled in memory (never silently stale) if a source changes. Users who
// cannot write __pycache__ would otherwise compile at every start (2-3 ms).
const compileScript = `
import os, sys, py_compile
a = sys.argv[1:]
for i in range(0, len(a), 3):
    src, pyc, opt = a[i], a[i + 1], int(a[i + 2])
    tmp = pyc + ".safehub-new"
    py_compile.compile(src, cfile=tmp, optimize=opt, doraise=True,
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    with open(tmp, "rb") as f:
        new = f.read()
    old = None
    if os.path.exists(pyc):
        with open(pyc, "rb") as f:
            old = f.read()
    if old == new:  # hash-based .pyc files are deterministic: leave an identical one alone
        os.remove(tmp)
    else:
        os.chmod(tmp, 0o644)
        os.replace(tmp, pyc)
`

type compileJob struct {
	Source string
	Pyc    string
	Opt    int
}

// jobsFor returns the compile jobs for source at levels 0, 1, 2.
func jobsFor(source, cacheTag string) []compileJob {
	var jobs []compileJob
	for opt, pyc := range pycPaths(source, cacheTag) {
		jobs = append(jobs, compileJob{Source: source, Pyc: pyc, Opt: opt})
	}
	return jobs
}

// Compiler byte-compiles files with the target interpreter.
type Compiler func(ctx context.Context, python string, jobs []compileJob) error

// PythonCompiler runs the target interpreter itself: the .pyc format and
// magic number are the interpreter's own.
func PythonCompiler(ctx context.Context, python string, jobs []compileJob) error {
	if len(jobs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	args := []string{"-I", "-B", "-c", compileScript} // -B: py_compile writes anyway; start-up imports must not
	for _, j := range jobs {
		args = append(args, j.Source, j.Pyc, fmt.Sprint(j.Opt))
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("byte-compile with %s: %w: %s", python, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
