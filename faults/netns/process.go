package netns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Status is a node's process state, as the harness left it (or, for Exited,
// as the broker did).
type Status int

const (
	Running Status = iota // started and not signalled since
	Paused                // SIGSTOP
	Killed                // SIGKILL
	Stopped               // SIGTERM and exited, or not started yet
	Exited                // exited without being signalled: a crash
	Removed               // RemoveNode, or never existed
)

func (s Status) String() string {
	switch s {
	case Running:
		return "running"
	case Paused:
		return "paused"
	case Killed:
		return "killed"
	case Stopped:
		return "stopped"
	case Exited:
		return "exited"
	case Removed:
		return "removed"
	}
	return "Status(" + strconv.Itoa(int(s)) + ")"
}

// down reports whether s is a state Heal restarts.
func (s Status) down() bool { return s == Killed || s == Stopped || s == Exited }

// node is one broker slot; guarded by Cluster.mu.
type node struct {
	id      int32
	status  Status
	started bool     // a broker ran here once: restarts join the others
	proc    *process // the latest process; nil before the first start
	exitErr error    // the crash's exit status, when status is Exited
}

// process is one broker process. err is written before done is closed.
type process struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// killTimeout bounds the wait for a SIGKILL'd process to be reaped.
const killTimeout = 10 * time.Second

func (p *process) signal(sig syscall.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %v to pid %d: %w", sig, p.cmd.Process.Pid, err)
	}
	return nil
}

// kill sends SIGKILL and waits, at most killTimeout, for the exit.
func (p *process) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("pid %d did not exit within %v of SIGKILL", p.cmd.Process.Pid, killTimeout)
	}
}

// get returns node id, or an error when the cluster is closed or id is not a
// live node. The caller holds c.mu.
func (c *Cluster) get(id int32) (*node, error) {
	if c.mu.closed {
		return nil, ErrClosed
	}
	n, ok := c.mu.nodes[id]
	if !ok || n.status == Removed {
		return nil, fmt.Errorf("netns: no node %d", id)
	}
	return n, nil
}

// Start starts node id's broker if it does not run (Killed, Stopped or
// Exited); a running or paused node is left as it is.
func (c *Cluster) Start(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	return c.start(id)
}

// start launches node id's broker; the caller holds c.ops.
func (c *Cluster) start(id int32) error {
	c.mu.Lock()
	n, err := c.get(id)
	if err != nil || !n.status.down() {
		c.mu.Unlock()
		return err
	}
	args := []string{"netns", "exec", nsName(c.x, id), c.cfg.Binary, "serve",
		"--node-id", strconv.Itoa(int(id)),
		"--data", c.DataDir(id),
		"--kafka-addr", c.KafkaAddr(id),
		"--advertise-kafka-addr", c.KafkaAddr(id),
		"--internal-addr", c.addrPort(id, InternalPort),
		"--gossip-addr", c.addrPort(id, GossipPort),
		"--http-addr", c.HTTPAddr(id),
		"--log-level", c.cfg.LogLevel,
	}
	// The first broker ever started founds the cluster; every other start,
	// first or not, joins the other nodes that have been started before (any
	// one that answers will do). Never-started nodes are not seeds: two of
	// them starting together would join each other, and stay an island.
	var peers []string
	for other, o := range c.mu.nodes {
		if other != id && o.started && o.status != Removed {
			peers = append(peers, c.addrPort(other, GossipPort))
		}
	}
	if len(peers) > 0 {
		slices.Sort(peers)
		args = append(args, "--join", strings.Join(peers, ","))
	}
	c.mu.Unlock()

	logFile, err := os.OpenFile(c.LogPath(id), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("netns: node %d log: %w", id, err)
	}
	defer logFile.Close() // the child has its own descriptor
	// ip netns exec enters the namespace and execs the broker in place: the
	// pid we hold is the broker's.
	cmd := exec.Command("ip", args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = brokerEnv()
	// Its own process group (a terminal's Ctrl-C is for the test), and
	// SIGKILL when the test process dies without Close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("netns: start node %d: %w", id, err)
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	c.mu.Lock()
	n.proc, n.status, n.started, n.exitErr = p, Running, true, nil
	c.mu.Unlock()
	c.cfg.Logf("netns: node %d started, pid %d", id, cmd.Process.Pid)
	c.wg.Go(func() {
		err := cmd.Wait()
		p.err = err
		close(p.done)
		c.mu.Lock()
		defer c.mu.Unlock()
		if n.proc == p && (n.status == Running || n.status == Paused) {
			n.status, n.exitErr = Exited, err
			c.cfg.Logf("netns: node %d exited by itself: %v", id, err)
		}
	})
	return nil
}

// brokerEnv is this process's environment without CAIRN_* variables, which
// cairn serve would read as flags.
func brokerEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CAIRN_") {
			env = append(env, kv)
		}
	}
	return env
}

// signal moves node id from a state in from to status to, sending sig to its
// process. Nodes in other states are left alone and reported.
func (c *Cluster) signal(id int32, sig syscall.Signal, to Status, from ...Status) (*process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, err := c.get(id)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(from, n.status) {
		return nil, fmt.Errorf("netns: node %d is %v", id, n.status)
	}
	// The status changes first, so the waiter does not take this exit for
	// a crash.
	n.status = to
	c.cfg.Logf("netns: node %d %v (pid %d)", id, sig, n.proc.cmd.Process.Pid)
	return n.proc, n.proc.signal(sig)
}

// Kill sends SIGKILL to node id's broker and waits for it to exit. Heal
// starts it again.
func (c *Cluster) Kill(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	p, err := c.signal(id, syscall.SIGKILL, Killed, Running, Paused)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("netns: node %d did not exit within %v of SIGKILL", id, killTimeout)
	}
}

