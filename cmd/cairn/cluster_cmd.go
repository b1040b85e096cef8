package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// clusterCommand is `cairn cluster`: brokers, health and partition moves.
func clusterCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cluster",
		Short: "Show brokers and health; move partition replicas",
		Example: `  cairn cluster info
  cairn cluster health
  cairn cluster reassign orders 0 --replicas 1,2,4 --execute`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(clusterInfoCommand(g), clusterHealthCommand(g), clusterReassignCommand(g), clusterMoveStatusCommand(g),
		clusterRemoveNodeCommand(g))
	return cmd
}

// clusterInfo is `cluster info`'s output.
type clusterInfo struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Brokers    []brokerInfo `json:"brokers"`
}

type brokerInfo struct {
	ID   int32  `json:"id"`
	Host string `json:"host"`
	Port int32  `json:"port"`
	Rack string `json:"rack,omitempty"`
}

func clusterInfoCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "info",
		Short: "Show the cluster id, the controller and the brokers",
		Example: `  cairn cluster info
  cairn cluster info --format json`,
		Args: cobra.NoArgs,
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, _ []string) error {
			m, err := a.BrokerMetadata(a.ctx)
			if err != nil {
				return kafkaErr(a.ctx, "metadata", err)
			}
			info := clusterInfo{ClusterID: m.Cluster, Controller: m.Controller, Brokers: []brokerInfo{}}
			for _, b := range m.Brokers {
				bi := brokerInfo{ID: b.NodeID, Host: b.Host, Port: b.Port}
				if b.Rack != nil {
					bi.Rack = *b.Rack
				}
				info.Brokers = append(info.Brokers, bi)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), info)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "CLUSTER %s\nCONTROLLER %d\n\n", info.ClusterID, info.Controller)
			t := newTable(w, "ID", "HOST", "PORT", "RACK")
			for _, b := range info.Brokers {
				id := fmt.Sprint(b.ID)
				if b.ID == info.Controller {
					id += "*"
				}
				t.row(id, b.Host, b.Port, b.Rack)
			}
			return t.flush()
		}),
	}
}

// healthReport is `cluster health`'s output.
type healthReport struct {
	Healthy          bool     `json:"healthy"`
	Brokers          []int32  `json:"brokers"`
	Controller       int32    `json:"controller"`
	Leaderless       []string `json:"leaderless_partitions"`       // topic/partition
	UnderReplicated  []string `json:"under_replicated_partitions"` // topic/partition
	UnknownReplicas  []string `json:"partitions_on_unknown_brokers"`
	PartitionsTotal  int      `json:"partitions"`
	TopicErrors      []string `json:"topic_errors,omitempty"`
	NoControllerSeen bool     `json:"no_controller,omitempty"`
}

// checkHealth judges a metadata snapshot: a partition without a leader, with an
// ISR smaller than its replicas, or with a replica on a broker not in the
// cluster makes the cluster unhealthy, as does a topic that failed to load.
func checkHealth(m kadm.Metadata) healthReport {
	h := healthReport{Controller: m.Controller, Brokers: m.Brokers.NodeIDs(),
		Leaderless: []string{}, UnderReplicated: []string{}, UnknownReplicas: []string{}}
	if h.Brokers == nil {
		h.Brokers = []int32{}
	}
	for _, td := range m.Topics.Sorted() {
		if td.Err != nil {
			h.TopicErrors = append(h.TopicErrors, fmt.Sprintf("%s: %v", td.Topic, td.Err))
			continue
		}
		for _, p := range td.Partitions.Sorted() {
			name := fmt.Sprintf("%s/%d", p.Topic, p.Partition)
			h.PartitionsTotal++
			if p.Leader < 0 {
				h.Leaderless = append(h.Leaderless, name)
			}
			if len(p.ISR) < len(p.Replicas) {
				h.UnderReplicated = append(h.UnderReplicated, name)
			}
			for _, r := range p.Replicas {
				if !slices.Contains(h.Brokers, r) {
					h.UnknownReplicas = append(h.UnknownReplicas, name)
					break
				}
			}
		}
	}
	h.NoControllerSeen = m.Controller < 0
	h.Healthy = len(h.Leaderless) == 0 && len(h.UnderReplicated) == 0 && len(h.UnknownReplicas) == 0 &&
		len(h.TopicErrors) == 0 && !h.NoControllerSeen && len(h.Brokers) > 0
	return h
}

