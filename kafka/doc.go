// Package kafka implements the Kafka APIs of a cairn broker: a wire.Handler
// that turns decoded requests (Produce, Fetch, Metadata, admin requests)
// into calls on a Backend (cluster metadata and admin operations) and on
// the partition.Partition replicas the broker hosts.
//
// It is not the protocol server (package wire owns framing, ApiVersions,
// ordering and connection limits), not the cluster (package cluster
// implements Backend: placement, the controller, the metadata group), and
// not the consumer-group coordinator (package consumer: the group APIs
// translate requests into calls on the Backend's consumer.Coordinator). It
// has no transactions, no fetch sessions and no KIP-848 consumer groups.
//
// # APIs
//
// One file per API key, named after it, with a header naming the versions
// it serves and what each adds. versions.go is the registry that Versions
// (and so ApiVersions) is built from:
//
//	key  API                      versions  notes
//	  0  Produce                  3-9       v2 batches only; acks -1, 1 (= -1), 0
//	  1  Fetch                    4-12      long poll; no sessions; no topic ids
//	  2  ListOffsets              1-7       -2, -1, -3 (max timestamp), by time
//	  3  Metadata                 0-12      leader epoch = Raft term; auto-create
//	  8  OffsetCommit             2-8       batched into the store; no retention
//	  9  OffsetFetch              1-8       -1 when nothing committed; v8 many groups
//	 10  FindCoordinator          0-4       the controller; v4 batched keys; groups only
//	 11  JoinGroup                0-9       v4 MEMBER_ID_REQUIRED; v5 static members
//	 12  Heartbeat                0-4
//	 13  LeaveGroup               0-5       v3 batch by member or instance id
//	 14  SyncGroup                0-5       assignors run in the clients
//	 15  DescribeGroups           0-5
//	 16  ListGroups               0-5       v4 state filter; v5 type "classic"
//	 18  ApiVersions              0-4       answered by package wire
//	 19  CreateTopics             0-7       -1 = broker defaults; validate-only
//	 20  DeleteTopics             0-6       by name, or by id (v6)
//	 22  InitProducerID           0-4       idempotent producers only
//	 23  OffsetForLeaderEpoch     0-4       from partition.Epochs
//	 32  DescribeConfigs          0-4       honoured topic configs; broker read-only
//	 33  AlterConfigs             0-2       topic configs, the whole set; left out = default
//	 35  DescribeLogDirs          0-4       one dir: the data directory; this broker's replicas
//	 37  CreatePartitions         0-3       no manual assignment
//	 42  DeleteGroups             0-2       empty groups only
//	 44  IncrementalAlterConfigs  0-1       topic configs only
//	 45  AlterPartitionAssign.    0-1       a target the partition leader moves to
//	 46  ListPartitionReassign.   0         replicas, adding, removing
//	 47  OffsetDelete             0         not of subscribed topics
//	 60  DescribeCluster          0-1       brokers endpoint only
//	 64  UnregisterBroker         0         brokers holding no replicas
//
// Every minimum is at or below what librdkafka 2.0.2, franz-go, sarama and
// kafka-go send; older versions (message formats v0 and v1) are not served.
//
// # Leadership
//
// A request for a partition this broker hosts but does not lead, or does
// not host, gets NOT_LEADER_OR_FOLLOWER, so the client refreshes its
// metadata and retries at the leader. Requests that carry a current leader
// epoch (Fetch v9+, ListOffsets v4+, OffsetForLeaderEpoch v2+) get
// FENCED_LEADER_EPOCH when it is older than the partition's Raft term and
// UNKNOWN_LEADER_EPOCH when newer (KIP-320).
//
// # Produce and acks
//
// Produce checks each partition's batches before proposing them (structure
// and CRC-32C, then the records of every batch, inflated with bounded
// memory if compressed: the record count and offset deltas must match the
// header) and proposes them to the partition's Raft group from Serve, in
// request order, so that an idempotent producer's pipelined requests commit
// in sequence order. acks=-1 answers once the batches are committed; acks=1
// is treated as -1, because a Raft leader has no weaker acknowledgement
// than a quorum; acks=0 answers nothing and closes the connection if a
// partition fails before its proposal (as Kafka does), and at most
// Config.MaxUnackedProduces such requests are uncommitted at once. An
// idempotent retry of a committed batch is answered with its original
// offsets and no error (Kafka 2.x and later).
//
// A compressed batch whose records inflate past the topic's
// max.message.bytes is refused as MESSAGE_TOO_LARGE having inflated at most
// one byte past that limit; gzip, snappy (raw or xerial-framed), lz4 (frame
// format) and zstd (windows up to 8 MiB) are accepted and stored as sent.
//
// # Groups
//
// The coordinator of every group is the controller. A broker whose
// Backend.Groups is nil answers the group APIs with NOT_COORDINATOR, and
// FindCoordinator points clients at the controller (COORDINATOR_NOT_AVAILABLE
// while there is none). JoinGroup and SyncGroup answer when the rebalance
// allows (wire.Later), OffsetCommit when its batch is durable; Serve never
// waits for either, except that OffsetCommit waits while the coordinator's
// commit queue is full. Group ids may not be empty in the membership APIs
// (INVALID_GROUP_ID), as in Kafka. Errors of the metadata group's Raft
// leadership are NOT_COORDINATOR there (groupErrorCode), not
// NOT_LEADER_OR_FOLLOWER.
//
// # Errors
//
// Errors travel as Go errors wrapping sentinels (this package's, log's,
// partition's, replication's) and are translated to Kafka error codes once,
// by the table in errors.go; a handler that must answer a code no sentinel
// stands for uses the *kerr.Error itself. An error matching nothing is
// UNKNOWN_SERVER_ERROR. Requests with bad input get the code a Kafka broker
// would return: INVALID_REQUIRED_ACKS, INVALID_REQUEST (negative timeout, a
// fetch with a replica id >= 0, a name twice in one request),
// CORRUPT_MESSAGE (nothing is appended), INVALID_TOPIC_EXCEPTION (a name
// empty, longer than 249 bytes or outside [a-zA-Z0-9._-]); sizes a client
// asks for beyond the broker's limits (fetch max bytes) are clamped.
//
// # Concurrency
//
// Serve is called once at a time per connection (wire's contract) and
// never blocks on Raft except for admin requests, which wait for the
// Backend. Deferred answers (Produce waits, long-poll Fetch) run on
// goroutines that Close cancels and waits for.
package kafka
