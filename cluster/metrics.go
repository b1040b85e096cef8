package cluster

import (
	"errors"
	"io"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/kafka"
	"github.com/cairnlog/cairn/log"
	"github.com/cairnlog/cairn/partition"
	"github.com/cairnlog/cairn/wire"
)

// The broker's Prometheus metrics, served at GET /metrics of the admin
// HTTP listener from a registry of its own (several brokers may run in one
// process). The public set is small and of bounded cardinality, after
// Redpanda's public metrics:
//
//	cairn_kafka_request_latency_seconds{api}     histogram, from wire's Observer
//	cairn_kafka_request_bytes_total{api}         request frames, with length prefix
//	cairn_kafka_response_bytes_total{api}        response frames, with length prefix
//	cairn_kafka_connections_open                 gauge
//	cairn_kafka_connections_rejected_total{reason}  reason: max, per_ip
//	cairn_kafka_produced_bytes_total{topic}      committed by Produce
//	cairn_kafka_produced_records_total{topic}
//	cairn_kafka_fetched_bytes_total{topic}       returned by Fetch
//	cairn_kafka_fetched_records_total{topic}
//	cairn_partition_replicas                     replicas hosted here
//	cairn_partition_leaders                      replicas hosted here that lead
//	cairn_partition_under_replicated             of those led here
//	cairn_partition_moves                        reassignments of those led here
//	cairn_partition_leadership_changes_total     of replicas hosted here
//	cairn_cluster_partitions_leaderless          on the metadata leader only
//	cairn_metadata_is_leader                     1 on the metadata leader
//	cairn_metadata_applied_index                 metadata Raft index applied here
//	cairn_group_coordinator_active               1 where the coordinator runs
//	cairn_build_info{version,go_version}         1
//	cairn_storage_disk_free_bytes                free to us in DataDir's filesystem
//	cairn_storage_disk_total_bytes
//
// plus the Go runtime's (go_*) and the process's (process_*) collectors.
// With Config.DetailedMetrics, per group and partition, for the partitions
// this broker leads (each broker reports what it leads, so that together
// they cover every partition), computed at scrape time:
//
//	cairn_consumer_lag_records{group,topic,partition}  high watermark - committed offset
//	cairn_consumer_lag_seconds{group,topic,partition}  age of the oldest unconsumed record
//
// A partition is under-replicated when a reassignment is in progress
// (Target differs from Replicas) or one of its replicas is on a broker not
// registered (fenced or left); leaderless when the metadata names no leader.

// brokerMetrics holds the broker's registry and the metrics updated on the
// request path. It is a wire.Observer and a kafka.Metrics; the scrape-time
// metrics are brokerCollector's.
type brokerMetrics struct {
	reg *prometheus.Registry

	latency       *prometheus.HistogramVec
	requestBytes  *prometheus.CounterVec
	responseBytes *prometheus.CounterVec
	connsOpen     prometheus.Gauge
	connsRejected *prometheus.CounterVec

	producedBytes   *prometheus.CounterVec
	producedRecords *prometheus.CounterVec
	fetchedBytes    *prometheus.CounterVec
	fetchedRecords  *prometheus.CounterVec

	leadershipChanges prometheus.Counter
}

var (
	_ wire.Observer = (*brokerMetrics)(nil)
	_ kafka.Metrics = (*brokerMetrics)(nil)
)

// latencyBuckets span 100 µs to 13 s, doubling.
var latencyBuckets = prometheus.ExponentialBuckets(100e-6, 2, 18)

