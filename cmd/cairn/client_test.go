package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kfake"
)

// testCluster starts the Kafka-compatible cluster that the client-command tests
// run against, and returns its seed brokers. Today that is kfake (in memory,
// three brokers); pointing the tests at cairn's own in-process cluster changes
// only this function.
func testCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.ClusterID("cairn-test"))
	if err != nil {
		t.Fatalf("start cluster: %v", err)
	}
	t.Cleanup(c.Close)
	return strings.Join(c.ListenAddrs(), ",")
}

// cliResult is what one run of the command line printed and returned.
type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs `cairn args... --brokers brokers` with stdin, as main does but
// in-process.
func runCLI(t *testing.T, brokers, stdin string, args ...string) cliResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runCLIWith(t.Context(), brokers, strings.NewReader(stdin), &stdout, &stderr, args...)
	return cliResult{stdout.String(), stderr.String(), err}
}

func runCLIWith(ctx context.Context, brokers string, stdin *strings.Reader, stdout, stderr interface{ Write([]byte) (int, error) }, args ...string) error {
	root := rootCommand()
	if brokers != "" {
		args = append(args, "--brokers", brokers)
	}
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	return root.ExecuteContext(ctx)
}

// mustRun runs the command line and fails the test if it returns an error.
func mustRun(t *testing.T, brokers, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, brokers, stdin, args...)
	if r.err != nil {
		t.Fatalf("cairn %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.err, r.stdout, r.stderr)
	}
	return r
}

// mustFail runs the command line, wants an error whose one line contains want.
func mustFail(t *testing.T, brokers, stdin, want string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, brokers, stdin, args...)
	if r.err == nil {
		t.Fatalf("cairn %s: succeeded, want an error containing %q\nstdout:\n%s", strings.Join(args, " "), want, r.stdout)
	}
	msg := r.err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Fatalf("cairn %s: error %q, want one line containing %q", strings.Join(args, " "), msg, want)
	}
	return r
}

// decodeJSON unmarshals a command's JSON output into v.
func decodeJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("output is not the JSON wanted: %v\n%s", err, out)
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	// onWrite, if set, is called with the contents after each write.
	onWrite func(string)
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if b.onWrite != nil {
		b.onWrite(b.buf.String())
	}
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestClientCommandsHaveExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Example == "" {
			t.Errorf("%s has no Example", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	client := map[string]bool{"topic": true, "produce": true, "consume": true, "group": true, "cluster": true}
	for _, c := range rootCommand().Commands() {
		if client[c.Name()] {
			walk(c)
		}
	}

	r := mustRun(t, "", "", "topic", "create", "--help")
	if !strings.Contains(r.stdout, "Example") || !strings.Contains(r.stdout, "--brokers") {
		t.Fatalf("help lacks Example or the global flags:\n%s", r.stdout)
	}
}

func TestClientBadFlagsAndInput(t *testing.T) {
	brokers := testCluster(t)
	mustRun(t, brokers, "", "topic", "create", "t", "-p", "1")
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"unknown flag: --bogus", []string{"topic", "list", "--bogus"}},
		{`--format "yaml"`, []string{"topic", "list", "--format", "yaml"}},
		{`offset "1x"`, []string{"consume", "t", "-o", "1x"}},
		{"--compression", []string{"produce", "t", "--compression", "brotli"}},
		{"--acks 2", []string{"produce", "t", "--acks", "2"}},
		{"unknown verb %x", []string{"consume", "t", "--format", "%x"}},
		{"UNKNOWN_TOPIC_OR_PARTITION", []string{"consume", "nope", "-o", ":end"}},
		{"UNKNOWN_TOPIC_OR_PARTITION", []string{"topic", "describe", "nope"}},
		{"TOPIC_ALREADY_EXISTS", []string{"topic", "create", "t"}},
		{"accepts 1 arg", []string{"produce"}},
		{"-c \"x\": want key=value", []string{"topic", "create", "u", "-c", "x"}},
		{"--group", []string{"consume", "t", "--group", "g", "-o", "0:1"}},
	} {
		mustFail(t, brokers, "", tc.want, tc.args...)
	}
	mustFail(t, "", "", "--brokers is empty", "topic", "list", "--brokers", " , ")
}

func TestClientUnreachableCluster(t *testing.T) {
	// A port nothing listens on: the command gives up within --timeout.
	mustFail(t, "127.0.0.1:1", "", "list topics: unable to dial", "topic", "list", "--timeout", "500ms")
}
