package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Ports every broker listens on, at its own address.
const (
	KafkaPort    = 9092
	InternalPort = 9093
	GossipPort   = 7946
	HTTPPort     = 9644
)

// commandTimeout bounds every ip, nft and iptables invocation.
const commandTimeout = 15 * time.Second

// ErrSubnetInUse is returned by Start and Cleanup when another live Cluster,
// in this process or another, holds the subnet.
var ErrSubnetInUse = errors.New("netns: subnet in use by a live cluster")

func bridgeName(x byte) string         { return fmt.Sprintf("cnb%d", x) }
func vethName(x byte, id int32) string { return fmt.Sprintf("cnb%dv%d", x, id) }
func nsName(x byte, id int32) string   { return fmt.Sprintf("cairn%dn%d", x, id) }
func ruleComment(x byte) string        { return fmt.Sprintf("cairn-netns-%d", x) }
func hostAddr(x byte) netip.Addr       { return netip.AddrFrom4([4]byte{10, 77, x, 1}) }
func nodeAddr(x byte, id int32) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 77, x, byte(10 + id)})
}

// run runs an administration command, bounded by commandTimeout, and returns
// its combined output. stdin may be empty.
func run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// ip runs ip(8) with args.
func ip(ctx context.Context, args ...string) error {
	_, err := run(ctx, "", "ip", args...)
	return err
}

// inNS runs name with args inside namespace ns.
func inNS(ctx context.Context, ns, stdin, name string, args ...string) error {
	_, err := run(ctx, stdin, "ip", append([]string{"netns", "exec", ns, name}, args...)...)
	return err
}

// Supported returns nil when this machine can run a Cluster: root, ip and nft
// on PATH, and network namespaces that can be created.
func Supported() error {
	if os.Geteuid() != 0 {
		return errors.New("netns: needs root (network namespaces, bridges, nftables)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("netns: %s not found: %w", tool, err)
		}
	}
	ctx := context.Background()
	probe := fmt.Sprintf("cairnprobe%d", os.Getpid())
	if err := ip(ctx, "netns", "add", probe); err != nil {
		return fmt.Errorf("netns: cannot create a network namespace: %w", err)
	}
	defer ip(ctx, "netns", "del", probe)
	if err := inNS(ctx, probe, nftTable, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("netns: nftables unusable in a namespace: %w", err)
	}
	return nil
}

// lockSubnet takes subnet x for this process: an abstract Unix socket, which
// the kernel releases when the process dies.
func lockSubnet(x byte) (net.Listener, error) {
	ln, err := net.Listen("unix", "@"+ruleComment(x))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("%w: 10.77.%d.0/24", ErrSubnetInUse, x)
		}
		return nil, fmt.Errorf("lock subnet %d: %w", x, err)
	}
	return ln, nil
}

// Cleanup removes what a Cluster on subnet x left behind when its process
// died without Close: processes in its namespaces (SIGKILL), the namespaces,
// the bridge and veths, and the FORWARD rules. It returns ErrSubnetInUse,
// touching nothing, when a live Cluster holds the subnet.
func Cleanup(x byte) error {
	ln, err := lockSubnet(x)
	if err != nil {
		return err
	}
	defer ln.Close()
	return cleanup(context.Background(), x)
}

// cleanup removes subnet x's leftovers by name; the caller holds the lock.
func cleanup(ctx context.Context, x byte) error {
	var errs []error
	out, err := run(ctx, "", "ip", "netns", "list")
	if err != nil {
		errs = append(errs, err)
	}
	nsRE := regexp.MustCompile(`^cairn` + strconv.Itoa(int(x)) + `n[0-9]+$`)
	for line := range strings.Lines(out) {
		fields := strings.Fields(line)
		if len(fields) == 0 || !nsRE.MatchString(fields[0]) {
			continue
		}
		if err := removeNamespace(ctx, fields[0]); err != nil {
			errs = append(errs, err)
		}
	}
	out, err = run(ctx, "", "ip", "-o", "link", "show")
	if err != nil {
		errs = append(errs, err)
	}
	linkRE := regexp.MustCompile(`^cnb` + strconv.Itoa(int(x)) + `(v[0-9]+)?$`)
	for line := range strings.Lines(out) {
		// "7: cnb200v1@if2: <...>": the name is the second field up to '@' or ':'.
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(fields[1], ":"), "@")
		if linkRE.MatchString(name) {
			errs = append(errs, deleteLink(ctx, name))
		}
	}
	errs = append(errs, removeForwardRules(ctx, x))
	return errors.Join(errs...)
}

// deleteLink deletes link name, if it still exists: a veth goes away by
// itself, asynchronously, after its peer's namespace is deleted.
func deleteLink(ctx context.Context, name string) error {
	err := ip(ctx, "link", "del", name)
	if err != nil && strings.Contains(err.Error(), "Cannot find device") {
		return nil
	}
	return err
}

// removeNamespace kills every process in namespace ns and deletes it.
func removeNamespace(ctx context.Context, ns string) error {
	out, err := run(ctx, "", "ip", "netns", "pids", ns)
	if err == nil {
		for _, f := range strings.Fields(out) {
			// Never ourselves: a thread of ours may be in ns (inNamespace).
			if pid, err := strconv.Atoi(f); err == nil && pid > 0 && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				waitGone(pid, 5*time.Second)
			}
		}
	}
	return ip(ctx, "netns", "del", ns)
}

