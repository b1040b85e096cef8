package main

import (
	"bufio"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestDevCluster runs `cairn dev -n 2` as a process: it prints the export
// line once the cluster is ready, the cluster serves a real client, and an
// interrupt stops every node.
func TestDevCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a cluster of processes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cairn")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Ports below the ephemeral range, so no test's port 0 takes them.
	cmd := exec.Command(bin, "dev", "-n", "2", "--data", filepath.Join(dir, "data"), "--base-port", "24092", "--log-level", "warn")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})

	brokers := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if b, ok := strings.CutPrefix(sc.Text(), "export CAIRN_BROKERS="); ok {
				brokers <- b
			}
		}
		close(brokers)
	}()
	var seeds string
	select {
	case b, ok := <-brokers:
		if !ok {
			t.Fatalf("dev exited before it was ready")
		}
		seeds = b
	case <-time.After(90 * time.Second):
		t.Fatal("no export line within 90s")
	}
	if seeds != "127.0.0.1:24092,127.0.0.1:24093" {
		t.Fatalf("brokers %q", seeds)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...), kgo.DefaultProduceTopic("dev-test"),
		kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(t.Context(), &kgo.Record{Value: []byte("hello")}).FirstErr(); err != nil {
		t.Fatalf("produce through the dev cluster: %v", err)
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("dev exited with %v after an interrupt", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("dev did not stop within 60s of an interrupt")
	}
	if out, _ := exec.Command("pgrep", "-f", filepath.Join(dir, "data")).Output(); len(out) > 0 {
		t.Fatalf("nodes still running after dev stopped: %s", out)
	}
}
