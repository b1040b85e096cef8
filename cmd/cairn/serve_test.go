package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/cairnlog/cairn/cluster"
)

// freePort returns a loopback port free at the time of the call.
func freePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		// Gossip binds UDP on the same port; and a port handed out once
		// in this process is not handed out again (the kernel may).
		udp, err := net.ListenPacket("udp", ln.Addr().String())
		ln.Close()
		if err != nil {
			continue
		}
		udp.Close()
		freePorts.Lock()
		_, dup := freePorts.given[port]
		freePorts.given[port] = true
		freePorts.Unlock()
		if !dup {
			return port
		}
	}
	t.Fatal("no free port in 100 tries")
	return 0
}

// freePorts are the ports freePort has handed out.
var freePorts = struct {
	sync.Mutex
	given map[int]bool
}{given: map[int]bool{}}

type serveProc struct {
	id       int
	cmd      *exec.Cmd
	http     string
	gossip   string
	exited   chan error
	logsPath string
}

// TestServeProcesses runs three `cairn serve` processes joined into one
// cluster, checks /readyz and /v1/cluster on each, and stops them with
// SIGTERM.
func TestServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cairn")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	start := time.Now()
	var procs []*serveProc
	for id := 1; id <= 3; id++ {
		p := &serveProc{
			id:       id,
			http:     fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			gossip:   fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			exited:   make(chan error, 1),
			logsPath: filepath.Join(dir, fmt.Sprintf("broker-%d.log", id)),
		}
		args := []string{"serve",
			"--node-id", strconv.Itoa(id),
			"--data", filepath.Join(dir, fmt.Sprintf("data-%d", id)),
			"--internal-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
			"--gossip-addr", p.gossip,
			"--http-addr", p.http,
		}
		if id > 1 {
			args = append(args, "--join", procs[0].gossip)
		}
		// Broker 2 has two named listeners, the others the one of --kafka-addr.
		if id == 2 {
			external := freePort(t)
			args = append(args, "--listeners", fmt.Sprintf("internal://127.0.0.1:%d,EXTERNAL://127.0.0.1:%d", freePort(t), external),
				"--advertised-listeners", fmt.Sprintf("EXTERNAL://localhost:%d", external))
		} else {
			args = append(args, "--kafka-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)))
		}
		logs, err := os.Create(p.logsPath)
		if err != nil {
			t.Fatal(err)
		}
		p.cmd = exec.Command(bin, args...)
		p.cmd.Stdout, p.cmd.Stderr = logs, logs
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { p.exited <- p.cmd.Wait(); logs.Close() }()
		procs = append(procs, p)
	}
	t.Cleanup(func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Kill()
			}
		}
		if t.Failed() {
			for _, p := range procs {
				b, _ := os.ReadFile(p.logsPath)
				t.Logf("broker %d log:\n%s", p.id, b)
			}
		}
	})

	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	get := func(url string) (int, []byte) {
		resp, err := client.Get(url)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	// Wait (with a deadline) until every broker is ready and sees three brokers.
	deadline := time.Now().Add(45 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	type view struct {
		ClusterID  string `json:"cluster_id"`
		Controller int32  `json:"controller"`
		Ready      bool   `json:"ready"`
		Brokers    []struct {
			ID        int32  `json:"id"`
			State     string `json:"state"`
			Listeners []struct {
				Name string `json:"name"`
				Addr string `json:"addr"`
			} `json:"listeners"`
		} `json:"brokers"`
	}
	var views []view
	for {
		views = views[:0]
		ok := true
		for _, p := range procs {
			select {
			case err := <-p.exited:
				t.Fatalf("broker %d exited early: %v", p.id, err)
			default:
			}
			code, _ := get("http://" + p.http + "/readyz")
			_, body := get("http://" + p.http + "/v1/cluster")
			var v view
			if code != http.StatusOK || json.Unmarshal(body, &v) != nil || len(v.Brokers) != 3 {
				ok = false
				break
			}
			for _, b := range v.Brokers {
				if b.State != "registered" {
					ok = false
				}
			}
			views = append(views, v)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster not ready within 45s")
		}
		<-tick.C
	}
	t.Logf("3 processes ready %v after start", time.Since(start))
	for _, b := range views[0].Brokers {
		var names []string
		for _, l := range b.Listeners {
			names = append(names, l.Name)
		}
		want := "PLAINTEXT"
		if b.ID == 2 {
			want = "INTERNAL EXTERNAL"
		}
		if got := strings.Join(names, " "); got != want {
			t.Errorf("broker %d registered listeners %v, want %s", b.ID, b.Listeners, want)
		}
		if b.ID == 2 && !strings.HasPrefix(b.Listeners[1].Addr, "localhost:") {
			t.Errorf("broker 2 advertises EXTERNAL at %s, want localhost", b.Listeners[1].Addr)
		}
	}
	for _, v := range views[1:] {
		if v.ClusterID != views[0].ClusterID || v.ClusterID == "" {
			t.Errorf("cluster ids differ: %q, %q", v.ClusterID, views[0].ClusterID)
		}
		if v.Controller != views[0].Controller || v.Controller < 1 {
			t.Errorf("controllers differ: %d, %d", v.Controller, views[0].Controller)
		}
	}
	if code, _ := get("http://" + procs[0].http + "/livez"); code != http.StatusOK {
		t.Errorf("/livez: %d", code)
	}

	// SIGTERM, by pid, one at a time: each exits cleanly.
	for _, p := range procs {
		stopAt := time.Now()
		if err := syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-p.exited:
			if err != nil {
				t.Errorf("broker %d exited with %v", p.id, err)
			}
			t.Logf("broker %d stopped %v after SIGTERM", p.id, time.Since(stopAt))
		case <-time.After(20 * time.Second):
			t.Fatalf("broker %d still running 20s after SIGTERM", p.id)
		}
	}
}

func TestServeBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--kafka-addr", "nope"},
		{"serve", "--listeners", "A://127.0.0.1:0", "--kafka-addr", "127.0.0.1:0"},
		{"serve", "--listeners", "A://127.0.0.1:0", "--advertise-kafka-addr", "h:9092"},
		{"serve", "--advertised-listeners", "A://h:9092"},
		{"serve", "--listeners", "A://127.0.0.1:0", "--advertised-listeners", "B://h:9092"},
		{"serve", "--listeners", "A://127.0.0.1:0,a://127.0.0.1:0"},
		{"serve", "--listeners", "A://nope,B://127.0.0.1:x", "--advertised-listeners", "A://0.0.0.0:9092"},
		{"serve", "--listeners", "127.0.0.1:9092"},
		{"serve", "--node-id", "x"},
		{"serve", "--replica-lag-max", "10"},
		{"serve", "--replica-lag-max", "-1s"},
		{"serve", "--data", "/dev/null/cairn"},
		{"serve", "--config", "/nonexistent/cairn.conf"},
		// Fails after the data directory is claimed: Start cleans up, no panic.
		{"serve", "--data", t.TempDir(), "--internal-addr", "0.0.0.0:0", "--kafka-addr", "127.0.0.1:0",
			"--gossip-addr", "127.0.0.1:0", "--http-addr", "-"},
	} {
		root := rootCommand()
		root.SetArgs(args)
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		err := root.ExecuteContext(t.Context())
		switch {
		case err == nil:
			t.Errorf("%v: no error", args)
		case strings.Contains(err.Error(), "\n"):
			t.Errorf("%v: error of more than one line: %q", args, err)
		}
	}
}

// The two listener forms from the same place conflict; from the command line
// and the environment (or a config file), the command line wins.
func TestServeListenersFromEnvAndFile(t *testing.T) {
	run := func(args ...string) error {
		root := rootCommand()
		root.SetArgs(args)
		root.SetOut(io.Discard)
		root.SetErr(io.Discard)
		return root.ExecuteContext(t.Context())
	}
	conf := filepath.Join(t.TempDir(), "cairn.conf")
	if err := os.WriteFile(conf, []byte("listeners=A://127.0.0.1:0,B://127.0.0.1:0\nadvertised-listeners=C://h:9092\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run("serve", "--config", conf); err == nil || !strings.Contains(err.Error(), "no listener C") {
		t.Errorf("config file: %v, want the unknown advertised listener", err)
	}
	t.Setenv("CAIRN_LISTENERS", "A://127.0.0.1:0")
	t.Setenv("CAIRN_KAFKA_ADDR", "127.0.0.1:0")
	if err := run("serve"); err == nil || !strings.Contains(err.Error(), "--listeners replaces --kafka-addr") {
		t.Errorf("CAIRN_LISTENERS with CAIRN_KAFKA_ADDR: %v", err)
	}

	for _, c := range []struct {
		name               string
		cli, env           []string // flag=value
		wantKafka          string
		wantListeners, err string
	}{
		{"env listeners, cli kafka-addr", []string{"kafka-addr=127.0.0.1:9", "advertise-kafka-addr=h:9"},
			[]string{"listeners=A://0.0.0.0:1", "advertised-listeners=A://h:1"}, "127.0.0.1:9", "", ""},
		{"env kafka-addr, cli listeners", []string{"listeners=A://0.0.0.0:1"},
			[]string{"kafka-addr=0.0.0.0:9092", "advertise-kafka-addr=h:9"}, "", "A://0.0.0.0:1", ""},
		{"both on the command line", []string{"listeners=A://0.0.0.0:1", "kafka-addr=0.0.0.0:9"}, nil, "", "", "give one or the other"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var listeners, advertised []string
			var cfg cluster.Config
			f := pflag.NewFlagSet("serve", pflag.ContinueOnError)
			f.StringVar(&cfg.KafkaAddr, "kafka-addr", "localhost:9092", "")
			f.StringVar(&cfg.AdvertiseKafkaAddr, "advertise-kafka-addr", "", "")
			f.StringSliceVar(&listeners, "listeners", nil, "")
			f.StringSliceVar(&advertised, "advertised-listeners", nil, "")
			onCLI := map[string]bool{}
			for _, kv := range c.cli {
				k, v, _ := strings.Cut(kv, "=")
				if err := f.Set(k, v); err != nil {
					t.Fatal(err)
				}
				onCLI[k] = true
			}
			for _, kv := range c.env {
				k, v, _ := strings.Cut(kv, "=")
				if err := f.Set(k, v); err != nil {
					t.Fatal(err)
				}
			}
			err := setListeners(f, onCLI, &cfg, listeners, advertised)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.KafkaAddr != c.wantKafka || cluster.FormatEndpoints(cfg.Listeners) != c.wantListeners {
				t.Errorf("kafka-addr %q listeners %q, want %q and %q", cfg.KafkaAddr, cluster.FormatEndpoints(cfg.Listeners), c.wantKafka, c.wantListeners)
			}
			if c.wantListeners != "" && cfg.AdvertiseKafkaAddr != "" {
				t.Errorf("advertise-kafka-addr %q kept beside --listeners", cfg.AdvertiseKafkaAddr)
			}
		})
	}
}
