package suggest

import "testing"

func TestClosest(t *testing.T) {
	known := []string{"files", "repos", "repo_types", "upstream"}
	for key, want := range map[string]string{"fils": "files", "UPSTREM": "upstream", "repo": "repos", "weights": "", "": ""} {
		if got := Closest(key, known); got != want {
			t.Errorf("Closest(%q) = %q, want %q", key, got, want)
		}
	}
}
