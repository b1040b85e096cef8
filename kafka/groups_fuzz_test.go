package kafka

import (
	"context"
	"net"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/cairnlog/cairn/wire"
)

// groupKeys are the group APIs' keys, indexed by the fuzz input's first byte.
var groupKeys = []int16{8, 9, 10, 11, 12, 13, 14, 15, 16, 42, 47}

// FuzzGroupRequests serves arbitrary group requests (any body kmsg decodes
// at an advertised version) to a broker and requires that nothing panics.
func FuzzGroupRequests(f *testing.F) {
	seed := func(r kmsg.Request, v int16) {
		r.SetVersion(v)
		for i, k := range groupKeys {
			if k == r.Key() {
				f.Add(byte(i), byte(v), r.AppendTo(nil))
			}
		}
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Group, join.SessionTimeoutMillis, join.RebalanceTimeoutMillis, join.ProtocolType = "g", 1000, 1000, "consumer"
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0, 0, 0, 0, 0, 1, 0, 1, 't', 0, 0, 0, 0}}}
	for _, v := range []int16{0, 4, 5, 9} {
		seed(join, v)
	}
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Group, commit.Generation = "g", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 3}}}}
	seed(commit, 2)
	seed(commit, 8)
	fetch := kmsg.NewPtrOffsetFetchRequest()
	fetch.Group = "g"
	seed(fetch, 1)
	seed(fetch, 7)
	fetch.Groups = []kmsg.OffsetFetchRequestGroup{{Group: "g"}}
	seed(fetch, 8)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = "g"
	leave.Members = []kmsg.LeaveGroupRequestMember{{MemberID: "m"}}
	seed(leave, 0)
	seed(leave, 5)
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = "g"
	seed(sync, 5)
	seed(kmsg.NewPtrHeartbeatRequest(), 4)
	seed(kmsg.NewPtrFindCoordinatorRequest(), 4)
	seed(&kmsg.DescribeGroupsRequest{Groups: []string{"g", ""}}, 5)
	seed(kmsg.NewPtrListGroupsRequest(), 5)
	seed(&kmsg.DeleteGroupsRequest{Groups: []string{"g"}}, 2)
	seed(&kmsg.OffsetDeleteRequest{Group: "g", Topics: []kmsg.OffsetDeleteRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}}}}, 0)

	b := startBroker(f, Config{})
	b.createTopic("t", 1, nil)
	versions := b.handler.Versions()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	f.Fuzz(func(t *testing.T, keyIndex, version byte, body []byte) {
		key := groupKeys[int(keyIndex)%len(groupKeys)]
		v := int16(version)
		if !versions[key].Contains(v) {
			return
		}
		r := kmsg.RequestForKey(key)
		r.SetVersion(v)
		if err := r.ReadFrom(body); err != nil {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		_ = b.handler.Serve(ctx, &wire.Request{Header: wire.Header{Key: key, Version: v, ClientID: "fuzz"}, Body: r, RemoteAddr: addr})
	})
}