func newBrokerMetrics(b *Broker) *brokerMetrics {
	m := &brokerMetrics{
		reg: prometheus.NewRegistry(),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "cairn_kafka_request_latency_seconds",
			Help:    "Time from a Kafka request's last byte read to its response written, by API.",
			Buckets: latencyBuckets,
		}, []string{"api"}),
		requestBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_request_bytes_total",
			Help: "Bytes of Kafka request frames, length prefix included, by API.",
		}, []string{"api"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_response_bytes_total",
			Help: "Bytes of Kafka response frames, length prefix included, by API.",
		}, []string{"api"}),
		connsOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "cairn_kafka_connections_open",
			Help: "Kafka connections open.",
		}),
		connsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_connections_rejected_total",
			Help: "Kafka connections closed at once for a connection limit (reason max or per_ip).",
		}, []string{"reason"}),
		producedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_produced_bytes_total",
			Help: "Record batch bytes committed by Produce requests, by topic.",
		}, []string{"topic"}),
		producedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_produced_records_total",
			Help: "Records committed by Produce requests, by topic.",
		}, []string{"topic"}),
		fetchedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_fetched_bytes_total",
			Help: "Record batch bytes returned by Fetch requests, by topic.",
		}, []string{"topic"}),
		fetchedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "cairn_kafka_fetched_records_total",
			Help: "Records in the batches returned by Fetch requests, by topic.",
		}, []string{"topic"}),
		leadershipChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cairn_partition_leadership_changes_total",
			Help: "Leadership gains and losses of the partition replicas hosted here.",
		}),
	}
	m.connsRejected.WithLabelValues("max")
	m.connsRejected.WithLabelValues("per_ip")
	m.reg.MustRegister(m.latency, m.requestBytes, m.responseBytes, m.connsOpen, m.connsRejected,
		m.producedBytes, m.producedRecords, m.fetchedBytes, m.fetchedRecords, m.leadershipChanges,
		newBrokerCollector(b),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// apiNames are the label values of the Kafka API keys: kmsg's names in
// snake case ("produce", "list_offsets").
var apiNames = func() map[int16]string {
	out := map[int16]string{}
	for key := int16(0); key < 100; key++ {
		name := kmsg.NameForKey(key)
		if name == "" || name == "Unknown" {
			continue
		}
		// Plural acronyms: DescribeACLs is describe_acls,
		// AllocateProducerIDs allocate_producer_ids.
		out[key] = snakeCase(pluralAcronyms.Replace(name))
	}
	return out
}()

var pluralAcronyms = strings.NewReplacer("ACLs", "Acls", "IDs", "Ids")

func snakeCase(s string) string {
	var sb strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			// A new word: after a lower-case letter or digit, or at the
			// last capital of an acronym followed by lower case.
			if i > 0 && (!unicode.IsUpper(rs[i-1]) || i+1 < len(rs) && unicode.IsLower(rs[i+1])) {
				sb.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		sb.WriteRune(r)
	}
	return sb.String()
}

func apiName(key int16) string {
	if name, ok := apiNames[key]; ok {
		return name
	}
	return "unknown"
}

// ObserveRequest implements wire.Observer.
func (m *brokerMetrics) ObserveRequest(key, version int16, bytesIn, bytesOut int, latency time.Duration) {
	api := apiName(key)
	m.latency.WithLabelValues(api).Observe(latency.Seconds())
	m.requestBytes.WithLabelValues(api).Add(float64(bytesIn))
	if bytesOut > 0 {
		m.responseBytes.WithLabelValues(api).Add(float64(bytesOut))
	}
}

// ObserveConn implements wire.Observer.
func (m *brokerMetrics) ObserveConn(ev wire.ConnEvent) {
	switch ev {
	case wire.ConnOpened:
		m.connsOpen.Inc()
	case wire.ConnClosed:
		m.connsOpen.Dec()
	case wire.ConnRejectedMax:
		m.connsRejected.WithLabelValues("max").Inc()
	case wire.ConnRejectedPerIP:
		m.connsRejected.WithLabelValues("per_ip").Inc()
	}
}

// Produced implements kafka.Metrics.
func (m *brokerMetrics) Produced(topic string, bytes, records int) {
	m.producedBytes.WithLabelValues(topic).Add(float64(bytes))
	m.producedRecords.WithLabelValues(topic).Add(float64(records))
}

// Fetched implements kafka.Metrics.
func (m *brokerMetrics) Fetched(topic string, bytes, records int) {
	m.fetchedBytes.WithLabelValues(topic).Add(float64(bytes))
	m.fetchedRecords.WithLabelValues(topic).Add(float64(records))
}

// teeObserver reports to both observers; a nil first one is skipped.
type teeObserver struct{ a, b wire.Observer }

func (t teeObserver) ObserveRequest(key, version int16, bytesIn, bytesOut int, latency time.Duration) {
	t.a.ObserveRequest(key, version, bytesIn, bytesOut, latency)
	t.b.ObserveRequest(key, version, bytesIn, bytesOut, latency)
}

func (t teeObserver) ObserveConn(ev wire.ConnEvent) {
	t.a.ObserveConn(ev)
	t.b.ObserveConn(ev)
}

func withObserver(cfg wire.Config, o wire.Observer) wire.Config {
	if cfg.Observer == nil {
		cfg.Observer = o
	} else {
		cfg.Observer = teeObserver{cfg.Observer, o}
	}
	return cfg
}

// teeMetrics reports to both.
type teeMetrics struct{ a, b kafka.Metrics }

func (t teeMetrics) Produced(topic string, bytes, records int) {
	t.a.Produced(topic, bytes, records)
	t.b.Produced(topic, bytes, records)
}

func (t teeMetrics) Fetched(topic string, bytes, records int) {
	t.a.Fetched(topic, bytes, records)
	t.b.Fetched(topic, bytes, records)
}

// brokerCollector computes the broker's state metrics at scrape time.
type brokerCollector struct {
	b *Broker

	replicas, leaders, underReplicated, moves *prometheus.Desc
	leaderless                                *prometheus.Desc
	metaLeader, metaApplied, coordinator      *prometheus.Desc
	buildInfo, diskFree, diskTotal            *prometheus.Desc
	lagRecords, lagSeconds                    *prometheus.Desc
	damaged, repaired, scrubbed               *prometheus.Desc
}

func newBrokerCollector(b *Broker) *brokerCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	lag := []string{"group", "topic", "partition"}
	return &brokerCollector{
		b:               b,
		replicas:        d("cairn_partition_replicas", "Partition replicas hosted by this broker."),
		leaders:         d("cairn_partition_leaders", "Partition replicas hosted by this broker that lead their partition."),
		underReplicated: d("cairn_partition_under_replicated", "Partitions led here with a reassignment in progress, a replica on a broker not registered, or an ISR smaller than the replicas."),
		moves:           d("cairn_partition_moves", "Partitions led here with a reassignment in progress."),
		leaderless:      d("cairn_cluster_partitions_leaderless", "Partitions of the cluster with no leader; reported by the metadata leader only."),
		metaLeader:      d("cairn_metadata_is_leader", "1 if this broker leads the metadata group, else 0."),
		metaApplied:     d("cairn_metadata_applied_index", "Raft index of the metadata log applied by this broker."),
		coordinator:     d("cairn_group_coordinator_active", "1 if the consumer group coordinator runs on this broker, else 0."),
		buildInfo:       d("cairn_build_info", "Always 1; labels name the build.", "version", "go_version"),
		diskFree:        d("cairn_storage_disk_free_bytes", "Bytes free to unprivileged users in the data directory's filesystem."),
		diskTotal:       d("cairn_storage_disk_total_bytes", "Bytes of the data directory's filesystem."),
		lagRecords:      d("cairn_consumer_lag_records", "High watermark minus the group's committed offset, for partitions led here (DetailedMetrics).", lag...),
		lagSeconds:      d("cairn_consumer_lag_seconds", "Age of the oldest record not consumed by the group (0 when caught up), for partitions led here (DetailedMetrics).", lag...),
		damaged:         d("cairn_storage_damage_detected_total", "Damaged or missing log ranges found (at open, by a read, replay or the scrub) by the replicas hosted here since they opened."),
		repaired:        d("cairn_storage_repairs_total", "Damaged log ranges repaired from peers or the Raft log by the replicas hosted here since they opened."),
		scrubbed:        d("cairn_storage_scrubbed_bytes_total", "Log bytes checked by the background scrub of the replicas hosted here since they opened."),
	}
}

