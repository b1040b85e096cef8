// Package netns runs a real multi-host cairn cluster on one Linux machine, one
// network namespace per broker, and injects faults into it: process faults
// (kill -9, SIGSTOP, SIGTERM and restart) and network faults (isolation,
// partitions, a bridge node, a cut between the clients and a node). A Nemesis
// picks random fault sets for a fault campaign; faults/history records them.
//
// It is a test harness, not a deployment tool: it needs root, iproute2 (ip)
// and nft, and it changes the host's network configuration while a Cluster
// runs.
//
// # Topology
//
// A Cluster owns subnet 10.77.X.0/24, X chosen per cluster (Config.Subnet):
//
//	host (workload, clients)       10.77.X.1   on bridge cnbX
//	  ├── veth cnbXv1 ── netns cairnXn1: eth0 10.77.X.11, lo
//	  ├── veth cnbXv2 ── netns cairnXn2: eth0 10.77.X.12, lo
//	  └── veth cnbXv3 ── netns cairnXn3: eth0 10.77.X.13, lo
//
// Node ID has address 10.77.X.(10+ID) and listens there on fixed ports
// (KafkaPort, InternalPort, GossipPort, HTTPPort). Namespaces have no default
// route, so no traffic leaves the subnet. Node ID's data is Dir/nodeID, its
// log (stdout and stderr, appended across restarts) Dir/nodeID.log.
//
// # Cuts
//
// Every namespace holds one nftables table, "inet cairn", with two sets of
// IPv4 addresses: packets from an address in set "in" are dropped on input,
// packets to an address in set "out" are dropped on output. A cut between
// nodes a and b adds b to a's "in" set and a to b's: both directions lose
// every packet (TCP and UDP, so memberlist's probes too) in the network, as
// seen by the senders, with no error returned to them. A cut between the
// host and node a adds the host address to a's "in" and "out" sets. Heal
// flushes every set. The tables live in the namespaces and go with them.
//
// # Docker and br_netfilter
//
// When br_netfilter is loaded (Docker loads it) with
// net.bridge.bridge-nf-call-iptables=1, frames bridged between two veths of
// our bridge traverse iptables' FORWARD chain, whose policy Docker sets to
// DROP. A Cluster then inserts one rule at the head of FORWARD, in each
// iptables backend whose FORWARD chain is not empty-and-accepting,
//
//	-i cnbX -o cnbX -m comment --comment cairn-netns-X -j ACCEPT
//
// and deletes it on Close. Nothing global (sysctls, policies, Docker's own
// chains) is changed. Start checks that a TCP connection between two
// namespaces and from the host into a namespace succeeds before starting any
// broker, so a filter we did not foresee shows up as a clear error.
//
// # Cleanup
//
// Invariant: whatever a Cluster created is removed by Close, which is
// idempotent and also runs when Start fails half-way. The brokers are started
// with PR_SET_PDEATHSIG=SIGKILL, so they die with the test process even when
// it is killed. Namespaces, links and the firewall rule of a process that died
// without Close are removed by Cleanup(X), which Start calls before building
// subnet X. A cluster holds the abstract Unix socket "@cairn-netns-X" while it
// runs: the kernel releases it when the process dies, so Start and Cleanup
// never touch a subnet a live process uses.
package netns
