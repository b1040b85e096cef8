package main

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

func TestClientCluster(t *testing.T) {
	c := testClusterN(t, 3)
	brokers := c.seeds
	mustRun(t, brokers, "", "topic", "create", "orders", "-p", "2", "-r", "3")
	c.converged(t)

	id := c.brokers[0].ClusterID()
	var info clusterInfo
	decodeJSON(t, mustRun(t, brokers, "", "cluster", "info", "--format", "json").stdout, &info)
	if info.ClusterID != id || len(info.Brokers) != 3 || info.Controller < 1 {
		t.Fatalf("cluster info --format json: %+v, want cluster %s", info, id)
	}
	r := mustRun(t, brokers, "", "cluster", "info")
	if !strings.HasPrefix(r.stdout, "CLUSTER "+id+"\nCONTROLLER ") || !strings.Contains(r.stdout, "ID  HOST") {
		t.Fatalf("cluster info:\n%s", r.stdout)
	}

	r = mustRun(t, brokers, "", "cluster", "health")
	if !strings.HasPrefix(r.stdout, "HEALTHY true\n") || !strings.Contains(r.stdout, "PARTITIONS 2\n") ||
		!strings.Contains(r.stdout, "UNDER-REPLICATED none\n") {
		t.Fatalf("cluster health:\n%s", r.stdout)
	}
	var h healthReport
	decodeJSON(t, mustRun(t, brokers, "", "cluster", "health", "--format", "json").stdout, &h)
	if !h.Healthy || len(h.Brokers) != 3 {
		t.Fatalf("cluster health --format json: %+v", h)
	}

	ids := int32List(intsOf(info.Brokers))
	r = mustRun(t, brokers, "", "cluster", "reassign", "orders", "1", "--replicas", ids)
	if !strings.HasPrefix(r.stdout, "TOPIC   PARTITION  CURRENT-REPLICAS  NEW-REPLICAS\norders  1") || !strings.Contains(r.stderr, "preview only") {
		t.Fatalf("reassign preview:\n%s\n%s", r.stdout, r.stderr)
	}
	r = mustRun(t, brokers, "", "cluster", "reassign", "orders", "1", "--replicas", ids, "--execute")
	if !strings.Contains(r.stderr, "started moving orders/1") {
		t.Fatalf("reassign --execute: %q", r.stderr)
	}
	mustFail(t, brokers, "", "broker 99 is not in the cluster", "cluster", "reassign", "orders", "1", "--replicas", "99")
	mustFail(t, brokers, "", "has no partition 7", "cluster", "reassign", "orders", "7", "--replicas", ids)
	mustFail(t, brokers, "", "broker "+strings.Split(ids, ",")[0]+" named twice", "cluster", "reassign", "orders", "1", "--replicas", strings.Split(ids, ",")[0]+","+ids)
	mustFail(t, brokers, "", "--replicas is required", "cluster", "reassign", "orders", "1")

	r = mustRun(t, brokers, "", "cluster", "move-status")
	if r.stdout != "no partition moves in progress\n" {
		t.Fatalf("move-status: %q", r.stdout)
	}
	if r = mustRun(t, brokers, "", "cluster", "move-status", "--format", "json"); r.stdout != "[]\n" {
		t.Fatalf("move-status --format json: %q", r.stdout)
	}
}

func intsOf(bs []brokerInfo) []int32 {
	var ids []int32
	for _, b := range bs {
		ids = append(ids, b.ID)
	}
	return ids
}

func TestCheckHealth(t *testing.T) {
	brokers := kadm.BrokerDetails{{NodeID: 1}, {NodeID: 2}, {NodeID: 3}}
	part := func(p, leader int32, replicas, isr []int32) kadm.PartitionDetail {
		return kadm.PartitionDetail{Topic: "t", Partition: p, Leader: leader, Replicas: replicas, ISR: isr}
	}
	meta := func(controller int32, ps ...kadm.PartitionDetail) kadm.Metadata {
		td := kadm.TopicDetail{Topic: "t", Partitions: kadm.PartitionDetails{}}
		for _, p := range ps {
			td.Partitions[p.Partition] = p
		}
		return kadm.Metadata{Controller: controller, Brokers: brokers, Topics: kadm.TopicDetails{"t": td}}
	}
	full := []int32{1, 2, 3}
	for _, tc := range []struct {
		name string
		m    kadm.Metadata
		want string // problems; "" when healthy
	}{
		{"healthy", meta(1, part(0, 1, full, full), part(1, 2, full, full)), ""},
		{"no topics", meta(2), ""},
		{"leaderless", meta(1, part(0, -1, full, full)), "1 leaderless partitions"},
		{"under-replicated", meta(1, part(0, 1, full, []int32{1, 2}), part(1, 2, full, []int32{2})), "2 under-replicated partitions"},
		{"both", meta(1, part(0, -1, full, []int32{3})), "1 leaderless partitions, 1 under-replicated partitions"},
		{"unknown broker", meta(1, part(0, 1, []int32{1, 7}, []int32{1, 7})), "1 partitions on unknown brokers"},
		{"no controller", meta(-1, part(0, 1, full, full)), "no controller"},
	} {
		h := checkHealth(tc.m)
		if h.Healthy != (tc.want == "") || h.problems() != tc.want {
			t.Errorf("%s: healthy %v, problems %q; want %q", tc.name, h.Healthy, h.problems(), tc.want)
		}
	}
	m := meta(1)
	m.Topics["t"] = kadm.TopicDetail{Topic: "t", Err: kerr.LeaderNotAvailable}
	if h := checkHealth(m); h.Healthy || len(h.TopicErrors) != 1 {
		t.Errorf("a topic failing to load: %+v", h)
	}
}