// waitGone waits until pid no longer exists, for at most d. Used only for
// processes of a dead run, which no one here can wait(2) for.
func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setupBridge creates bridge cnbX with the host address, up.
func setupBridge(ctx context.Context, x byte) error {
	br := bridgeName(x)
	if err := ip(ctx, "link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	// No IPv6 on our links: no router solicitations or MLD on the subnet.
	_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+br+"/disable_ipv6", []byte("1"), 0o644)
	if err := ip(ctx, "addr", "add", hostAddr(x).String()+"/24", "dev", br); err != nil {
		return err
	}
	return ip(ctx, "link", "set", br, "up")
}

// nftTable is the ruleset of every namespace; see the package doc, Cuts.
const nftTable = `table inet cairn {
	set in { type ipv4_addr; }
	set out { type ipv4_addr; }
	chain input {
		type filter hook input priority 0; policy accept;
		ip saddr @in drop
	}
	chain output {
		type filter hook output priority 0; policy accept;
		ip daddr @out drop
	}
}
`

// setupNode creates node id's namespace, its veth into the bridge, its
// address and its nftables table.
func setupNode(ctx context.Context, x byte, id int32) error {
	ns, veth := nsName(x, id), vethName(x, id)
	steps := [][]string{
		{"netns", "add", ns},
		{"link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", veth, "master", bridgeName(x)},
		{"link", "set", veth, "up"},
		{"-n", ns, "addr", "add", nodeAddr(x, id).String() + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "set", "eth0", "up"},
	}
	for i, s := range steps {
		if err := ip(ctx, s...); err != nil {
			return fmt.Errorf("node %d network: %w", id, err)
		}
		if i == 1 {
			_ = os.WriteFile("/proc/sys/net/ipv6/conf/"+veth+"/disable_ipv6", []byte("1"), 0o644)
		}
	}
	_ = inNS(ctx, ns, "", "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6")
	if err := inNS(ctx, ns, nftTable, "nft", "-f", "-"); err != nil {
		return fmt.Errorf("node %d nftables: %w", id, err)
	}
	return nil
}

// teardownNode removes node id's namespace (and with it the veth pair and the
// nftables table); processes still in it are killed.
func teardownNode(ctx context.Context, x byte, id int32) error {
	err := removeNamespace(ctx, nsName(x, id))
	if err != nil && !strings.Contains(err.Error(), "No such file") {
		return err
	}
	// The host end goes with the namespace end; delete it in case it did not.
	return deleteLink(ctx, vethName(x, id))
}

// iptablesBackends returns the iptables commands whose FORWARD chain filters
// our bridged frames: none unless br_netfilter passes bridged IPv4 to
// iptables; then "iptables" and, when present and not plainly accepting,
// "iptables-legacy" (both backends' hooks see every packet).
func iptablesBackends(ctx context.Context) []string {
	b, err := os.ReadFile("/proc/sys/net/bridge/bridge-nf-call-iptables")
	if err != nil || strings.TrimSpace(string(b)) != "1" {
		return nil
	}
	var cmds []string
	if _, err := exec.LookPath("iptables"); err == nil {
		cmds = append(cmds, "iptables")
	}
	if legacyFilter() {
		out, err := run(ctx, "", "iptables-legacy", "-w", "5", "-S", "FORWARD")
		if err == nil && strings.TrimSpace(out) != "-P FORWARD ACCEPT" {
			cmds = append(cmds, "iptables-legacy")
		}
	}
	return cmds
}

// legacyFilter reports whether the legacy (x_tables) filter table exists.
// Only then is iptables-legacy run at all: listing would load the module
// and create the table.
func legacyFilter() bool {
	if _, err := exec.LookPath("iptables-legacy"); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/net/ip_tables_names")
	return err == nil && slices.Contains(strings.Fields(string(b)), "filter")
}

func forwardRule(x byte) []string {
	br := bridgeName(x)
	return []string{"FORWARD", "-i", br, "-o", br, "-m", "comment", "--comment", ruleComment(x), "-j", "ACCEPT"}
}

// addForwardRules lets frames bridged within cnbX through FORWARD; see the
// package doc. It returns the backends it changed.
func addForwardRules(ctx context.Context, x byte) ([]string, error) {
	var added []string
	for _, cmd := range iptablesBackends(ctx) {
		rule := forwardRule(x)
		args := append([]string{"-w", "5", "-I", rule[0], "1"}, rule[1:]...)
		if _, err := run(ctx, "", cmd, args...); err != nil {
			return added, err
		}
		added = append(added, cmd)
	}
	return added, nil
}

// removeForwardRules deletes every copy of subnet x's FORWARD rule from every
// iptables backend present.
func removeForwardRules(ctx context.Context, x byte) error {
	var errs []error
	for _, cmd := range []string{"iptables", "iptables-legacy"} {
		if _, err := exec.LookPath(cmd); err != nil || (cmd == "iptables-legacy" && !legacyFilter()) {
			continue
		}
		out, err := run(ctx, "", cmd, "-w", "5", "-S", "FORWARD")
		if err != nil {
			continue // no such table in this backend
		}
		n := strings.Count(out, ruleComment(x)+" ")
		for range n {
			args := append([]string{"-w", "5", "-D"}, forwardRule(x)...)
			if _, err := run(ctx, "", cmd, args...); err != nil {
				errs = append(errs, err)
				break
			}
		}
	}
	return errors.Join(errs...)
}
