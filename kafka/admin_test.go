package kafka

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/partition"
)

func ptr(s string) *string { return &s }

func TestKadmTopics(t *testing.T) {
	b := startBroker(t, Config{})
	cl := newKgo(t, b)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()

	// Validate-only creates nothing.
	v, err := adm.ValidateCreateTopics(ctx, 3, 1, nil, "adm")
	if err != nil || v.Error() != nil {
		t.Fatalf("validate create: %v %v", err, v.Error())
	}
	if _, ok := b.Topic("adm"); ok {
		t.Fatal("validate-only created the topic")
	}

	created, err := adm.CreateTopic(ctx, 3, -1, map[string]*string{"retention.ms": ptr("60000"), "cleanup.policy": ptr("delete")}, "adm")
	if err != nil || created.Err != nil {
		t.Fatalf("create: %v %v", err, created.Err)
	}
	if created.NumPartitions != 3 || created.ReplicationFactor != 1 || created.ID == (kadm.TopicID{}) {
		t.Fatalf("create answered %+v", created)
	}
	if c := created.Configs["retention.ms"]; c.Value == nil || *c.Value != "60000" || c.Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Fatalf("created retention.ms: %+v", c)
	}

	for _, c := range []struct {
		name    string
		parts   int32
		rf      int16
		configs map[string]*string
		want    *kerr.Error
	}{
		{"adm", 1, 1, nil, kerr.TopicAlreadyExists},
		{"", 1, 1, nil, kerr.InvalidTopicException},
		{strings.Repeat("x", 250), 1, 1, nil, kerr.InvalidTopicException},
		{"a:b", 1, 1, nil, kerr.InvalidTopicException},
		{"zero", 0, 1, nil, kerr.InvalidPartitions},
		{"rf2", 1, 2, nil, kerr.InvalidReplicationFactor},
		{"badconf", 1, 1, map[string]*string{"retention.ms": ptr("soon")}, kerr.InvalidConfig},
		{"unknownconf", 1, 1, map[string]*string{"flush.ms": ptr("1")}, kerr.InvalidConfig},
	} {
		r, err := adm.CreateTopic(ctx, c.parts, c.rf, c.configs, c.name)
		if err == nil {
			err = r.Err // kadm returns a single topic's error both ways
		}
		if !errors.Is(err, c.want) {
			t.Fatalf("create %q: %v, want %v", c.name, err, c.want)
		}
	}

	// Describe: set configs are dynamic, the rest defaults.
	rcs, err := adm.DescribeTopicConfigs(ctx, "adm")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("adm", nil)
	if err != nil || rc.Err != nil {
		t.Fatalf("describe: %v %v", err, rc.Err)
	}
	got := map[string]kadm.Config{}
	for _, c := range rc.Configs {
		got[c.Key] = c
	}
	for name, want := range map[string]struct {
		value  string
		source kmsg.ConfigSource
	}{
		"retention.ms":      {"60000", kmsg.ConfigSourceDynamicTopicConfig},
		"cleanup.policy":    {"delete", kmsg.ConfigSourceDynamicTopicConfig},
		"retention.bytes":   {"-1", kmsg.ConfigSourceDefaultConfig},
		"segment.bytes":     {"1073741824", kmsg.ConfigSourceDefaultConfig},
		"segment.ms":        {"604800000", kmsg.ConfigSourceDefaultConfig},
		"max.message.bytes": {"1048588", kmsg.ConfigSourceDefaultConfig},
	} {
		c, ok := got[name]
		if !ok || c.Value == nil || *c.Value != want.value || c.Source != want.source {
			t.Fatalf("%s: %+v, want %s from %v", name, c, want.value, want.source)
		}
	}

	// Incremental alter: set, delete, append to a list.
	alter := []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "max.message.bytes", Value: ptr("2000000")},
		{Op: kadm.DeleteConfig, Name: "retention.ms"},
		{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("compact")},
	}
	if vr, err := adm.ValidateAlterTopicConfigs(ctx, alter, "adm"); err != nil || vr[0].Err != nil {
		t.Fatalf("validate alter: %v %+v", err, vr)
	}
	if ti, _ := b.Topic("adm"); ti.Configs["max.message.bytes"] != "" {
		t.Fatal("validate-only altered the topic")
	}
	ar, err := adm.AlterTopicConfigs(ctx, alter, "adm")
	if err != nil || ar[0].Err != nil {
		t.Fatalf("alter: %v %+v", err, ar)
	}
	ti, _ := b.Topic("adm")
	if ti.Configs["max.message.bytes"] != "2000000" || ti.Configs["cleanup.policy"] != "delete,compact" {
		t.Fatalf("configs after alter: %v", ti.Configs)
	}
	if _, ok := ti.Configs["retention.ms"]; ok {
		t.Fatalf("retention.ms not deleted: %v", ti.Configs)
	}
	for _, bad := range [][]kadm.AlterConfig{
		{{Op: kadm.SetConfig, Name: "segment.bytes", Value: ptr("-5")}},
		{{Op: kadm.SetConfig, Name: "nonsense", Value: ptr("1")}},
		{{Op: kadm.AppendConfig, Name: "retention.ms", Value: ptr("1")}},
		{{Op: kadm.AppendConfig, Name: "cleanup.policy", Value: ptr("shred")}},
	} {
		ar, err := adm.AlterTopicConfigs(ctx, bad, "adm")
		if err != nil || !errors.Is(ar[0].Err, kerr.InvalidConfig) {
			t.Fatalf("alter %+v: %v %+v, want INVALID_CONFIG", bad[0], err, ar)
		}
	}

	// Whole-set alter (AlterConfigs, API 33): what is left out returns to
	// its default.
	state := []kadm.AlterConfig{{Name: "retention.ms", Value: ptr("120000")}}
	if vr, err := adm.ValidateAlterTopicConfigsState(ctx, state, "adm"); err != nil || vr[0].Err != nil {
		t.Fatalf("validate alter state: %v %+v", err, vr)
	}
	if ti, _ := b.Topic("adm"); ti.Configs["retention.ms"] != "" {
		t.Fatal("validate-only altered the topic")
	}
	if ar, err := adm.AlterTopicConfigsState(ctx, state, "adm"); err != nil || ar[0].Err != nil {
		t.Fatalf("alter state: %v %+v", err, ar)
	}
	if ti, _ := b.Topic("adm"); !maps.Equal(ti.Configs, map[string]string{"retention.ms": "120000"}) {
		t.Fatalf("configs after alter state: %v, want retention.ms alone", ti.Configs)
	}
	for _, bad := range []struct {
		configs []kadm.AlterConfig
		want    *kerr.Error
	}{
		{[]kadm.AlterConfig{{Name: "retention.ms"}}, kerr.InvalidRequest}, // null value
		{[]kadm.AlterConfig{{Name: "retention.ms", Value: ptr("1")}, {Name: "retention.ms", Value: ptr("2")}}, kerr.InvalidRequest},
		{[]kadm.AlterConfig{{Name: "flush.ms", Value: ptr("1")}}, kerr.InvalidConfig},
		{[]kadm.AlterConfig{{Name: "segment.bytes", Value: ptr("-5")}}, kerr.InvalidConfig},
	} {
		ar, err := adm.AlterTopicConfigsState(ctx, bad.configs, "adm")
		if err != nil || !errors.Is(ar[0].Err, bad.want) {
			t.Fatalf("alter state %+v: %v %+v, want %v", bad.configs, err, ar, bad.want)
		}
	}
	if ti, _ := b.Topic("adm"); !maps.Equal(ti.Configs, map[string]string{"retention.ms": "120000"}) {
		t.Fatalf("a refused alter state changed the configs: %v", ti.Configs)
	}
	if ar, err := adm.AlterBrokerConfigsState(ctx, state, 1); err != nil || !errors.Is(ar[0].Err, kerr.InvalidRequest) {
		t.Fatalf("alter broker config state: %v %+v, want INVALID_REQUEST", err, ar)
	}

	// Broker configs are described, read-only.
	brs, err := adm.DescribeBrokerConfigs(ctx, 1)
	if err != nil || len(brs) != 1 || brs[0].Err != nil || len(brs[0].Configs) == 0 {
		t.Fatalf("describe broker: %v %+v", err, brs)
	}

	// Partitions grow, never shrink.
	if r, err := adm.ValidateCreatePartitions(ctx, 2, "adm"); err != nil || r.Error() != nil {
		t.Fatalf("validate create partitions: %v %v", err, r.Error())
	}
	if r, err := adm.UpdatePartitions(ctx, 5, "adm"); err != nil || r.Error() != nil {
		t.Fatalf("create partitions: %v %v", err, r.Error())
	}
	if ti, _ := b.Topic("adm"); len(ti.Partitions) != 5 {
		t.Fatalf("%d partitions, want 5", len(ti.Partitions))
	}
	if r, err := adm.UpdatePartitions(ctx, 2, "adm"); err != nil || !errors.Is(r.Error(), kerr.InvalidPartitions) {
		t.Fatalf("shrink: %v %v, want INVALID_PARTITIONS", err, r.Error())
	}
	if r, err := adm.CreatePartitions(ctx, 1, "nope"); err != nil || !errors.Is(r.Error(), kerr.UnknownTopicOrPartition) {
		t.Fatalf("create partitions of unknown topic: %v %v", err, r.Error())
	}

	// Delete.
	dr, err := adm.DeleteTopics(ctx, "adm", "nope")
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := dr.On("adm", nil); r.Err != nil {
		t.Fatalf("delete adm: %v", r.Err)
	}
	if r, _ := dr.On("nope", nil); !errors.Is(r.Err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("delete nope: %v", r.Err)
	}
	if _, ok := b.Topic("adm"); ok {
		t.Fatal("adm still exists")
	}
}

