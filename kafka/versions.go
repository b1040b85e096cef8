package kafka

import (
	"context"

	"github.com/cairnlog/cairn/wire"
)

// api is one implemented API key: the versions advertised for it and its
// handler. Each handler lives in the file named after its key.
type api struct {
	versions wire.VersionRange
	serve    func(h *Handler, ctx context.Context, req *wire.Request) wire.Reply
}

// apis is the registry: API key to versions and handler. Versions() is built
// from it, so what is advertised is exactly what is served. A minimum is the
// oldest version whose shape the handler fills in correctly; a maximum is the
// newest whose new fields it honours (see each file's header).
var apis = map[int16]api{
	0:  {wire.VersionRange{Min: 3, Max: 9}, (*Handler).produce},
	1:  {wire.VersionRange{Min: 4, Max: 12}, (*Handler).fetch},
	2:  {wire.VersionRange{Min: 1, Max: 7}, (*Handler).listOffsets},
	3:  {wire.VersionRange{Min: 0, Max: 12}, (*Handler).metadata},
	8:  {wire.VersionRange{Min: 2, Max: 8}, (*Handler).offsetCommit},
	9:  {wire.VersionRange{Min: 1, Max: 8}, (*Handler).offsetFetch},
	10: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).findCoordinator},
	11: {wire.VersionRange{Min: 0, Max: 9}, (*Handler).joinGroup},
	12: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).heartbeat},
	13: {wire.VersionRange{Min: 0, Max: 5}, (*Handler).leaveGroup},
	14: {wire.VersionRange{Min: 0, Max: 5}, (*Handler).syncGroup},
	15: {wire.VersionRange{Min: 0, Max: 5}, (*Handler).describeGroups},
	16: {wire.VersionRange{Min: 0, Max: 5}, (*Handler).listGroups},
	19: {wire.VersionRange{Min: 0, Max: 7}, (*Handler).createTopics},
	20: {wire.VersionRange{Min: 0, Max: 6}, (*Handler).deleteTopics},
	22: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).initProducerID},
	23: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).offsetForLeaderEpoch},
	32: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).describeConfigs},
	33: {wire.VersionRange{Min: 0, Max: 2}, (*Handler).alterConfigs},
	35: {wire.VersionRange{Min: 0, Max: 4}, (*Handler).describeLogDirs},
	37: {wire.VersionRange{Min: 0, Max: 3}, (*Handler).createPartitions},
	42: {wire.VersionRange{Min: 0, Max: 2}, (*Handler).deleteGroups},
	44: {wire.VersionRange{Min: 0, Max: 1}, (*Handler).incrementalAlterConfigs},
	45: {wire.VersionRange{Min: 0, Max: 1}, (*Handler).alterPartitionAssignments},
	46: {wire.VersionRange{Min: 0, Max: 0}, (*Handler).listPartitionReassignments},
	47: {wire.VersionRange{Min: 0, Max: 0}, (*Handler).offsetDelete},
	60: {wire.VersionRange{Min: 0, Max: 1}, (*Handler).describeCluster},
	64: {wire.VersionRange{Min: 0, Max: 0}, (*Handler).unregisterBroker},
}

// Versions returns the implemented API keys and version ranges
// (wire.Handler). The map is a fresh copy.
func (h *Handler) Versions() map[int16]wire.VersionRange {
	m := make(map[int16]wire.VersionRange, len(apis))
	for k, a := range apis {
		m[k] = a.versions
	}
	return m
}