// problems summarizes an unhealthy report in one line.
func (h healthReport) problems() string {
	var ps []string
	add := func(n int, what string) {
		if n > 0 {
			ps = append(ps, fmt.Sprintf("%d %s", n, what))
		}
	}
	add(len(h.Leaderless), "leaderless partitions")
	add(len(h.UnderReplicated), "under-replicated partitions")
	add(len(h.UnknownReplicas), "partitions on unknown brokers")
	add(len(h.TopicErrors), "topics failing to load")
	if h.NoControllerSeen {
		ps = append(ps, "no controller")
	}
	if len(h.Brokers) == 0 {
		ps = append(ps, "no brokers")
	}
	return strings.Join(ps, ", ")
}

func clusterHealthCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Check that every partition has a leader and a full ISR (exit 1 if not)",
		Example: `  cairn cluster health
  cairn cluster health --format json || page-oncall`,
		Args: cobra.NoArgs,
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, _ []string) error {
			m, err := a.Metadata(a.ctx)
			if err != nil {
				return kafkaErr(a.ctx, "metadata", err)
			}
			h := checkHealth(m)
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), h); err != nil {
					return err
				}
			} else {
				w := cmd.OutOrStdout()
				fmt.Fprintf(w, "HEALTHY %v\nBROKERS %s\nCONTROLLER %d\nPARTITIONS %d\n", h.Healthy, int32List(h.Brokers), h.Controller, h.PartitionsTotal)
				fmt.Fprintf(w, "LEADERLESS %s\nUNDER-REPLICATED %s\n", listOrNone(h.Leaderless), listOrNone(h.UnderReplicated))
				if len(h.UnknownReplicas) > 0 {
					fmt.Fprintf(w, "ON-UNKNOWN-BROKERS %s\n", strings.Join(h.UnknownReplicas, ","))
				}
				for _, e := range h.TopicErrors {
					fmt.Fprintf(w, "TOPIC-ERROR %s\n", e)
				}
			}
			if !h.Healthy {
				return errors.New("cluster unhealthy: " + h.problems())
			}
			return nil
		}),
	}
}

func listOrNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ",")
}

func parseBrokerIDs(s string) ([]int32, error) {
	var ids []int32
	for _, f := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
		if err != nil || id < 0 {
			return nil, fmt.Errorf("--replicas %q: want broker ids such as 1,2,3", s)
		}
		if slices.Contains(ids, int32(id)) {
			return nil, fmt.Errorf("--replicas %q: broker %d named twice", s, id)
		}
		ids = append(ids, int32(id))
	}
	return ids, nil
}

func clusterReassignCommand(g *globalFlags) *cobra.Command {
	var (
		replicas string
		execute  bool
	)
	cmd := &cobra.Command{
		Use:   "reassign TOPIC PARTITION --replicas 1,2,3 [--execute]",
		Short: "Move a partition's replicas to other brokers (previews unless --execute)",
		Long: `Move a partition's replicas. The first broker listed is the preferred leader.
Without --execute, prints the plan and changes nothing; with it, starts the move
(Kafka's AlterPartitionAssignments). Watch it with cluster move-status.`,
		Example: `  cairn cluster reassign orders 0 --replicas 1,2,4
  cairn cluster reassign orders 0 --replicas 1,2,4 --execute`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			topic := args[0]
			p, err := strconv.ParseInt(args[1], 10, 32)
			if err != nil || p < 0 {
				return fmt.Errorf("partition %q: want a partition number", args[1])
			}
			partition := int32(p)
			if replicas == "" {
				return errors.New("--replicas is required: the new broker ids, e.g. 1,2,3")
			}
			want, err := parseBrokerIDs(replicas)
			if err != nil {
				return err
			}
			a, err := g.newAdmin(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			m, err := a.Metadata(a.ctx, topic)
			if err != nil {
				return kafkaErr(a.ctx, "metadata", err)
			}
			td := m.Topics[topic]
			if td.Err != nil {
				return kafkaErr(a.ctx, "topic "+topic, td.Err)
			}
			pd, ok := td.Partitions[partition]
			if !ok {
				return fmt.Errorf("topic %s has no partition %d", topic, partition)
			}
			for _, id := range want {
				if !slices.Contains(m.Brokers.NodeIDs(), id) {
					return fmt.Errorf("broker %d is not in the cluster (brokers: %s)", id, int32List(m.Brokers.NodeIDs()))
				}
			}
			plan := struct {
				Topic     string  `json:"topic"`
				Partition int32   `json:"partition"`
				Current   []int32 `json:"current_replicas"`
				New       []int32 `json:"new_replicas"`
			}{topic, partition, pd.Replicas, want}
			if asJSON {
				if err := writeJSON(cmd.OutOrStdout(), plan); err != nil {
					return err
				}
			} else {
				t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "CURRENT-REPLICAS", "NEW-REPLICAS")
				t.row(topic, partition, int32List(pd.Replicas), int32List(want))
				if err := t.flush(); err != nil {
					return err
				}
			}
			if !execute {
				fmt.Fprintln(cmd.ErrOrStderr(), "preview only: run again with --execute to start the move")
				return nil
			}
			var req kadm.AlterPartitionAssignmentsReq
			req.Assign(topic, partition, want)
			resps, err := a.AlterPartitionAssignments(a.ctx, req)
			if err == nil {
				err = resps.Error()
				if r, ok := resps[topic][partition]; ok {
					err = errMessage(r.Err, r.ErrMessage)
				}
			}
			if err != nil {
				return kafkaErr(a.ctx, fmt.Sprintf("reassign %s/%d", topic, partition), err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "started moving %s/%d to %s; watch it with cairn cluster move-status\n", topic, partition, int32List(want))
			return nil
		},
	}
	cmd.Flags().StringVar(&replicas, "replicas", "", "new replica broker ids, preferred leader first")
	cmd.Flags().BoolVar(&execute, "execute", false, "start the move (default: only print the plan)")
	return cmd
}