func TestListOffsetsByTimestamp(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("ts", 1, nil)
	cl := newKgo(t, b, kgo.ProducerBatchCompression(kgo.ZstdCompression()), kgo.ProducerLinger(50*time.Millisecond))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	// 100 records at t0, t0+10, ..., in a few compressed batches.
	t0 := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	var recs []*kgo.Record
	for i := range 100 {
		recs = append(recs, &kgo.Record{Topic: "ts", Value: []byte("v"), Timestamp: t0.Add(time.Duration(i*10) * time.Millisecond)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ms := t0.UnixMilli()
	for _, c := range []struct {
		at      int64
		off, ts int64
	}{
		{ms - 1000, 0, ms},
		{ms, 0, ms},
		{ms + 1, 1, ms + 10},
		{ms + 255, 26, ms + 260},
		{ms + 990, 99, ms + 990},
		{ms + 991, 100, -1}, // none: kadm turns offset -1 into the end offset
	} {
		lo, err := adm.ListOffsetsAfterMilli(ctx, c.at, "ts")
		if err != nil {
			t.Fatal(err)
		}
		o, _ := lo.Lookup("ts", 0)
		if o.Err != nil || o.Offset != c.off || o.Timestamp != c.ts {
			t.Fatalf("after %d: offset %d at %d (%v), want %d at %d", c.at-ms, o.Offset, o.Timestamp-ms, o.Err, c.off, c.ts-ms)
		}
	}
	start, err := adm.ListStartOffsets(ctx, "ts")
	if o, _ := start.Lookup("ts", 0); err != nil || o.Offset != 0 {
		t.Fatalf("start: %+v %v", o, err)
	}
	end, err := adm.ListEndOffsets(ctx, "ts")
	if o, _ := end.Lookup("ts", 0); err != nil || o.Offset != 100 {
		t.Fatalf("end: %+v %v", o, err)
	}

	// Max timestamp (v7): the last record.
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = "ts"
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -3
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if sp := resp.Topics[0].Partitions[0]; sp.ErrorCode != 0 || sp.Offset != 99 || sp.Timestamp != ms+990 {
		t.Fatalf("max timestamp: %+v", sp)
	}
}

func TestOffsetForLeaderEpochAndCluster(t *testing.T) {
	b := startBroker(t, Config{})
	b.createTopic("ep", 1, nil)
	cl := newKgo(t, b)
	ctx := t.Context()
	sp := produceOne(t, b.addr, produceReq("ep", 0, -1, 5000, plainBatch(4)))
	wantCode(t, "produce", sp.ErrorCode, nil)
	p := b.LocalPartition("ep", 0)
	epoch := p.LeaderEpoch()

	ask := func(leaderEpoch, current int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = "ep"
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.LeaderEpoch, rp.CurrentLeaderEpoch = leaderEpoch, current
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Topics[0].Partitions[0]
	}
	if r := ask(epoch, epoch); r.ErrorCode != 0 || r.LeaderEpoch != epoch || r.EndOffset != 4 {
		t.Fatalf("current epoch: %+v", r)
	}
	if r := ask(epoch+1, -1); r.ErrorCode != 0 || r.LeaderEpoch != -1 || r.EndOffset != -1 {
		t.Fatalf("future epoch: %+v", r)
	}
	if r := ask(epoch, epoch-1); r.ErrorCode != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("fenced: %+v", r)
	}

	dc, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, cl)
	if err != nil || dc.ErrorCode != 0 || dc.ClusterID != "cairn-test" || dc.ControllerID != 1 || len(dc.Brokers) != 1 || dc.Brokers[0].Port != b.port {
		t.Fatalf("describe cluster: %v %+v", err, dc)
	}
}

func TestEndOffsetFor(t *testing.T) {
	epochs := []partition.EpochStart{{Epoch: 2, StartOffset: 0}, {Epoch: 4, StartOffset: 10}, {Epoch: 7, StartOffset: 25}}
	for _, c := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{1, -1, -1}, // older than the history
		{2, 2, 10},  // ends where epoch 4 starts
		{3, 2, 10},  // no epoch 3: the largest below it
		{4, 4, 25},  //
		{6, 4, 25},  //
		{7, 7, 40},  // the latest written: the high watermark
		{8, 8, 40},  // the current epoch, nothing written yet
		{9, -1, -1}, // the future
	} {
		e, off := endOffsetFor(epochs, 8, 40, c.epoch)
		if e != c.wantEpoch || off != c.wantEnd {
			t.Errorf("epoch %d: (%d, %d), want (%d, %d)", c.epoch, e, off, c.wantEpoch, c.wantEnd)
		}
	}
}

func TestMetadataAutoCreate(t *testing.T) {
	b := startBroker(t, Config{})
	cl := newKgo(t, b, kgo.AllowAutoTopicCreation())
	ctx, cancel := context.WithTimeout(t.Context(), testDeadline)
	defer cancel()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "auto", Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatalf("produce to an auto-created topic: %v", err)
	}
	if ti, ok := b.Topic("auto"); !ok || len(ti.Partitions) != 1 {
		t.Fatalf("auto: %+v %v", ti, ok)
	}

	off := startBroker(t, Config{DisableAutoCreateTopics: true})
	ocl := newKgo(t, off)
	req := kmsg.NewPtrMetadataRequest()
	for _, name := range []string{"missing", "bad name"} {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = ptr(name)
		req.Topics = append(req.Topics, rt)
	}
	req.AllowAutoTopicCreation = true
	resp, err := req.RequestWith(ctx, ocl)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "missing", resp.Topics[0].ErrorCode, kerr.UnknownTopicOrPartition)
	wantCode(t, "bad name", resp.Topics[1].ErrorCode, kerr.InvalidTopicException)
	if _, ok := off.Topic("missing"); ok {
		t.Fatal("created with auto-creation off")
	}
}
