package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/cairnlog/cairn/faults/netns"
)

// membership returns the nemesis's membership change: with the initial
// cluster size, add a node and move a random half of the partitions onto
// it (one replica each, so the replication factor stays); with more, remove
// a random node with `cairn cluster remove-node --execute` (its replicas move
// away first), then stop it and drop its namespace.
//
// A change runs to its end even when the run ends meanwhile (bounded by two
// minutes): a broker unregistered but still counted as a node would leave
// the cluster never ready after the heal.
func membership(c *netns.Cluster, cfg Config) netns.Membership {
	return func(ctx context.Context, rng *rand.Rand) (string, error) {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		nodes := c.Nodes()
		if len(nodes) <= cfg.Nodes {
			return addNode(ctx, c, rng)
		}
		id := nodes[rng.IntN(len(nodes))]
		out, err := exec.CommandContext(ctx, cfg.Binary, "--brokers", strings.Join(c.Brokers(), ","),
			"--timeout", "20s", "cluster", "remove-node", strconv.Itoa(int(id)), "--execute", "--wait", "90s").CombinedOutput()
		what := fmt.Sprintf("removed node %d", id)
		if err != nil {
			failed := fmt.Errorf("remove-node %d: %v: %s", id, err, strings.TrimSpace(string(out)))
			// An answer lost after the broker was unregistered: it has
			// left all the same, so it is stopped like any removed node.
			if !c.Left(ctx, id) {
				return "", failed
			}
			what += fmt.Sprintf(" (it left, though %v)", failed)
		}
		if err := c.RemoveNode(ctx, id); err != nil {
			return "", fmt.Errorf("stop removed node %d: %w", id, err)
		}
		return what, nil
	}
}

func addNode(ctx context.Context, c *netns.Cluster, rng *rand.Rand) (string, error) {
	id, err := c.AddNode(ctx)
	if err != nil {
		return "", fmt.Errorf("add node: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.Brokers()...))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	m, err := adm.Metadata(ctx, topic)
	if err != nil {
		return "", fmt.Errorf("node %d added; metadata: %w", id, err)
	}
	var req kadm.AlterPartitionAssignmentsReq
	var moved []string
	for _, pd := range m.Topics[topic].Partitions.Sorted() {
		if rng.IntN(2) == 0 || slices.Contains(pd.Replicas, id) || len(pd.Replicas) == 0 {
			continue
		}
		next := slices.Clone(pd.Replicas)
		next[rng.IntN(len(next))] = id
		req.Assign(topic, pd.Partition, next)
		moved = append(moved, fmt.Sprintf("%d:%v->%v", pd.Partition, pd.Replicas, next))
	}
	if len(moved) > 0 {
		resps, err := adm.AlterPartitionAssignments(ctx, req)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			return "", fmt.Errorf("node %d added; reassign: %w", id, err)
		}
	}
	return fmt.Sprintf("added node %d, moving %s", id, strings.Join(moved, " ")), nil
}
