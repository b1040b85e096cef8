package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
)

// devCommand runs a local N-node cluster as processes of this binary: the
// quickest way to try replication, failover and adding a node on one machine.
func devCommand() *cobra.Command {
	var (
		nodes    int
		dataDir  string
		basePort int
		logLevel string
	)
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local N-node cluster as processes, until Ctrl-C",
		Long: `Starts N cairn serve processes on 127.0.0.1 with their data under one
directory, waits until every node is ready, prints the brokers and an
export CAIRN_BROKERS=... line, streams a compact log of every node, and
stops them all on Ctrl-C. Run it again with the same --data to reuse the
data. Node i listens on Kafka base-port+i-1, internal base-port+100+i-1,
gossip base-port+200+i-1 and HTTP base-port+300+i-1.`,
		Example: `  cairn dev -n 3
  cairn dev --nodes 3 --data ./cairn-dev --base-port 19092
  # in another terminal: export CAIRN_BROKERS=127.0.0.1:19092,127.0.0.1:19093,127.0.0.1:19094`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case nodes < 1 || nodes > 9:
				return errors.New("--nodes must be between 1 and 9")
			case basePort < 1024 || basePort+300+nodes > 65535:
				return fmt.Errorf("--base-port %d: want 1024..%d", basePort, 65535-300-nodes)
			}
			self, err := os.Executable()
			if err != nil {
				return fmt.Errorf("find this binary: %w", err)
			}
			return runDev(cmd.Context(), cmd.OutOrStdout(), self, nodes, dataDir, basePort, logLevel)
		},
	}
	cmd.Flags().IntVarP(&nodes, "nodes", "n", 3, "number of nodes")
	cmd.Flags().StringVar(&dataDir, "data", "./cairn-dev", "directory holding every node's data")
	cmd.Flags().IntVar(&basePort, "base-port", 19092, "first Kafka port; the other ports follow from it")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "nodes' log level: debug, info, warn, error")
	return cmd
}

type devNode struct {
	id                          int
	kafka, internal, gossip, hx string
	cmd                         *exec.Cmd
	exited                      chan struct{} // closed when the process has exited
	err                         error         // its exit status, once exited is closed
}

func runDev(ctx context.Context, out io.Writer, self string, n int, dataDir string, base int, logLevel string) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	var (
		nodes []*devNode
		outMu sync.Mutex
		wg    sync.WaitGroup
	)
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format, args...)
	}
	stopAll := func() {
		for _, nd := range nodes {
			_ = nd.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, nd := range nodes {
			select {
			case <-nd.exited:
			case <-time.After(20 * time.Second):
				_ = nd.cmd.Process.Kill()
				<-nd.exited
			}
		}
		wg.Wait()
	}
	for i := 1; i <= n; i++ {
		nd := &devNode{
			id:       i,
			kafka:    fmt.Sprintf("127.0.0.1:%d", base+i-1),
			internal: fmt.Sprintf("127.0.0.1:%d", base+100+i-1),
			gossip:   fmt.Sprintf("127.0.0.1:%d", base+200+i-1),
			hx:       fmt.Sprintf("127.0.0.1:%d", base+300+i-1),
			exited:   make(chan struct{}),
		}
		args := []string{"serve", "--node-id", fmt.Sprint(i), "--data", filepath.Join(dataDir, fmt.Sprintf("node-%d", i)),
			"--kafka-addr", nd.kafka, "--internal-addr", nd.internal, "--gossip-addr", nd.gossip, "--http-addr", nd.hx,
			"--log-level", logLevel}
		if i > 1 {
			args = append(args, "--join", nodes[0].gossip)
		}
		nd.cmd = exec.Command(self, args...)
		nd.cmd.Env = os.Environ()
		pipe, err := nd.cmd.StderrPipe()
		if err != nil {
			stopAll()
			return err
		}
		nd.cmd.Stdout = nd.cmd.Stderr
		if err := nd.cmd.Start(); err != nil {
			stopAll()
			return fmt.Errorf("start node %d: %w", i, err)
		}
		nodes = append(nodes, nd)
		wg.Go(func() { streamDevLog(pipe, fmt.Sprintf("n%d", nd.id), say) })
		go func() {
			nd.err = nd.cmd.Wait()
			close(nd.exited)
		}()
	}

	ready := make(chan error, 1)
	go func() { ready <- waitDevReady(ctx, nodes, n) }()
	select {
	case err := <-ready:
		if err != nil {
			stopAll()
			return err
		}
	case <-ctx.Done():
		stopAll()
		return nil
	}
	var brokers []string
	for _, nd := range nodes {
		brokers = append(brokers, nd.kafka)
	}
	say("cluster of %d ready: brokers %s, admin http://%s/v1/cluster\n", n, strings.Join(brokers, ","), nodes[0].hx)
	say("export CAIRN_BROKERS=%s\n", strings.Join(brokers, ","))

	// Run until Ctrl-C, or until a node exits by itself.
	exited := make(chan *devNode, n)
	for _, nd := range nodes {
		go func() {
			<-nd.exited
			exited <- nd
		}()
	}
	select {
	case <-ctx.Done():
		say("stopping %d nodes\n", n)
		stopAll()
		return nil
	case nd := <-exited:
		stopAll()
		return fmt.Errorf("node %d exited: %v", nd.id, nd.err)
	}
}

// waitDevReady waits until every node answers /readyz and the first node's
// cluster view lists n brokers, for at most a minute.
func waitDevReady(ctx context.Context, nodes []*devNode, n int) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		if devReady(client, nodes, n) {
			return nil
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return errors.New("cluster not ready within a minute: see the node logs above")
			}
			return ctx.Err()
		}
	}
}

func devReady(client *http.Client, nodes []*devNode, n int) bool {
	for _, nd := range nodes {
		resp, err := client.Get("http://" + nd.hx + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	resp, err := client.Get("http://" + nodes[0].hx + "/v1/cluster")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var view struct {
		Brokers []json.RawMessage `json:"brokers"`
	}
	return json.NewDecoder(resp.Body).Decode(&view) == nil && len(view.Brokers) >= n
}

// streamDevLog prints a node's JSON log lines compactly: node, level,
// message, then the other keys sorted.
func streamDevLog(r io.Reader, name string, say func(string, ...any)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		say("%s\n", compactLogLine(name, sc.Bytes()))
	}
}

func compactLogLine(name string, line []byte) string {
	var rec map[string]any
	if json.Unmarshal(line, &rec) != nil {
		return name + " " + string(line)
	}
	level, _ := rec["level"].(string)
	msg, _ := rec["msg"].(string)
	delete(rec, "time")
	delete(rec, "level")
	delete(rec, "msg")
	delete(rec, "node")
	keys := make([]string, 0, len(rec))
	for k := range rec {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%-3s %-5s %s", name, strings.ToLower(level), msg)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, rec[k])
	}
	return b.String()
}
