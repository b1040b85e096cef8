package main

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// groupCommand is `cairn group`: list, describe, seek and delete consumer groups.
func groupCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "group",
		Short: "List, describe, seek and delete consumer groups",
		Example: `  cairn group list
  cairn group describe audit
  cairn group seek audit --to @-1h --execute`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(groupListCommand(g), groupDescribeCommand(g), groupSeekCommand(g), groupDeleteCommand(g))
	return cmd
}

func groupListCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List consumer groups",
		Example: `  cairn group list
  cairn group list --format json`,
		Args: cobra.NoArgs,
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, _ []string) error {
			groups, err := a.ListGroups(a.ctx)
			if err != nil {
				return kafkaErr(a.ctx, "list groups", err)
			}
			type group struct {
				Group        string `json:"group"`
				State        string `json:"state"`
				ProtocolType string `json:"protocol_type"`
				Coordinator  int32  `json:"coordinator"`
			}
			out := []group{}
			for _, l := range groups.Sorted() {
				out = append(out, group{l.Group, l.State, l.ProtocolType, l.Coordinator})
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			t := newTable(cmd.OutOrStdout(), "GROUP", "STATE", "PROTOCOL-TYPE", "COORDINATOR")
			for _, o := range out {
				t.row(o.Group, o.State, o.ProtocolType, o.Coordinator)
			}
			return t.flush()
		}),
	}
}

// groupDescription is `group describe`'s output for one group.
type groupDescription struct {
	Group       string `json:"group"`
	State       string `json:"state"`
	Protocol    string `json:"protocol"`
	Coordinator int32  `json:"coordinator"`
	TotalLag    int64  `json:"total_lag"` // records
	// MaxLagSeconds is the largest LagSeconds of the partitions: the age of
	// the group's oldest unconsumed record.
	MaxLagSeconds float64             `json:"max_lag_seconds"`
	Members       []groupMember       `json:"members"`
	Partitions    []groupPartitionLag `json:"partitions"`
}

type groupMember struct {
	MemberID   string   `json:"member_id"`
	InstanceID string   `json:"instance_id,omitempty"`
	ClientID   string   `json:"client_id"`
	Host       string   `json:"host"`
	Assigned   []string `json:"assigned"` // topic/partition
}

// groupPartitionLag is a partition's committed offset, log end and lag, in
// records and in seconds. Without a commit, the lag counts from the log start.
type groupPartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed_offset"` // -1: no commit
	LogEnd    int64  `json:"log_end_offset"`
	Lag       int64  `json:"lag"` // records; -1 when unknown
	// LagSeconds is the age of the oldest unconsumed record (now minus its
	// timestamp), to the millisecond: 0 when caught up, -1 when unknown.
	LagSeconds float64 `json:"lag_seconds"`
	// OldestUnconsumed is that record's timestamp (RFC 3339, UTC); absent
	// when caught up or unknown.
	OldestUnconsumed string `json:"oldest_unconsumed_timestamp,omitempty"`
	MemberID         string `json:"member_id,omitempty"`
	Error            string `json:"error,omitempty"`
}

func groupDescribeCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "describe GROUP...",
		Short: "Show groups' members, assignments, committed offsets and lag",
		Long: `Show groups' members, assignments, and per partition the committed offset,
the log end offset, and the lag: in records (log end minus committed offset) and
in seconds (the age of the oldest unconsumed record: now minus the timestamp of
the record at the committed offset; 0 when caught up). The seconds take one
fetch per lagging partition, bounded by --timeout; a partition not read in time
shows "-" (-1 in JSON). Without a commit, the lag counts from the log start.`,
		Example: `  cairn group describe audit
  cairn group describe audit --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, groups []string) error {
			lags, err := a.Lag(a.ctx, groups...)
			if err != nil {
				return kafkaErr(a.ctx, "describe groups", err)
			}
			var descs []groupDescription
			for _, name := range groups {
				l, ok := lags[name]
				if !ok {
					return fmt.Errorf("group %s: not returned by the broker", name)
				}
				if err := l.Error(); err != nil {
					return kafkaErr(a.ctx, "group "+name, err)
				}
				if l.State == "Dead" {
					return fmt.Errorf("group %s: %w", name, kerr.GroupIDNotFound)
				}
				descs = append(descs, newGroupDescription(l))
			}
			if err := g.addLagSeconds(a.ctx, descs); err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), descs)
			}
			return printGroupDescriptions(cmd, descs)
		}),
	}
}

func newGroupDescription(l kadm.DescribedGroupLag) groupDescription {
	d := groupDescription{
		Group: l.Group, State: l.State, Protocol: l.Protocol, Coordinator: l.Coordinator.NodeID,
		Members: []groupMember{}, Partitions: []groupPartitionLag{},
	}
	for _, m := range l.Members {
		gm := groupMember{MemberID: m.MemberID, ClientID: m.ClientID, Host: m.ClientHost, Assigned: []string{}}
		if m.InstanceID != nil {
			gm.InstanceID = *m.InstanceID
		}
		if c, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range c.Topics {
				for _, p := range t.Partitions {
					gm.Assigned = append(gm.Assigned, fmt.Sprintf("%s/%d", t.Topic, p))
				}
			}
		}
		d.Members = append(d.Members, gm)
	}
	for _, ml := range l.Lag.Sorted() {
		p := groupPartitionLag{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, LogEnd: ml.End.Offset, Lag: ml.Lag}
		if ml.Member != nil {
			p.MemberID = ml.Member.MemberID
		}
		if ml.Err != nil {
			p.Error = ml.Err.Error()
		}
		if p.Lag > 0 {
			d.TotalLag += p.Lag
		}
		d.Partitions = append(d.Partitions, p)
	}
	return d
}

func printGroupDescriptions(cmd *cobra.Command, descs []groupDescription) error {
	w := cmd.OutOrStdout()
	for i, d := range descs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "GROUP %s\nSTATE %s\nCOORDINATOR %d\nMEMBERS %d\nTOTAL-LAG %d\nMAX-LAG-SECONDS %s\n\n",
			d.Group, d.State, d.Coordinator, len(d.Members), d.TotalLag, seconds(d.MaxLagSeconds))
		if len(d.Members) > 0 {
			t := newTable(w, "MEMBER-ID", "CLIENT-ID", "HOST", "ASSIGNED")
			for _, m := range d.Members {
				t.row(m.MemberID, m.ClientID, m.Host, strings.Join(m.Assigned, ","))
			}
			if err := t.flush(); err != nil {
				return err
			}
			fmt.Fprintln(w)
		}
		t := newTable(w, "TOPIC", "PARTITION", "COMMITTED", "LOG-END", "LAG", "LAG-SECONDS", "MEMBER-ID", "ERROR")
		for _, p := range d.Partitions {
			committed := fmt.Sprint(p.Committed)
			if p.Committed < 0 {
				committed = "-"
			}
			t.row(p.Topic, p.Partition, committed, p.LogEnd, p.Lag, seconds(p.LagSeconds), p.MemberID, p.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

// seconds formats a lag in seconds to the tenth, "-" when unknown (negative).
func seconds(s float64) string {
	if s < 0 {
		return "-"
	}
	return strconv.FormatFloat(s, 'f', 1, 64)
}

// seekPlan is one partition's move in `group seek`.
type seekPlan struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Current   int64  `json:"current"` // -1: no commit
	New       int64  `json:"new"`
}

func groupSeekCommand(g *globalFlags) *cobra.Command {
	var (
		to      string
		topics  []string
		execute bool
	)
	cmd := &cobra.Command{
		Use:   "seek GROUP --to start|end|N|+N|-N|@TIME [--topics T,...] [--execute]",
		Short: "Move a group's committed offsets (previews unless --execute)",
		Long: `Move a group's committed offsets. Without --execute, prints the plan
(partition, current offset, new offset) and changes nothing. The group must have
no members: stop its consumers first (Kafka refuses the commit otherwise).