// Describe implements prometheus.Collector.
func (c *brokerCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.replicas, c.leaders, c.underReplicated, c.moves, c.leaderless,
		c.metaLeader, c.metaApplied, c.coordinator, c.buildInfo, c.diskFree, c.diskTotal, c.lagRecords, c.lagSeconds,
		c.damaged, c.repaired, c.scrubbed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *brokerCollector) Collect(ch chan<- prometheus.Metric) {
	b := c.b
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	local := b.replicas.all()
	led := map[TopicPartition]*localReplica{}
	var repairs partition.RepairStats
	for _, lr := range local {
		if lr.p.IsLeader() {
			led[lr.tp] = lr
		}
		rs := lr.p.RepairStats()
		repairs.Detected += rs.Detected
		repairs.Repaired += rs.Repaired
		repairs.ScrubbedBytes += rs.ScrubbedBytes
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.damaged, repairs.Detected)
	counter(c.repaired, repairs.Repaired)
	counter(c.scrubbed, repairs.ScrubbedBytes)
	isMetaLeader := b.meta.group.IsLeader()
	var under, moves, leaderless int
	b.meta.fsm.view(func(s *metaState) {
		for name, t := range s.Topics {
			for i, p := range t.Partitions {
				if p.Leader < 0 {
					leaderless++
				}
				lr := led[TopicPartition{name, int32(i)}]
				if lr == nil {
					continue
				}
				isr := b.replicas.ledISR(lr, lr.p.LeaderEpoch(), p)
				moving := p.Target != nil && !slices.Equal(p.Target, p.Replicas)
				if moving {
					moves++
				}
				if moving || len(isr) < len(p.Replicas) || slices.ContainsFunc(p.Replicas, func(id int32) bool {
					r, ok := s.Brokers[id]
					return !ok || r.State != BrokerRegistered
				}) {
					under++
				}
			}
		}
	})
	gauge(c.replicas, float64(len(local)))
	gauge(c.leaders, float64(len(led)))
	gauge(c.underReplicated, float64(under))
	gauge(c.moves, float64(moves))
	if isMetaLeader {
		gauge(c.leaderless, float64(leaderless))
	}
	gauge(c.metaLeader, boolFloat(isMetaLeader))
	gauge(c.metaApplied, float64(b.meta.group.Status().AppliedIndex))
	gauge(c.coordinator, boolFloat(b.groups.Load() != nil))
	gauge(c.buildInfo, 1, buildVersion, runtime.Version())
	if free, total, err := diskSpace(b.cfg.DataDir); err == nil {
		gauge(c.diskFree, float64(free))
		gauge(c.diskTotal, float64(total))
	}
	if b.cfg.DetailedMetrics {
		now := time.Now()
		for _, l := range b.lag("", now) {
			p := strconv.Itoa(int(l.Partition))
			gauge(c.lagRecords, float64(l.LagRecords), l.Group, l.Topic, p)
			gauge(c.lagSeconds, l.LagTime.Seconds(), l.Group, l.Topic, p)
		}
	}
}

