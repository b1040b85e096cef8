package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
)

// topicCommand is `cairn topic`: create, list, describe, delete and change topics.
func topicCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "topic",
		Short: "Create, list, describe, change and delete topics",
		Example: `  cairn topic create orders -p 6 -r 3
  cairn topic list
  cairn topic describe orders`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		topicCreateCommand(g),
		topicListCommand(g),
		topicDescribeCommand(g),
		topicDeleteCommand(g),
		topicAlterConfigCommand(g),
		topicAddPartitionsCommand(g),
	)
	return cmd
}

func topicCreateCommand(g *globalFlags) *cobra.Command {
	var (
		partitions int32
		replicas   int16
		configs    []string
	)
	cmd := &cobra.Command{
		Use:   "create NAME...",
		Short: "Create topics",
		Example: `  cairn topic create orders
  cairn topic create orders payments -p 12 -r 3 -c retention.ms=86400000 -c cleanup.policy=compact`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			kvs, err := parseKeyValues("-c", configs)
			if err != nil {
				return err
			}
			cfg := make(map[string]*string, len(kvs))
			for k, v := range kvs {
				cfg[k] = &v
			}
			a, err := g.newAdmin(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			resps, err := a.CreateTopics(a.ctx, partitions, replicas, cfg, names...)
			if err != nil {
				return kafkaErr(a.ctx, "create topics", err)
			}
			type result struct {
				Topic      string `json:"topic"`
				Partitions int32  `json:"partitions"`
				Replicas   int16  `json:"replicas"`
				Error      string `json:"error,omitempty"`
			}
			var results []result
			var failed []error
			for _, name := range names {
				r, ok := resps[name]
				if !ok {
					r.Err = errNotReturned
				}
				res := result{Topic: name, Partitions: r.NumPartitions, Replicas: r.ReplicationFactor}
				if r.Err != nil {
					err := errMessage(r.Err, r.ErrMessage)
					res.Error = err.Error()
					failed = append(failed, kafkaErr(a.ctx, "create topic "+name, err))
				}
				results = append(results, res)
			}
			if asJSON {
				err = writeJSON(cmd.OutOrStdout(), results)
			} else {
				statuses := make([]statusResult, len(results))
				for i, r := range results {
					statuses[i] = statusResult{Name: r.Topic, Error: r.Error}
				}
				err = printStatusTable(cmd, "TOPIC", statuses)
			}
			if err != nil {
				return err
			}
			return firstOf(failed, len(names))
		},
	}
	f := cmd.Flags()
	f.Int32VarP(&partitions, "partitions", "p", -1, "partitions per topic (-1: the broker's default)")
	f.Int16VarP(&replicas, "replicas", "r", -1, "replicas per partition (-1: the broker's default)")
	f.StringArrayVarP(&configs, "config", "c", nil, "topic config key=value (repeatable)")
	return cmd
}

// shardFailure reports whether err is a kadm sharded request's failure for some
// partitions (for example, those without a leader), as opposed to the request
// failing as a whole.
func shardFailure(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se)
}

// errMessage attaches a broker's error message, when it sent one, to err.
func errMessage(err error, msg string) error {
	if err == nil || msg == "" {
		return err
	}
	return fmt.Errorf("%w (%s)", err, msg)
}

// errNotReturned is a multi-object request's answer that left an object out.
var errNotReturned = errors.New("not returned by the broker")

// firstOf returns nil for no failures, else the first failure with a count of
// the others out of total.
func firstOf(failed []error, total int) error {
	switch len(failed) {
	case 0:
		return nil
	case 1:
		return failed[0]
	}
	return fmt.Errorf("%d of %d failed; first: %w", len(failed), total, failed[0])
}

func topicListCommand(g *globalFlags) *cobra.Command {
	var internal bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List topics",
		Example: `  cairn topic list
  cairn topic list --format json`,
		Args: cobra.NoArgs,
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, _ []string) error {
			list := a.ListTopics
			if internal {
				list = a.ListTopicsWithInternal
			}
			tds, err := list(a.ctx)
			if err != nil {
				return kafkaErr(a.ctx, "list topics", err)
			}
			type topic struct {
				Topic      string `json:"topic"`
				ID         string `json:"id"`
				Partitions int    `json:"partitions"`
				Replicas   int    `json:"replicas"`
			}
			out := []topic{}
			for _, td := range tds.Sorted() {
				out = append(out, topic{td.Topic, td.ID.String(), len(td.Partitions), td.Partitions.NumReplicas()})
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), out)
			}
			t := newTable(cmd.OutOrStdout(), "TOPIC", "PARTITIONS", "REPLICAS")
			for _, o := range out {
				t.row(o.Topic, o.Partitions, o.Replicas)
			}
			return t.flush()
		}),
	}
	cmd.Flags().BoolVar(&internal, "internal", false, "include internal topics")
	return cmd
}

// topicDescription is `topic describe`'s output for one topic.
type topicDescription struct {
	Topic      string                 `json:"topic"`
	ID         string                 `json:"id"`
	Internal   bool                   `json:"internal"`
	Partitions []partitionDescription `json:"partitions"`
	Configs    []configDescription    `json:"configs"`
}

