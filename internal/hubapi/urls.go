package hubapi

// Upstream URL paths, encoded the way huggingface_hub encodes them:
// revisions with quote(rev, safe=""), file paths with quote(path) ("/" kept).

// ResolvePath is /{p}{repo}/resolve/{rev}/{file}.
func ResolvePath(t RepoType, repo, rev, file string) string {
	return "/" + t.URLPrefix() + repo + "/resolve/" + QuotePython(rev, "") + "/" + QuotePython(file, "/")
}

// RepoInfoPath is /api/{t}/{repo} or /api/{t}/{repo}/revision/{rev}.
func RepoInfoPath(t RepoType, repo, rev string) string {
	p := "/api/" + t.Plural() + "/" + repo
	if rev != "" {
		p += "/revision/" + QuotePython(rev, "")
	}
	return p
}

// TreePath is /api/{t}/{repo}/tree/{rev}[/{path}], the sub-path encoded as
// one segment like the client does.
func TreePath(t RepoType, repo, rev, sub string) string {
	p := "/api/" + t.Plural() + "/" + repo + "/tree/" + QuotePython(rev, "")
	if sub != "" {
		p += "/" + QuotePython(sub, "")
	}
	return p
}

// PathsInfoPath is /api/{t}/{repo}/paths-info/{rev}.
func PathsInfoPath(t RepoType, repo, rev string) string {
	return "/api/" + t.Plural() + "/" + repo + "/paths-info/" + QuotePython(rev, "")
}

// RepoAPIPath is /api/{t}/{repo}/{rest} for pass-through calls.
func RepoAPIPath(t RepoType, repo, rest string) string {
	return "/api/" + t.Plural() + "/" + repo + "/" + rest
}
