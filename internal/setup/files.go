package setup

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Where setup puts things, relative to the root.
const (
	ProfilePath  = "/etc/profile.d/safehub.sh"
	ConfigPath   = "/etc/safehub/config.yaml"
	UnitPath     = "/etc/systemd/system/safehub.service"
	ManifestPath = "/var/lib/safehub/setup.json"

	// The service's writable places, created by systemd (CacheDirectory=,
	// LogsDirectory=) and owned by its dynamic user.
	ServiceCacheDir = "/var/cache/safehub"
	ServiceAuditLog = "/var/log/safehub/audit.jsonl"
	DefaultAdmin    = "127.0.0.1:9090"
)

const header = "# Written by `safehub setup`; `safehub setup --undo` removes it (and restores what was here before).\n"

// profileScript is sourced by login shells: every user's huggingface_hub
// talks to the gateway, never to the Hub directly.
func profileScript(endpoint string) string {
	return header + `# Every Hugging Face download on this server goes through the safehub gateway,
# which refuses pickle-based model files. See docs/user-guide.md.
export HF_ENDPOINT=` + shellQuote(endpoint) + `
# Xet-enabled clients fetch from Xet storage hosts directly, past the gateway.
export HF_HUB_DISABLE_XET=1
# transformers would otherwise send Hub tokens to a conversion service to turn
# .bin weights into safetensors.
export DISABLE_SAFETENSORS_CONVERSION=1
`
}

// configFile is the service's config: listen and upstream as asked, the
// cache and audit log in the folders systemd gives the service.
func configFile(listen, upstream, admin string) string {
	return header + `# Checked by: safehub policy check /etc/safehub/config.yaml
# Keys: docs/admin-guide.md. Flags and SAFEHUB_LISTEN/SAFEHUB_UPSTREAM override them.
listen: ` + yamlQuote(listen) + `
upstream: ` + yamlQuote(upstream) + `

# The unit's CacheDirectory=safehub; if you move it, add ReadWritePaths= to the unit.
cache_dir: ` + ServiceCacheDir + `
# cache_max: 500G

# Roll out with a policy in mode: audit first (docs/admin-guide.md).
# policy: /etc/safehub/policy.yaml

# Metrics, health checks and the status page; keep it off public addresses.
admin_listen: ` + yamlQuote(admin) + `

audit_log:
  path: ` + ServiceAuditLog + `
  max_size: 100M
  max_files: 10
`
}

// unitFile is a systemd unit for the gateway, sandboxed: it only needs to
// read its config and policy, write its cache and log, and talk TCP.
func unitFile(binary, listen string) string {
	caps := "CapabilityBoundingSet=\nAmbientCapabilities=\n"
	if privilegedPort(listen) {
		caps = "# Port below 1024: this one capability, nothing else.\n" +
			"CapabilityBoundingSet=CAP_NET_BIND_SERVICE\nAmbientCapabilities=CAP_NET_BIND_SERVICE\n"
	}
	return header + `[Unit]
Description=safehub Hugging Face Hub gateway (refuses pickle-based model files)
Documentation=https://github.com/safehub/safehub/blob/main/docs/admin-guide.md
Wants=network-online.target
After=network-online.target

[Service]
Type=exec
ExecStart=` + binary + ` serve --config ` + ConfigPath + `
Restart=on-failure
RestartSec=2s
TimeoutStopSec=20s

# A throw-away user; the cache and the audit log are the only writable places.
# No StateDirectory=: /var/lib/safehub holds setup's own record and stays root's.
DynamicUser=yes
CacheDirectory=safehub
CacheDirectoryMode=0700
LogsDirectory=safehub
LogsDirectoryMode=0750
UMask=0077

` + caps + `NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
ProcSubset=pid
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallFilter=~@privileged @resources
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`
}

func privilegedPort(listen string) bool {
	_, p, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 1024
}

// endpointFor is the URL users reach a listen address at: a wildcard
// address is reached on loopback from this server.
func endpointFor(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// shellQuote single-quotes s for sh.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellWord quotes s only when sh would otherwise split or expand it, so
// that the commands setup prints read naturally.
func shellWord(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@%,") == "" {
		return s
	}
	return shellQuote(s)
}

// yamlQuote double-quotes s as a YAML (and JSON) string.
func yamlQuote(s string) string { return fmt.Sprintf("%q", s) }