// moveStatus is one in-progress reassignment in `cluster move-status`.
type moveStatus struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
	Adding    []int32 `json:"adding"`
	Removing  []int32 `json:"removing"`
	// Percent is the smallest, over the adding replicas, of the replica's log
	// size as a percentage of the leader's; -1 when not computable (no log
	// directory information, or no leader).
	Percent float64 `json:"percent"`
}

func clusterMoveStatusCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "move-status",
		Short: "Show partition moves in progress",
		Example: `  cairn cluster move-status
  cairn cluster move-status --format json`,
		Args: cobra.NoArgs,
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, _ []string) error {
			resps, err := a.ListPartitionReassignments(a.ctx, nil)
			if err != nil {
				return kafkaErr(a.ctx, "list partition reassignments", err)
			}
			moves := []moveStatus{}
			for _, r := range resps.Sorted() {
				moves = append(moves, moveStatus{r.Topic, r.Partition, r.Replicas, r.AddingReplicas, r.RemovingReplicas, -1})
			}
			if len(moves) > 0 {
				fillPercents(a, moves)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), moves)
			}
			if len(moves) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "no partition moves in progress")
				return nil
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "REPLICAS", "ADDING", "REMOVING", "PERCENT")
			for _, m := range moves {
				pct := "-"
				if m.Percent >= 0 {
					pct = fmt.Sprintf("%.0f%%", m.Percent)
				}
				t.row(m.Topic, m.Partition, int32List(m.Replicas), int32List(m.Adding), int32List(m.Removing), pct)
			}
			return t.flush()
		}),
	}
}

// fillPercents estimates each move's progress from log sizes: the leader's
// replica against each adding replica. Failures leave Percent at -1; progress is
// a nicety, not a reason to fail the listing.
func fillPercents(a *admin, moves []moveStatus) {
	set := make(kadm.TopicsSet)
	var topics []string
	for _, m := range moves {
		set.Add(m.Topic, m.Partition)
		topics = append(topics, m.Topic)
	}
	meta, err := a.Metadata(a.ctx, topics...)
	if err != nil {
		return
	}
	dirs, err := a.DescribeAllLogDirs(a.ctx, set)
	if err != nil {
		return
	}
	size := func(broker int32, topic string, partition int32) (int64, bool) {
		for _, d := range dirs[broker] {
			if p, ok := d.Topics[topic][partition]; ok && d.Err == nil {
				return p.Size, true
			}
		}
		return 0, false
	}
	for i, m := range moves {
		pd, ok := meta.Topics[m.Topic].Partitions[m.Partition]
		if !ok || pd.Leader < 0 || len(m.Adding) == 0 {
			continue
		}
		leaderSize, ok := size(pd.Leader, m.Topic, m.Partition)
		if !ok {
			continue
		}
		pct := 100.0
		for _, b := range m.Adding {
			s, ok := size(b, m.Topic, m.Partition)
			if !ok {
				s = 0
			}
			if leaderSize > 0 {
				pct = min(pct, 100*float64(min(s, leaderSize))/float64(leaderSize))
			}
		}
		moves[i].Percent = pct
	}
}
