package wire

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ApiVersions: v0-4, answered by the Server itself.
//
//   - The advertised keys are exactly the Handler's Versions plus ApiVersions.
//   - A request at a version outside 0-4 is not decoded; it is answered with
//     a v0 body carrying UNSUPPORTED_VERSION and the full key list, so that
//     the client retries at the highest version we list (Kafka >= 2.4).
//   - v3+ requests must carry a client software name and version matching
//     [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])? or get INVALID_REQUEST.
//   - Responses always use response header v0 (no tagged fields), even when
//     the body is flexible, so that a client can parse the reply before it
//     knows our versions.
//
// Not implemented: v5 (KIP-1242 ClusterID/NodeID), SupportedFeatures and
// FinalizedFeatures (left empty, epoch -1).
const apiVersionsKey int16 = 18

var apiVersionsRange = VersionRange{Min: 0, Max: 4}

// versionTable maps API key to its implemented version range.
type versionTable struct {
	ranges []VersionRange // indexed by key
	ok     []bool         // whether the key is implemented
	keys   []kmsg.ApiVersionsResponseApiKey
}

// lookup returns the implemented range of key.
func (t *versionTable) lookup(key int16) (VersionRange, bool) {
	if key < 0 || int(key) >= len(t.ok) || !t.ok[key] {
		return VersionRange{}, false
	}
	return t.ranges[key], true
}

// newVersionTable validates the Handler's versions and adds ApiVersions.
func newVersionTable(impl map[int16]VersionRange) (*versionTable, error) {
	all := make(map[int16]VersionRange, len(impl)+1)
	for key, r := range impl {
		if key == apiVersionsKey {
			return nil, fmt.Errorf("wire: handler lists ApiVersions (key 18): the server implements it")
		}
		req := kmsg.RequestForKey(key)
		if req == nil {
			return nil, fmt.Errorf("wire: handler lists api key %d, unknown to kmsg", key)
		}
		if r.Min < 0 || r.Min > r.Max || r.Max > req.MaxVersion() {
			return nil, fmt.Errorf("wire: %s versions %d-%d: want 0 <= min <= max <= %d (kmsg)",
				kmsg.NameForKey(key), r.Min, r.Max, req.MaxVersion())
		}
		all[key] = r
	}
	all[apiVersionsKey] = apiVersionsRange

	t := &versionTable{}
	for key, r := range all {
		for int(key) >= len(t.ok) {
			t.ok = append(t.ok, false)
			t.ranges = append(t.ranges, VersionRange{})
		}
		t.ok[key], t.ranges[key] = true, r
		t.keys = append(t.keys, kmsg.ApiVersionsResponseApiKey{ApiKey: key, MinVersion: r.Min, MaxVersion: r.Max})
	}
	slices.SortFunc(t.keys, func(a, b kmsg.ApiVersionsResponseApiKey) int { return int(a.ApiKey) - int(b.ApiKey) })
	return t, nil
}

// apiVersionsResponse answers an ApiVersions request. req is nil when the
// request's version lies outside apiVersionsRange (its body is not decoded).
// The returned response shares t.keys, which nobody mutates.
func (t *versionTable) apiVersionsResponse(hdr Header, req *kmsg.ApiVersionsRequest) kmsg.Response {
	resp := kmsg.NewPtrApiVersionsResponse()
	if req == nil {
		resp.Version = 0
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		resp.ApiKeys = t.keys
		return resp
	}
	resp.Version = hdr.Version
	if hdr.Version >= 3 && (!validSoftwareID(req.ClientSoftwareName) || !validSoftwareID(req.ClientSoftwareVersion)) {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	resp.ApiKeys = t.keys
	return resp
}

// validSoftwareID reports whether s matches Kafka's pattern for client
// software names and versions: [a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?
func validSoftwareID(s string) bool {
	if s == "" {
		return false
	}
	alnum := func(c byte) bool {
		return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
	}
	if !alnum(s[0]) || !alnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !alnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}
