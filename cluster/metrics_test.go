package cluster

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scrape is one /metrics document of every live broker, by broker id.
type scrape map[int32]map[string]*dto.MetricFamily

func scrapeAll(t *testing.T, c *testCluster) scrape {
	t.Helper()
	out := scrape{}
	for _, b := range c.live() {
		resp, err := http.Get("http://" + b.HTTPAddr() + "/metrics")
		if err != nil {
			t.Fatalf("scrape broker %d: %v", b.ID(), err)
		}
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("parse /metrics of broker %d: %v", b.ID(), err)
		}
		out[b.ID()] = mfs
	}
	return out
}

// sum adds the values of the series of name whose labels include want,
// over every broker; a histogram contributes its sample count. found is
// false when no series matched.
func (s scrape) sum(name string, want map[string]string) (total float64, found bool) {
	for _, mfs := range s {
		mf := mfs[name]
		if mf == nil {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue series
				}
			}
			found = true
			switch {
			case m.Counter != nil:
				total += m.GetCounter().GetValue()
			case m.Gauge != nil:
				total += m.GetGauge().GetValue()
			case m.Histogram != nil:
				total += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return total, found
}

func TestAPINames(t *testing.T) {
	for key, want := range map[int16]string{
		0: "produce", 1: "fetch", 2: "list_offsets", 3: "metadata", 10: "find_coordinator",
		23: "offset_for_leader_epoch", 29: "describe_acls", 42: "delete_groups",
		44: "incremental_alter_configs", 60: "describe_cluster", 50: "describe_user_scram_credentials", 67: "allocate_producer_ids", -1: "unknown",
	} {
		if got := apiName(key); got != want {
			t.Errorf("apiName(%d) = %q, want %q", key, got, want)
		}
	}
}

// A known workload moves the counters by known amounts, the scrape-time
// gauges describe the cluster, and a paused group's lag is reported in
// records and seconds by the partition's leader alone.
func TestMetrics(t *testing.T) {
	c := &testCluster{t: t, root: t.TempDir(), brokers: map[int32]*Broker{}, cfgs: map[int32]Config{}, kafka: true}
	t.Cleanup(c.closeAll)
	for id := int32(1); id <= 3; id++ {
		cfg := c.config(id)
		cfg.DetailedMetrics = true
		c.start(cfg)
	}
	c.waitReady(3, 30*time.Second)
	ctx := ctxTimeout(t, time.Minute)

	// Uncompressed, so that the byte counters (which count batches as
	// sent) hold at least the payload.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.kafkaSeeds()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"metrics": {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	const topic, partitions, records, valueBytes = "metrics", 2, 1000, 100
	if _, err := adm.CreateTopic(ctx, partitions, 3, nil, topic); err != nil {
		t.Fatal(err)
	}
	// Every partition led by its preferred replica, so that no hand-over to
	// it moves the lag reports between the scrape and the checks below.
	c.waitFor(30*time.Second, "preferred leaders of "+topic, func() bool {
		ti, ok := c.leadersAgree(topic)
		for _, p := range ti.Partitions {
			ok = ok && p.Leader == p.Replicas[0]
		}
		return ok
	})

	// Records 0-399 and 401-999 now; record 400 alone in its batch, stamped
	// an hour ago, so that the lag time of a group at offset 400 is known.
	value := bytes.Repeat([]byte("v"), valueBytes)
	old := time.Now().Add(-time.Hour)
	batch := func(from, to int) []*kgo.Record {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			r := &kgo.Record{Topic: topic, Partition: 0, Value: value}
			if i == 400 {
				r.Timestamp = old
			}
			rs = append(rs, r)
		}
		return rs
	}
	for _, r := range [][2]int{{0, 400}, {400, 401}, {401, records}} {
		if err := cl.ProduceSync(ctx, batch(r[0], r[1])...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for got := 0; got < records; {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatal(err)
		}
		got += fs.NumRecords()
	}

	// The paused group has consumed records 0-399.
	commit := kadm.Offsets{}
	commit.Add(kadm.Offset{Topic: topic, Partition: 0, At: 400, LeaderEpoch: -1})
	if _, err := adm.CommitOffsets(ctx, "paused", commit); err != nil {
		t.Fatal(err)
	}
	lagOf := map[string]string{"group": "paused", "topic": topic, "partition": "0"}
	var s scrape
	c.waitFor(10*time.Second, "lag and latency reported", func() bool {
		s = scrapeAll(t, c)
		_, lag := s.sum("cairn_consumer_lag_records", lagOf)
		produces, _ := s.sum("cairn_kafka_request_latency_seconds", map[string]string{"api": "produce"})
		fetches, _ := s.sum("cairn_kafka_request_latency_seconds", map[string]string{"api": "fetch"})
		return lag && produces >= 3 && fetches >= 1
	})

	exact := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got, _ := s.sum(name, labels); got != want {
			t.Errorf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	atLeast := func(name string, labels map[string]string, want float64) {
		t.Helper()
		if got, _ := s.sum(name, labels); got < want {
			t.Errorf("%s%v = %v, want at least %v", name, labels, got, want)
		}
	}
	byTopic := map[string]string{"topic": topic}
	exact("cairn_kafka_produced_records_total", byTopic, records)
	atLeast("cairn_kafka_produced_bytes_total", byTopic, records*valueBytes)
	exact("cairn_kafka_fetched_records_total", byTopic, records)
	atLeast("cairn_kafka_fetched_bytes_total", byTopic, records*valueBytes)
	atLeast("cairn_kafka_request_bytes_total", map[string]string{"api": "produce"}, records*valueBytes)
	atLeast("cairn_kafka_response_bytes_total", map[string]string{"api": "fetch"}, records*valueBytes)
	atLeast("cairn_kafka_connections_open", nil, 1)
	exact("cairn_kafka_connections_rejected_total", nil, 0)

	exact("cairn_partition_replicas", nil, partitions*3)
	exact("cairn_partition_leaders", nil, partitions)
	exact("cairn_partition_under_replicated", nil, 0)
	exact("cairn_partition_moves", nil, 0)
	exact("cairn_storage_damage_detected_total", nil, 0)
	exact("cairn_storage_repairs_total", nil, 0)
	atLeast("cairn_storage_scrubbed_bytes_total", nil, 0)
	exact("cairn_cluster_partitions_leaderless", nil, 0)
	atLeast("cairn_partition_leadership_changes_total", nil, partitions)
	exact("cairn_metadata_is_leader", nil, 1)
	exact("cairn_group_coordinator_active", nil, 1)
	exact("cairn_build_info", nil, 3)
	for id, mfs := range s {
		for _, name := range []string{"cairn_metadata_applied_index", "cairn_storage_disk_free_bytes", "cairn_build_info"} {
			if mf := mfs[name]; mf == nil || len(mf.GetMetric()) != 1 || mf.GetMetric()[0].GetGauge().GetValue() <= 0 {
				t.Errorf("broker %d: %s missing or not positive: %v", id, name, mf)
			}
		}
	}

	// Lag: exactly one broker (the leader of partition 0) reports it.
	exact("cairn_consumer_lag_records", lagOf, records-400)
	reporters := 0
	for id, mfs := range s {
		if mf := mfs["cairn_consumer_lag_seconds"]; mf != nil {
			reporters++
			secs := mf.GetMetric()[0].GetGauge().GetValue()
			if secs < 3599 || secs > 3700 {
				t.Errorf("broker %d: cairn_consumer_lag_seconds = %v, want about 3600", id, secs)
			}
			lag := c.broker(id).GroupLag("paused")
			if len(lag) != 1 || lag[0].LagRecords != records-400 || lag[0].CommittedOffset != 400 || lag[0].HighWatermark != records {
				t.Errorf("broker %d: GroupLag = %+v", id, lag)
			}
		}
	}
	if reporters != 1 {
		t.Errorf("%d brokers report lag, want 1", reporters)
	}
	if t.Failed() {
		for id, mfs := range s {
			var buf bytes.Buffer
			for _, mf := range mfs {
				expfmt.MetricFamilyToText(&buf, mf)
			}
			t.Logf("broker %d:\n%s", id, buf.String())
		}
	}
}
