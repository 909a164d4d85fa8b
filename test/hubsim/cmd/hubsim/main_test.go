package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestProcessContract builds the command and checks the contract the
// integration suite relies on: one JSON line with three URLs on three
// loopback IPs, a working hub, and a clean exit on SIGTERM.
func TestProcessContract(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "hubsim")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	repos := t.TempDir()
	os.MkdirAll(filepath.Join(repos, "models", "org", "m"), 0o755)
	os.WriteFile(filepath.Join(repos, "models", "org", "m", "config.json"), []byte("{}"), 0o644)

	cmd := exec.Command(bin, "--repos", repos, "--page-size", "3")
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	var urls map[string]string
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &urls); err != nil {
			t.Fatalf("first line %q is not JSON: %v", line, err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no ready line within 20 s")
	}
	for key, ip := range map[string]string{"hub": "127.0.0.2", "cdn": "127.0.0.3", "cas": "127.0.0.4"} {
		if !strings.HasPrefix(urls[key], "http://"+ip+":") {
			t.Errorf("%s URL %q, want http://%s:PORT", key, urls[key], ip)
		}
	}
	resp, err := http.Get(urls["hub"] + "/api/models/org/m")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("hub answers %v %v", resp, err)
	}
	resp.Body.Close()
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("still running 10 s after SIGTERM")
	}
}

func TestMissingReposFlagExits2(t *testing.T) {
	if os.Getenv("HUBSIM_RUN_MAIN") == "1" {
		os.Args = []string{"hubsim"}
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=TestMissingReposFlagExits2")
	cmd.Env = append(os.Environ(), "HUBSIM_RUN_MAIN=1")
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Errorf("hubsim without --repos: %v, want exit status 2", err)
	}
}
