package consumer

import "errors"

// Errors the Coordinator returns (or wraps). Each stands for one Kafka error
// code; package kafka translates them at the protocol boundary.
var (
	// ErrNotCoordinator: the Coordinator is closed (this broker no longer
	// coordinates groups). NOT_COORDINATOR.
	ErrNotCoordinator = errors.New("consumer: not the coordinator")
	// ErrUnknownMemberID: no such member in the group (never joined,
	// expired, left, or the group has members and the request names none).
	// UNKNOWN_MEMBER_ID.
	ErrUnknownMemberID = errors.New("consumer: unknown member id")
	// ErrIllegalGeneration: the request's generation is not the group's.
	// ILLEGAL_GENERATION.
	ErrIllegalGeneration = errors.New("consumer: illegal generation")
	// ErrRebalanceInProgress: the group is rebalancing; rejoin.
	// REBALANCE_IN_PROGRESS.
	ErrRebalanceInProgress = errors.New("consumer: rebalance in progress")
	// ErrFencedInstanceID: a static member's instance id is now held by
	// another member id. FENCED_INSTANCE_ID.
	ErrFencedInstanceID = errors.New("consumer: fenced instance id")
	// ErrMemberIDRequired: the first JoinGroup (v4+) of a dynamic member
	// gets its member id with this error and must join again with it.
	// MEMBER_ID_REQUIRED.
	ErrMemberIDRequired = errors.New("consumer: member id required")
	// ErrInvalidSessionTimeout: outside [MinSessionTimeout,
	// MaxSessionTimeout]. INVALID_SESSION_TIMEOUT.
	ErrInvalidSessionTimeout = errors.New("consumer: invalid session timeout")
	// ErrInconsistentProtocol: no protocol type or protocols, a protocol
	// type other than the group's, no protocol in common with the group,
	// or a SyncGroup naming another protocol. INCONSISTENT_GROUP_PROTOCOL.
	ErrInconsistentProtocol = errors.New("consumer: inconsistent group protocol")
	// ErrGroupMaxSize: the group has Config.MaxGroupSize members.
	// GROUP_MAX_SIZE_REACHED.
	ErrGroupMaxSize = errors.New("consumer: group max size reached")
	// ErrNonEmptyGroup: the group has members (DeleteGroups,
	// OffsetDelete of a group that is not a consumer group). NON_EMPTY_GROUP.
	ErrNonEmptyGroup = errors.New("consumer: group is not empty")
	// ErrGroupNotFound: no members and no committed offsets.
	// GROUP_ID_NOT_FOUND.
	ErrGroupNotFound = errors.New("consumer: group not found")
	// ErrSubscribedToTopic: OffsetDelete of a topic the group's members
	// subscribe to. GROUP_SUBSCRIBED_TO_TOPIC.
	ErrSubscribedToTopic = errors.New("consumer: group subscribed to topic")
	// ErrMetadataTooLarge: a committed offset's metadata is longer than
	// Config.MaxMetadataBytes. OFFSET_METADATA_TOO_LARGE.
	ErrMetadataTooLarge = errors.New("consumer: offset metadata too large")
)
