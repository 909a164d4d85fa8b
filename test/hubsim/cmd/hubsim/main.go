// Command hubsim runs the Hub simulator (package hubsim) as a process.
//
//	hubsim --repos DIR [--listen 127.0.0.2:0] [--cdn-listen 127.0.0.3:0]
//	       [--cas-listen 127.0.0.4:0] [--page-size 50]
//
// When ready it prints exactly one JSON line to stdout,
// {"hub":"http://…","cdn":"http://…","cas":"http://…"}, and it runs until
// SIGTERM or SIGINT. Errors go to stderr with exit status 1 (2 for bad flags).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/safehub/safehub/test/hubsim"
)

func main() {
	fs := flag.NewFlagSet("hubsim", flag.ContinueOnError)
	repos := fs.String("repos", "", "folder of repositories (models|datasets|spaces/<org>/<name>/...) with optional hubsim.json")
	hub := fs.String("listen", "127.0.0.2:0", "hub listen address")
	cdn := fs.String("cdn-listen", "127.0.0.3:0", "CDN listen address (use another IP than the hub)")
	cas := fs.String("cas-listen", "127.0.0.4:0", "Xet CAS stub listen address")
	pageSize := fs.Int("page-size", 50, "tree page size")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	if *repos == "" || fs.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "hubsim: --repos DIR is required (and no other arguments)")
		os.Exit(2)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	sim, err := hubsim.Start(hubsim.Config{ReposDir: *repos, HubAddr: *hub, CDNAddr: *cdn, CASAddr: *cas,
		PageSize: *pageSize, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubsim:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	line, _ := json.Marshal(map[string]string{"hub": sim.HubURL, "cdn": sim.CDNURL, "cas": sim.CASURL})
	fmt.Println(string(line))
	<-ctx.Done()
	if err := sim.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "hubsim: close:", err)
		os.Exit(1)
	}
}