type partitionDescription struct {
	Partition     int32   `json:"partition"`
	Leader        int32   `json:"leader"`
	Epoch         int32   `json:"leader_epoch"`
	Replicas      []int32 `json:"replicas"`
	ISR           []int32 `json:"isr"`
	LogStart      int64   `json:"log_start_offset"`
	HighWatermark int64   `json:"high_watermark"`
	Error         string  `json:"error,omitempty"`
}

type configDescription struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive,omitempty"`
}

func topicDescribeCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "describe NAME...",
		Short: "Show topics' partitions (leader, replicas, ISR, offsets) and configs",
		Example: `  cairn topic describe orders
  cairn topic describe orders --format json`,
		Args: cobra.MinimumNArgs(1),
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, names []string) error {
			descs, err := describeTopics(a, names)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), descs)
			}
			return printTopicDescriptions(cmd, descs)
		}),
	}
	return cmd
}

func describeTopics(a *admin, names []string) ([]topicDescription, error) {
	tds, err := a.ListTopicsWithInternal(a.ctx, names...)
	if err != nil {
		return nil, kafkaErr(a.ctx, "describe topics", err)
	}
	for _, name := range names {
		if td, ok := tds[name]; !ok || td.Err != nil {
			err := td.Err
			if !ok {
				err = errNotReturned
			}
			return nil, kafkaErr(a.ctx, "topic "+name, err)
		}
	}
	// Describing is most wanted when partitions are in trouble: a partition
	// whose offsets cannot be listed (no leader) shows -1, not a failure.
	starts, err := a.ListStartOffsets(a.ctx, names...)
	if err != nil && !shardFailure(err) {
		return nil, kafkaErr(a.ctx, "list start offsets", err)
	}
	ends, err := a.ListEndOffsets(a.ctx, names...)
	if err != nil && !shardFailure(err) {
		return nil, kafkaErr(a.ctx, "list end offsets", err)
	}
	rcs, err := a.DescribeTopicConfigs(a.ctx, names...)
	if err != nil {
		return nil, kafkaErr(a.ctx, "describe topic configs", err)
	}
	var out []topicDescription
	for _, name := range names {
		td := tds[name]
		d := topicDescription{Topic: name, ID: td.ID.String(), Internal: td.IsInternal, Partitions: []partitionDescription{}, Configs: []configDescription{}}
		for _, p := range td.Partitions.Sorted() {
			pd := partitionDescription{
				Partition: p.Partition, Leader: p.Leader, Epoch: p.LeaderEpoch,
				Replicas: p.Replicas, ISR: p.ISR, LogStart: -1, HighWatermark: -1,
			}
			if p.Err != nil {
				pd.Error = p.Err.Error()
			}
			if s, ok := starts.Lookup(name, p.Partition); ok && s.Err == nil {
				pd.LogStart = s.Offset
			}
			if e, ok := ends.Lookup(name, p.Partition); ok && e.Err == nil {
				pd.HighWatermark = e.Offset
			}
			d.Partitions = append(d.Partitions, pd)
		}
		for _, rc := range rcs {
			if rc.Name != name {
				continue
			}
			if rc.Err != nil {
				return nil, kafkaErr(a.ctx, "describe configs of "+name, errMessage(rc.Err, rc.ErrMessage))
			}
			for _, c := range rc.Configs {
				d.Configs = append(d.Configs, configDescription{c.Key, c.Value, c.Source.String(), c.Sensitive})
			}
			sort.Slice(d.Configs, func(i, j int) bool { return d.Configs[i].Name < d.Configs[j].Name })
		}
		out = append(out, d)
	}
	return out, nil
}

func printTopicDescriptions(cmd *cobra.Command, descs []topicDescription) error {
	w := cmd.OutOrStdout()
	for i, d := range descs {
		if i > 0 {
			fmt.Fprintln(w)
		}
		replicas := 0
		if len(d.Partitions) > 0 {
			replicas = len(d.Partitions[0].Replicas)
		}
		fmt.Fprintf(w, "TOPIC %s\nID %s\nPARTITIONS %d\nREPLICAS %d\n\n", d.Topic, d.ID, len(d.Partitions), replicas)
		t := newTable(w, "PARTITION", "LEADER", "EPOCH", "REPLICAS", "ISR", "LOG-START", "HIGH-WATERMARK", "ERROR")
		for _, p := range d.Partitions {
			t.row(p.Partition, p.Leader, p.Epoch, int32List(p.Replicas), int32List(p.ISR), p.LogStart, p.HighWatermark, p.Error)
		}
		if err := t.flush(); err != nil {
			return err
		}
		fmt.Fprintln(w)
		t = newTable(w, "CONFIG", "VALUE", "SOURCE")
		for _, c := range d.Configs {
			v := "-"
			switch {
			case c.Sensitive:
				v = "(sensitive)"
			case c.Value != nil:
				v = *c.Value
			}
			t.row(c.Name, v, c.Source)
		}
		if err := t.flush(); err != nil {
			return err
		}
	}
	return nil
}

