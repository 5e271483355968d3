package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// NginxOption adjusts the server StartNginx runs.
type NginxOption func(*nginxConfig)

type nginxConfig struct {
	limitRate  int    // bytes per second, 0 = unlimited
	limitAfter int    // bytes sent at full speed before limitRate applies
	accessLog  string // "" = in the server's temporary folder, combined format
}

// NginxAccessLog writes the access log to path, one line per request:
// "METHOD URI STATUS RANGE BYTES", RANGE being the request's Range header or "-".
func NginxAccessLog(path string) NginxOption {
	return func(c *nginxConfig) { c.accessLog = path }
}

// NginxLimitRate throttles every response to bytesPerSecond (nginx's limit_rate),
// after the first after bytes, for tests of slow servers.
func NginxLimitRate(bytesPerSecond, after int) NginxOption {
	return func(c *nginxConfig) { c.limitRate, c.limitAfter = bytesPerSecond, after }
}

// StartNginx runs Debian's nginx in the foreground, as a child process serving the
// folder root on a free port of 127.0.0.1, and returns its base URL ending with "/".
// Its configuration, pid file, logs and temporary folders live in a t.TempDir; it is
// stopped when the test ends. Without nginx the test is skipped, or fails under
// UPKEEP_INTEGRATION=1 (see NeedProgram).
func StartNginx(t testing.TB, root string, opts ...NginxOption) string {
	t.Helper()
	bin := NeedProgram(t, "nginx", "nginx-light")
	var cfg nginxConfig
	for _, o := range opts {
		o(&cfg)
	}
	root, err := filepath.Abs(root)
	if err != nil {
		t.Fatalf("nginx root: %v", err)
	}
	// The free port is found by binding and releasing it, so another process may take
	// it in between: try again with a new one.
	var lastErr error
	for range 5 {
		url, err := startNginx(t, bin, root, cfg)
		if err == nil {
			return url
		}
		lastErr = err
	}
	t.Fatalf("start nginx: %v", lastErr)
	return ""
}

func startNginx(t testing.TB, bin, root string, cfg nginxConfig) (string, error) {
	t.Helper()
	port, err := freePort()
	if err != nil {
		return "", err
	}
	prefix := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(port)
	conf := filepath.Join(prefix, "nginx.conf")
	errorLog := filepath.Join(prefix, "error.log")
	if err := os.WriteFile(conf, nginxConf(prefix, root, addr, cfg), 0o644); err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "-p", prefix+"/", "-c", conf, "-e", errorLog)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt) // fast shutdown
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	}
	url := "http://" + addr + "/"
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(errorLog)
			return "", fmt.Errorf("nginx exited (%v): %s %s", err, out.String(), log)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("Server") != "" && strings.HasPrefix(resp.Header.Get("Server"), "nginx") {
				break
			}
		}
		if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(errorLog)
			return "", fmt.Errorf("nginx did not answer on %s within 10s: %s", addr, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(stop)
	return url, nil
}

func nginxConf(prefix, root, addr string, cfg nginxConfig) []byte {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	p("daemon off;")
	p("master_process off;")
	p("worker_processes 1;")
	if os.Getuid() == 0 {
		p("user root;")
	}
	p("pid %s;", quote(filepath.Join(prefix, "nginx.pid")))
	p("error_log %s info;", quote(filepath.Join(prefix, "error.log")))
	p("events { worker_connections 64; }")
	p("http {")
	if cfg.accessLog != "" {
		p("  log_format upkeep '$request_method $uri $status $http_range $body_bytes_sent';")
		p("  access_log %s upkeep;", quote(cfg.accessLog))
	} else {
		p("  access_log %s;", quote(filepath.Join(prefix, "access.log")))
	}
	for _, d := range []string{"client_body", "proxy", "fastcgi", "uwsgi", "scgi"} {
		p("  %s_temp_path %s;", d, quote(filepath.Join(prefix, d)))
	}
	p("  types { application/json json; application/zip zip; text/plain txt; }")
	p("  default_type application/octet-stream;")
	p("  sendfile on;")
	p("  server {")
	p("    listen %s;", addr)
	p("    root %s;", quote(root))
	p("    autoindex off;")
	if cfg.limitRate > 0 {
		p("    limit_rate %d;", cfg.limitRate)
		p("    limit_rate_after %d;", cfg.limitAfter)
	}
	p("  }")
	p("}")
	return []byte(b.String())
}

// quote quotes s for an nginx configuration file.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(s) + `"`
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
