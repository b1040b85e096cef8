// Package workload is the client side of a fault-injection run: it drives a
// cairn cluster through its Kafka addresses with real franz-go clients
// while a nemesis injects faults, and records every operation with its
// outcome into a history (package faults/history) for the checker.
//
// # What it runs
//
//   - Setup creates the topic and waits until every partition has a leader.
//   - Run runs, until its context is done: idempotent producers writing
//     unique values "p<N>-<seq>" (key = value) round-robin over the
//     partitions, rate limited and with bounded in-flight records; consumer
//     groups of group consumers committing what they polled about once a
//     second and on every revoke; and assign() readers reading every
//     partition from its start.
//   - FinalRead, after the faults healed, reads every partition from its
//     start offset to its high watermark with a fresh client.
//
// # What it is not
//
// It injects no faults and judges nothing: the nemesis (the harness) and
// the checker (faults/checker) do. It never retries an operation itself;
// franz-go's own retries are part of the system under test.
//
// # Outcomes
//
// The history is only useful if it is exactly right about outcomes, so an
// operation is recorded as history.OK only when the broker acknowledged it,
// history.Fail only when it was certainly not applied, and history.Unknown
// in every other case. sendOutcome and commitOutcome state the mapping from
// franz-go errors and Kafka error codes, with the reasons.
//
// # The history it writes
//
//	send    process "producer-<N>" (".<gen>" appended once the client was
//	        recreated), partition, value; on OK the offset acknowledged,
//	        else offset -1 and err
//	poll    process "group-<g>/c<i>" (with group) or "reader-<i>";
//	        partition, offset, value
//	assign  partitions the consumer owns from now on (the groups use the
//	        eager range balancer, so this is the whole set); a reader's one
//	        assign lists every partition
//	revoke  partitions revoked, or lost (detail "lost")
//	commit  per partition: offset is the next offset to consume
//	read    one record of the final read-back
//	read-end  per partition: offset is the high watermark the read stopped at
//
// Time is when the outcome was known, so a poll of a value may come before
// its send in the history. Client errors that are not outcomes
// (fetch errors, failed commit requests' causes) are counted in Stats,
// never written to the history.
package workload
