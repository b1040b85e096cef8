// Package cluster is a cairn broker: it wires the internal node
// (replication), the metadata partition, gossip membership, the controller,
// the replica manager (partition groups), the Kafka listeners (one wire
// server with a handler from package kafka, on one or more named listeners:
// listeners.go) and the admin HTTP listener.
//
// # What it is not
//
// It does not speak the Kafka protocol (package kafka maps the Broker API
// below onto it, and cluster's sentinel errors onto Kafka error codes), nor
// store or replicate a partition (package partition), nor read flags, the
// environment or files (cmd/cairn).
//
// # The Broker API (for the Kafka layer)
//
//	Start(Config) (*Broker, error); (*Broker) Shutdown(ctx), Close()
//	ID, ClusterID, ControllerID, Brokers, Topics, Topic, LocalPartition
//	CreateTopic, DeleteTopic, CreatePartitions, AlterTopicConfigs
//	AllocateProducerID, CommitOffsets, FetchOffsets
//	Reassign, Decommission, Ready, View
//
// Reads answer from this broker's own copy of the metadata; writes go to the
// metadata leader (forwarded over the internal RPC cluster.meta.apply when
// this broker is not it) and return once this broker's copy applied them.
//
// # The metadata partition
//
// One Raft group, __cluster_metadata, on every broker, stored with
// raft-boltdb (data/__cluster_metadata/). Up to three brokers are voters
// (five once the cluster has five brokers); every other broker is a
// non-voter, so each broker holds all the metadata: brokers (id, addresses,
// rack, state registered/fenced/left), topics (id, configs, partitions with
// replicas, reassignment target, initial replicas, leader and leader epoch),
// consumer-group offsets, and the next producer-id block. Commands and
// snapshots are versioned (commands.go, metadata_fsm.go draw the formats).
// The first broker started without Join bootstraps the group with itself as
// its only voter; the others are added by the controller.
//
// # The controller (controller.go)
//
// The metadata leader's controller registers brokers that gossip reports
// alive, fences those it reports dead, adds every broker to the metadata
// group as a non-voter and promotes caught-up ones while voters are
// missing, and removes decommissioned (left) brokers. Gossip never removes a
// voter: dead is not left. Placement of new partitions is part of the
// metadata FSM (placement.go), so a CreateTopic from any broker is one
// command: leaders round-robin over the registered brokers with a per-topic
// offset, followers to the least-loaded brokers; replicas and leaders differ
// by at most one per broker.
//
// # The replica manager (replicas.go, reassign.go)
//
// Every broker opens the partition replicas the metadata assigns it
// (<data>/<topic>-<partition>/, Raft group <topic>-<partition>.<topic id
// prefix>), bootstrapping the initial replicas of a new partition with the
// same voter list, closes and deletes the others, reports the leadership of
// the partitions it leads (leader id and epoch = Raft term) into the
// metadata, hands leadership to the preferred replica (the first), and, on a
// partition's leader, carries out reassignments: add the new replicas as
// non-voters, promote them when caught up, remove the old ones, report
// completion. It acts only while its metadata copy has caught up with the
// leader, so a restarted broker never deletes a replica of a partition
// newer than its stale copy.
//
// # Stopping
//
// Shutdown is Kafka's controlled shutdown: leave gossip, fence itself in
// the metadata (no broker hands a leadership back to it), hand every
// partition leadership and the metadata leadership to another voter, close.
// Close stops at once. Neither changes Raft voters; Decommission marks a
// broker left, and the controller then promotes a replacement metadata
// voter before removing it.
//
// # Invariants
//
//   - Every metadata change is a command in the metadata Raft log, applied
//     deterministically on every broker; a command that fails changes
//     nothing, and a command retried after a leader change is harmless
//     (commands are idempotent or carry the ids that make them so).
//   - A partition's leader epoch in the metadata never goes back.
//   - A replica directory names its topic id (cairn-partition.json): a new
//     topic never opens the data of a deleted one of the same name.
//   - Every goroutine a Broker starts ends in Close.
package cluster
