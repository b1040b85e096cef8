package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// replicaMove is one partition's replica change in `cluster remove-node`.
type replicaMove struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Current   []int32 `json:"current_replicas"`
	New       []int32 `json:"new_replicas"`
}

func clusterRemoveNodeCommand(g *globalFlags) *cobra.Command {
	var (
		execute bool
		wait    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "remove-node ID [--execute]",
		Short: "Move every replica off a broker, then unregister it (previews unless --execute)",
		Long: `Plans moving every partition replica on broker ID to the remaining brokers
(each to the broker holding the fewest replicas that does not hold one of that
partition already). Without --execute, prints the plan and changes nothing.
With it, starts the moves, waits until they are done (at most --wait), then
unregisters the broker (Kafka's UnregisterBroker): it leaves the metadata
voters and gets no new partitions. Stop its process afterwards.`,
		Example: `  cairn cluster remove-node 4
  cairn cluster remove-node 4 --execute`,
		Args: cobra.ExactArgs(1),
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, args []string) error {
			n, err := strconv.ParseInt(args[0], 10, 32)
			if err != nil || n < 0 {
				return fmt.Errorf("broker id %q: want a non-negative number", args[0])
			}
			id := int32(n)
			m, err := a.Metadata(a.ctx)
			if err != nil {
				return kafkaErr(a.ctx, "metadata", err)
			}
			moves, err := planRemoval(m, id)
			if err != nil {
				return err
			}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), moves); err != nil {
					return err
				}
			} else if len(moves) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "broker %d holds no partition replicas\n", id)
			} else {
				t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "CURRENT-REPLICAS", "NEW-REPLICAS")
				for _, mv := range moves {
					t.row(mv.Topic, mv.Partition, int32List(mv.Current), int32List(mv.New))
				}
				if err := t.flush(); err != nil {
					return err
				}
			}
			if !execute {
				fmt.Fprintln(cmd.ErrOrStderr(), "preview only: run again with --execute to move the replicas and unregister the broker")
				return nil
			}
			if len(moves) > 0 {
				var req kadm.AlterPartitionAssignmentsReq
				for _, mv := range moves {
					req.Assign(mv.Topic, mv.Partition, mv.New)
				}
				resps, err := a.AlterPartitionAssignments(a.ctx, req)
				if err == nil {
					err = resps.Error()
				}
				if err != nil {
					return kafkaErr(a.ctx, "reassign", err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "moving %d replicas off broker %d\n", len(moves), id)
				if err := waitMoves(cmd.Context(), a, moves, wait, g.timeout); err != nil {
					return err
				}
			}
			cl, err := g.newClient()
			if err != nil {
				return err
			}
			defer cl.Close()
			req := kmsg.NewPtrUnregisterBrokerRequest()
			req.BrokerID = id
			resp, err := req.RequestWith(a.ctx, cl)
			if err == nil {
				err = kerr.ErrorForCode(resp.ErrorCode)
				if resp.ErrorMessage != nil {
					err = errMessage(err, *resp.ErrorMessage)
				}
			}
			if err != nil {
				return kafkaErr(a.ctx, fmt.Sprintf("unregister broker %d", id), err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "broker %d holds no replicas and is unregistered; stop its process now\n", id)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&execute, "execute", false, "move the replicas and unregister the broker (default: only print the plan)")
	cmd.Flags().DurationVar(&wait, "wait", 10*time.Minute, "bound on waiting for the moves to finish")
	return cmd
}

// planRemoval replaces id in every partition's replicas by the broker with the
// fewest replicas (counting the moves planned so far) that is not already a
// replica of it, keeping id's position so a preferred leader stays first
// unless it is the one leaving.
func planRemoval(m kadm.Metadata, id int32) ([]replicaMove, error) {
	load := map[int32]int{}
	for _, b := range m.Brokers {
		if b.NodeID != id {
			load[b.NodeID] = 0
		}
	}
	if len(load) == 0 {
		return nil, fmt.Errorf("broker %d is the only broker: nowhere to move its replicas", id)
	}
	for _, td := range m.Topics.Sorted() {
		for _, pd := range td.Partitions.Sorted() {
			for _, r := range pd.Replicas {
				if _, ok := load[r]; ok {
					load[r]++
				}
			}
		}
	}
	candidates := slices.Sorted(maps.Keys(load))
	var moves []replicaMove
	for _, td := range m.Topics.Sorted() {
		for _, pd := range td.Partitions.Sorted() {
			at := slices.Index(pd.Replicas, id)
			if at < 0 {
				continue
			}
			best := int32(-1)
			for _, b := range candidates {
				if !slices.Contains(pd.Replicas, b) && (best < 0 || load[b] < load[best]) {
					best = b
				}
			}
			if best < 0 {
				return nil, fmt.Errorf("%s/%d has a replica on every other broker: add a broker first", td.Topic, pd.Partition)
			}
			load[best]++
			next := slices.Clone(pd.Replicas)
			next[at] = best
			if at == 0 && len(next) > 1 { // the leaving broker was the preferred leader
				next = append(next[1:], best)
			}
			moves = append(moves, replicaMove{td.Topic, pd.Partition, pd.Replicas, next})
		}
	}
	return moves, nil
}

// waitMoves polls the reassignments in progress until none of moves is
// listed, each request bounded by perRequest and the whole by wait.
func waitMoves(ctx context.Context, a *admin, moves []replicaMove, wait, perRequest time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	set := kadm.TopicsSet{}
	for _, mv := range moves {
		set.Add(mv.Topic, mv.Partition)
	}
	for {
		rctx, rcancel := context.WithTimeout(ctx, perRequest)
		resps, err := a.ListPartitionReassignments(rctx, set)
		rcancel()
		if err == nil && len(resps) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("moves not done within --wait %s: %w", wait, err)
			}
			return fmt.Errorf("moves not done within --wait %s: %d partitions still moving (see cluster move-status)", wait, len(resps))
		case <-time.After(500 * time.Millisecond):
		}
	}
}