func boolFloat(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// buildVersion is the main module's version as the go command stamped it
// ("(devel)" in a plain build from a work tree, "unknown" without build
// information).
var buildVersion = func() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "unknown"
}()

// LagInfo is a consumer group's lag on one partition, as the partition's
// leader sees it.
type LagInfo struct {
	Group     string
	Topic     string
	Partition int32
	// CommittedOffset is the group's committed offset: the next record it
	// consumes. HighWatermark is the partition's.
	CommittedOffset int64
	HighWatermark   int64
	// LagRecords is HighWatermark - CommittedOffset, at least 0.
	LagRecords int64
	// LagTime is the age of the oldest record the group has not consumed:
	// now minus the first timestamp of the batch holding CommittedOffset
	// (the oldest retained batch when that offset is below the log start),
	// at least 0; 0 when the group is caught up or the batch has no
	// timestamp. The batch may begin with records below CommittedOffset,
	// so it may overstate the age by the batch's span.
	LagTime time.Duration
}

// GroupLag returns the lag of group on every partition this broker leads
// and the group has committed an offset for, sorted by topic and
// partition. Other partitions' leaders report the rest: a client asks every
// broker, or reads cairn_consumer_lag_* from each.
func (b *Broker) GroupLag(group string) []LagInfo {
	return b.lag(group, time.Now())
}

// lag returns the lag of group ("": every group) on the partitions led
// here, sorted by group, topic and partition.
func (b *Broker) lag(group string, now time.Time) []LagInfo {
	var out []LagInfo
	b.meta.fsm.view(func(s *metaState) {
		for g, offsets := range s.Offsets {
			if group != "" && g != group {
				continue
			}
			for tp, oc := range offsets {
				if oc.Offset >= 0 {
					out = append(out, LagInfo{Group: g, Topic: tp.Topic, Partition: tp.Partition, CommittedOffset: oc.Offset})
				}
			}
		}
	})
	kept := out[:0]
	for _, l := range out {
		lr := b.replicas.get(TopicPartition{l.Topic, l.Partition})
		if lr == nil || !lr.p.IsLeader() {
			continue
		}
		l.HighWatermark = lr.p.HighWatermark()
		l.LagRecords = max(l.HighWatermark-l.CommittedOffset, 0)
		if l.LagRecords > 0 {
			if ts, err := firstTimestamp(lr, max(l.CommittedOffset, lr.p.LogStartOffset())); err == nil && ts >= 0 {
				l.LagTime = max(now.Sub(time.UnixMilli(ts)), 0)
			} else if err != nil {
				b.logger.Debug("consumer lag time unknown", "group", l.Group, "topic", l.Topic, "partition", l.Partition, "offset", l.CommittedOffset, "err", err)
			}
		}
		kept = append(kept, l)
	}
	slices.SortFunc(kept, cmpLag)
	return kept
}

func cmpLag(a, c LagInfo) int {
	if a.Group != c.Group {
		return strings.Compare(a.Group, c.Group)
	}
	if a.Topic != c.Topic {
		return strings.Compare(a.Topic, c.Topic)
	}
	return int(a.Partition) - int(c.Partition)
}

// firstTimestamp returns the FirstTimestamp (ms) of the committed batch
// holding offset, reading only its header.
func firstTimestamp(lr *localReplica, offset int64) (int64, error) {
	c, err := lr.p.Read(offset, 1)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if c.Len() < log.BatchHeaderSize {
		return 0, errors.New("no batch at offset")
	}
	var hdr [log.BatchHeaderSize]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return 0, err
	}
	h, err := log.ParseBatchHeader(hdr[:])
	if err != nil {
		return 0, err
	}
	return h.FirstTimestamp, nil
}