func topicDeleteCommand(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "delete NAME...",
		Aliases: []string{"rm"},
		Short:   "Delete topics and all their records",
		Example: `  cairn topic delete orders
  cairn topic delete orders payments`,
		Args: cobra.MinimumNArgs(1),
		RunE: adminRunE(g, func(cmd *cobra.Command, a *admin, asJSON bool, names []string) error {
			resps, err := a.DeleteTopics(a.ctx, names...)
			if err != nil {
				return kafkaErr(a.ctx, "delete topics", err)
			}
			return reportStatuses(cmd, a, asJSON, "TOPIC", "delete topic", names, func(name string) error {
				r, ok := resps[name]
				if !ok {
					return errNotReturned
				}
				return errMessage(r.Err, r.ErrMessage)
			})
		}),
	}
	return cmd
}

// statusResult is one object's outcome in a command acting on several.
type statusResult struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
}

// reportStatuses prints one STATUS row per name (column heads the names),
// outcome(name) being that object's result, and returns the failures as
// firstOf does; what names the action in an error ("delete topic").
func reportStatuses(cmd *cobra.Command, a *admin, asJSON bool, column, what string, names []string, outcome func(name string) error) error {
	results := make([]statusResult, 0, len(names))
	var failed []error
	for _, name := range names {
		r := statusResult{Name: name}
		if err := outcome(name); err != nil {
			r.Error = err.Error()
			failed = append(failed, kafkaErr(a.ctx, what+" "+name, err))
		}
		results = append(results, r)
	}
	var err error
	if asJSON {
		err = writeJSON(cmd.OutOrStdout(), results)
	} else {
		err = printStatusTable(cmd, column, results)
	}
	if err != nil {
		return err
	}
	return firstOf(failed, len(names))
}

// printStatusTable prints a row per result: its name, then OK or its error.
func printStatusTable(cmd *cobra.Command, column string, results []statusResult) error {
	t := newTable(cmd.OutOrStdout(), column, "STATUS")
	for _, r := range results {
		status := "OK"
		if r.Error != "" {
			status = r.Error
		}
		t.row(r.Name, status)
	}
	return t.flush()
}

func topicAlterConfigCommand(g *globalFlags) *cobra.Command {
	var sets, deletes []string
	cmd := &cobra.Command{
		Use:   "alter-config NAME... [--set key=value]... [--delete key]...",
		Short: "Set or delete (revert to default) topic configs",
		Example: `  cairn topic alter-config orders --set retention.ms=3600000
  cairn topic alter-config orders --set cleanup.policy=compact --delete retention.ms`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			kvs, err := parseKeyValues("--set", sets)
			if err != nil {
				return err
			}
			if len(kvs) == 0 && len(deletes) == 0 {
				return errors.New("nothing to change: give --set key=value or --delete key")
			}
			var alters []kadm.AlterConfig
			for _, k := range slices.Sorted(maps.Keys(kvs)) {
				v := kvs[k]
				alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: &v})
			}
			for _, k := range deletes {
				if _, ok := kvs[k]; ok {
					return fmt.Errorf("config %q is both set and deleted", k)
				}
				alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
			}
			a, err := g.newAdmin(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			resps, err := a.AlterTopicConfigs(a.ctx, alters, names...)
			if err != nil {
				return kafkaErr(a.ctx, "alter topic configs", err)
			}
			return reportStatuses(cmd, a, asJSON, "TOPIC", "alter configs of", names, func(name string) error {
				for _, r := range resps {
					if r.Name == name {
						return errMessage(r.Err, r.ErrMessage)
					}
				}
				return errNotReturned
			})
		},
	}
	cmd.Flags().StringArrayVar(&sets, "set", nil, "config key=value to set (repeatable)")
	cmd.Flags().StringArrayVar(&deletes, "delete", nil, "config key to revert to its default (repeatable)")
	return cmd
}

func topicAddPartitionsCommand(g *globalFlags) *cobra.Command {
	var total int
	cmd := &cobra.Command{
		Use:   "add-partitions NAME... -n TOTAL",
		Short: "Grow topics to TOTAL partitions",
		Long: `Grow topics to TOTAL partitions. Kafka cannot remove partitions, and adding
some changes which partition a key maps to.`,
		Example: `  cairn topic add-partitions orders -n 12`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, names []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			if total <= 0 {
				return errors.New("-n: give the new total number of partitions (> 0)")
			}
			a, err := g.newAdmin(cmd)
			if err != nil {
				return err
			}
			defer a.Close()
			resps, err := a.UpdatePartitions(a.ctx, total, names...)
			if err != nil {
				return kafkaErr(a.ctx, "add partitions", err)
			}
			return reportStatuses(cmd, a, asJSON, "TOPIC", "add partitions to", names, func(name string) error {
				r, ok := resps[name]
				if !ok {
					return errNotReturned
				}
				return errMessage(r.Err, r.ErrMessage)
			})
		},
	}
	cmd.Flags().IntVarP(&total, "num", "n", 0, "the total number of partitions wanted")
	return cmd
}
