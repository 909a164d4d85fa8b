package hubrepo

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// RepoTypes are the folder names under a root, in the Hub's URL spelling
// ("models", not "model").
var RepoTypes = []string{"models", "datasets", "spaces", "kernels"}

// Limits on names. The Hub allows 96 characters per id segment; paths inside a
// repository are capped so that a hostile request cannot make us build huge keys.
const (
	MaxNameLen = 96
	MaxPathLen = 4096
)

// Errors returned by the lookup functions. Callers map them to Hub error codes:
// ErrRepoNotFound → RepoNotFound, ErrRevisionNotFound → RevisionNotFound,
// ErrEntryNotFound → EntryNotFound, ErrInvalidName → 400.
var (
	ErrRepoNotFound     = errors.New("repository not found")
	ErrRevisionNotFound = errors.New("revision not found")
	ErrEntryNotFound    = errors.New("entry not found")
	ErrInvalidName      = errors.New("invalid name")
	ErrTooManyFiles     = errors.New("too many files in repository")
	ErrChanged          = errors.New("file changed on disk since it was hashed")
)

// ValidRepoType reports whether t is one of RepoTypes.
func ValidRepoType(t string) bool {
	for _, k := range RepoTypes {
		if t == k {
			return true
		}
	}
	return false
}

// CheckRepoID checks a repository id ("org/name" or a legacy "name") against
// the Hub's naming rules: each segment 1–96 characters of letters, digits,
// '-', '_' and '.', starting with a letter or digit, without "--" or "..",
// and not ending in ".git".
func CheckRepoID(id string) error {
	segs := strings.Split(id, "/")
	if len(segs) > 2 {
		return fmt.Errorf("%w: repo id %q has more than two segments", ErrInvalidName, id)
	}
	for _, s := range segs {
		if err := checkNameSegment(s); err != nil {
			return fmt.Errorf("%w: repo id %q: %v", ErrInvalidName, id, err)
		}
	}
	return nil
}

func checkNameSegment(s string) error {
	if s == "" || len(s) > MaxNameLen {
		return fmt.Errorf("segment length %d not in 1..%d", len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			(i > 0 && (c == '-' || c == '_' || c == '.'))
		if !ok {
			return fmt.Errorf("character %q not allowed at %d", c, i)
		}
	}
	if strings.Contains(s, "--") || strings.Contains(s, "..") || strings.HasSuffix(s, ".git") {
		return errors.New(`"--", ".." and a ".git" suffix are not allowed`)
	}
	return nil
}

// CheckPath checks a slash-separated path inside a repository: relative,
// clean, no "." or ".." or empty segments, no backslash or NUL, valid UTF-8,
// not inside ".git". The empty path (the repository's top) is allowed.
func CheckPath(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > MaxPathLen {
		return fmt.Errorf("%w: path longer than %d bytes", ErrInvalidName, MaxPathLen)
	}
	if !utf8.ValidString(p) || strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("%w: path %q has a backslash, NUL or invalid UTF-8", ErrInvalidName, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: path %q has an empty, \".\" or \"..\" segment", ErrInvalidName, p)
		}
		if seg == ".git" {
			return fmt.Errorf("%w: path %q is inside .git", ErrInvalidName, p)
		}
	}
	return nil
}

// lfsPatterns are the Hub's default .gitattributes LFS rules for model and
// dataset repositories (plus *.gguf, which the Hub stores in LFS/Xet too).
// A pattern without '/' matches the base name, as in .gitattributes.
var lfsPatterns = []string{
	"*.7z", "*.arrow", "*.bin", "*.bz2", "*.ckpt", "*.ftz", "*.gz", "*.h5", "*.joblib",
	"*.lfs.*", "*.mlmodel", "*.model", "*.msgpack", "*.npy", "*.npz", "*.onnx", "*.ot",
	"*.parquet", "*.pb", "*.pickle", "*.pkl", "*.pt", "*.pth", "*.rar", "*.safetensors",
	"*.tar.*", "*.tar", "*.tflite", "*.tgz", "*.wasm", "*.xz", "*.zip", "*.zst", "*tfevents*",
	"*.gguf", "*.keras", "*.mds", "*.lz4", "*.flac", "*.mp3", "*.ogg", "*.wav", "*.jpg",
	"*.jpeg", "*.png", "*.webp", "*.mp4", "*.webm",
}

// LFSThreshold is the size from which any file is stored in LFS: the Hub
// refuses plain git files of 10 MiB or more.
const LFSThreshold = 10 << 20

// IsLFS reports whether the Hub would store a file with this repository path
// and size in LFS (and so describe it with a sha256 and an LFS pointer).
func IsLFS(repoPath string, size int64) bool {
	if size >= LFSThreshold {
		return true
	}
	base := strings.ToLower(path.Base(repoPath))
	for _, pat := range lfsPatterns {
		if ok, _ := path.Match(pat, base); ok {
			return true
		}
	}
	// saved_model/**/* in the Hub's default attributes.
	return strings.HasPrefix(repoPath, "saved_model/") || strings.Contains(repoPath, "/saved_model/")
}