// Stop sends SIGTERM to node id's broker (a graceful shutdown that hands its
// partition leaderships over) and waits for it to exit, at most
// Config.ReadyTimeout; then it is killed. A paused broker is resumed to let
// it shut down.
func (c *Cluster) Stop(ctx context.Context, id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	return c.stop(ctx, id)
}

func (c *Cluster) stop(ctx context.Context, id int32) error {
	p, err := c.signal(id, syscall.SIGTERM, Stopped, Running, Paused)
	if err != nil {
		return err
	}
	if err := p.signal(syscall.SIGCONT); err != nil {
		return err
	}
	t := time.NewTimer(c.cfg.ReadyTimeout)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-t.C:
		c.cfg.Logf("netns: node %d still running %v after SIGTERM: killing it", id, c.cfg.ReadyTimeout)
	case <-ctx.Done():
	}
	if err := p.kill(); err != nil {
		return fmt.Errorf("netns: stop node %d: %w", id, err)
	}
	return ctx.Err()
}

// Restart stops node id (SIGTERM, as Stop) and starts it again at once: the
// "leadership transfer" fault.
func (c *Cluster) Restart(ctx context.Context, id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	if err := c.stop(ctx, id); err != nil {
		return err
	}
	return c.start(id)
}

// Pause sends SIGSTOP to node id's broker. Heal or Resume continues it.
func (c *Cluster) Pause(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	_, err := c.signal(id, syscall.SIGSTOP, Paused, Running)
	return err
}

// Resume sends SIGCONT to node id's paused broker.
func (c *Cluster) Resume(id int32) error {
	c.ops.Lock()
	defer c.ops.Unlock()
	_, err := c.signal(id, syscall.SIGCONT, Running, Paused)
	return err
}

// Heal undoes every fault: it removes every network cut, resumes paused
// brokers and starts the ones not running (killed, stopped or crashed). It
// does not wait for readiness: see WaitReady.
func (c *Cluster) Heal() error {
	c.ops.Lock()
	defer c.ops.Unlock()
	errs := []error{c.healNetwork()}
	c.mu.Lock()
	var paused, down []int32
	for id, n := range c.mu.nodes {
		switch {
		case n.status == Paused:
			paused = append(paused, id)
		case n.status.down():
			down = append(down, id)
		}
	}
	c.mu.Unlock()
	for _, id := range paused {
		_, err := c.signal(id, syscall.SIGCONT, Running, Paused)
		errs = append(errs, err)
	}
	for _, id := range down {
		errs = append(errs, c.start(id))
	}
	return errors.Join(errs...)
}

// WaitReady waits, at most Config.ReadyTimeout, until every running broker
// answers /readyz and lists every running broker as registered in its
// /v1/cluster view. Paused and stopped brokers are not waited for.
func (c *Cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	began := time.Now()
	var logged time.Time // when the reason was last logged: every 5 s at most
	for {
		why := c.notReady(ctx)
		if why == nil {
			if !logged.IsZero() {
				c.cfg.Logf("netns: ready after %v", time.Since(began).Round(time.Millisecond))
			}
			return nil
		}
		if time.Since(began) > 5*time.Second && time.Since(logged) > 5*time.Second && ctx.Err() == nil {
			logged = time.Now()
			c.cfg.Logf("netns: not ready after %v: %v", time.Since(began).Round(time.Second), why)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("netns: cluster not ready within %v: %w (logs in %s)", c.cfg.ReadyTimeout, why, c.cfg.Dir)
		}
	}
}

// notReady returns why the cluster is not ready, or nil.
func (c *Cluster) notReady(ctx context.Context) error {
	c.mu.Lock()
	if c.mu.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	var running []int32
	for id, n := range c.mu.nodes {
		if n.status == Running {
			running = append(running, id)
		}
	}
	c.mu.Unlock()
	for _, id := range running {
		if err := c.get200(ctx, id, "/readyz", nil); err != nil {
			return err
		}
		states, err := c.brokerStates(ctx, id)
		if err != nil {
			return err
		}
		for _, want := range running {
			if states[want] != "registered" {
				return fmt.Errorf("node %d does not see node %d registered", id, want)
			}
		}
	}
	return nil
}

// Left reports whether some running node other than id sees broker id as
// left (unregistered): that is final, so one node saying so is enough.
func (c *Cluster) Left(ctx context.Context, id int32) bool {
	c.mu.Lock()
	var others []int32
	for oid, n := range c.mu.nodes {
		if oid != id && n.status == Running {
			others = append(others, oid)
		}
	}
	c.mu.Unlock()
	for _, oid := range others {
		if states, err := c.brokerStates(ctx, oid); err == nil && states[id] == "left" {
			return true
		}
	}
	return false
}

// brokerStates returns every broker's state ("registered", "fenced",
// "left") as node via's /v1/cluster reports it.
func (c *Cluster) brokerStates(ctx context.Context, via int32) (map[int32]string, error) {
	var view struct {
		Brokers []struct {
			ID    int32  `json:"id"`
			State string `json:"state"`
		} `json:"brokers"`
	}
	if err := c.get200(ctx, via, "/v1/cluster", &view); err != nil {
		return nil, err
	}
	states := make(map[int32]string, len(view.Brokers))
	for _, b := range view.Brokers {
		states[b.ID] = b.State
	}
	return states, nil
}

// get200 GETs path from node id's admin listener, wants 200, and decodes the
// JSON body into v when v is not nil.
func (c *Cluster) get200(ctx context.Context, id int32, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.HTTPAddr(id)+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("node %d %s: %w", id, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("node %d %s: %s: %s", id, path, resp.Status, strings.TrimSpace(string(body)))
	}
	if v == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("node %d %s: %w", id, path, err)
	}
	return nil
}