--to takes the FROM forms of consume -o: start, end, N, +N, -N, @TIME. The
partitions moved are those the group has commits for, or every partition of
--topics.`,
		Example: `  cairn group seek audit --to start
  cairn group seek audit --to @2026-11-01T00:00:00Z --execute
  cairn group seek audit --to end --topics orders,payments --execute`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			if to == "" {
				return errors.New("--to is required: start, end, N, +N, -N or @TIME")
			}
			from, err := parseStart(to, time.Now())
			if err != nil {
				return fmt.Errorf("--to %q: %w", to, err)
			}
			a, err := g.newAdmin(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			return runSeek(cmd, a, args[0], from, topics, execute, asJSON)
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "where to move: start, end, N, +N, -N or @TIME")
	cmd.Flags().StringSliceVar(&topics, "topics", nil, "topics to move (default: those the group has commits for)")
	cmd.Flags().BoolVar(&execute, "execute", false, "commit the new offsets (default: only print the plan)")
	return cmd
}

func runSeek(cmd *cobra.Command, a *admin, group string, from startSpec, topics []string, execute, asJSON bool) error {
	described, err := a.DescribeGroups(a.ctx, group)
	if err != nil {
		return kafkaErr(a.ctx, "describe group "+group, err)
	}
	d := described[group]
	if errors.Is(d.Err, kerr.GroupIDNotFound) {
		// No such group yet: committing offsets creates it.
		d = kadm.DescribedGroup{Group: group, State: "Dead"}
	}
	if d.Err != nil {
		return kafkaErr(a.ctx, "describe group "+group, errMessage(d.Err, d.ErrMessage))
	}
	active := len(d.Members) > 0 || (d.State != "Empty" && d.State != "Dead" && d.State != "")
	if active && execute {
		return fmt.Errorf("group %s is %s with %s: stop its consumers before seeking", group, d.State, members(len(d.Members)))
	}
	commits, err := a.FetchOffsets(a.ctx, group)
	if err == nil {
		err = commits.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		commits, err = nil, nil
	}
	if err != nil {
		return kafkaErr(a.ctx, "fetch offsets of group "+group, err)
	}
	if len(topics) == 0 {
		for t := range commits {
			topics = append(topics, t)
		}
		slices.Sort(topics)
		if len(topics) == 0 {
			return fmt.Errorf("group %s has no committed offsets: name the topics to seek with --topics", group)
		}
	}
	ranges, err := resolveRanges(a, offsetSpec{from: from}, topics, nil)
	if err != nil {
		return err
	}
	var plan []seekPlan
	next := make(kadm.Offsets)
	for _, r := range ranges {
		cur := int64(-1)
		if c, ok := commits.Lookup(r.topic, r.partition); ok {
			cur = c.At
		}
		plan = append(plan, seekPlan{r.topic, r.partition, cur, r.start})
		next.AddOffset(r.topic, r.partition, r.start, -1)
	}
	if asJSON {
		if err := writeJSON(cmd.OutOrStdout(), plan); err != nil {
			return err
		}
	} else {
		t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITION", "CURRENT", "NEW")
		for _, p := range plan {
			cur := fmt.Sprint(p.Current)
			if p.Current < 0 {
				cur = "-"
			}
			t.row(p.Topic, p.Partition, cur, p.New)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	if !execute {
		note := "preview only: run again with --execute to commit these offsets"
		if active {
			note += fmt.Sprintf(" (after stopping the group's %s)", members(len(d.Members)))
		}
		fmt.Fprintln(cmd.ErrOrStderr(), note)
		return nil
	}
	resps, err := a.CommitOffsets(a.ctx, group, next)
	if err == nil {
		err = resps.Error()
	}
	if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.RebalanceInProgress) {
		return fmt.Errorf("group %s has active members (%v): stop its consumers before seeking", group, err)
	}
	if err != nil {
		return kafkaErr(a.ctx, "commit offsets of group "+group, err)
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "committed %d offsets for group %s\n", len(plan), group)
	return nil
}

func groupDeleteCommand(g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:     "delete GROUP...",
		Aliases: []string{"rm"},
		Short:   "Delete consumer groups and their committed offsets",
		Example: `  cairn group delete audit
  cairn group delete audit replay-1 replay-2`,
		Args: cobra.MinimumNArgs(1),
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, groups []string) error {
			resps, err := a.DeleteGroups(a.ctx, groups...)
			if err != nil {
				return kafkaErr(a.ctx, "delete groups", err)
			}
			return reportStatuses(cmd, a, asJSON, "GROUP", "delete group", groups, func(name string) error {
				r, ok := resps[name]
				if !ok {
					return errNotReturned
				}
				return errMessage(r.Err, r.ErrMessage)
			})
		}),
	}
}

func members(n int) string {
	if n == 1 {
		return "1 member"
	}
	return fmt.Sprintf("%d members", n)
}
