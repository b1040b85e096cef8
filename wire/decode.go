package wire

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// decodeFrame parses one frame (the bytes after the length prefix): the
// header, then the body with kmsg at the header's key and version.
//
// It returns errUnsupportedRequest for a key or version outside t (except
// ApiVersions), errTruncatedHeader or errMalformedRequest for bytes that do
// not parse; each of them closes the connection. An ApiVersions request at
// an unsupported version returns a nil body and no error: its body is not
// decoded (Kafka answers it with a v0 UNSUPPORTED_VERSION response).
//
// The body may alias frame. Work and allocation are bounded by len(frame)
// (see FuzzRequestFrame for the bound kmsg gives).
func decodeFrame(t *versionTable, frame []byte, prevClientID string) (Header, kmsg.Request, error) {
	key, version, err := peekKeyVersion(frame)
	if err != nil {
		return Header{}, nil, err
	}
	r, ok := t.lookup(key)
	if !ok {
		return Header{Key: key, Version: version}, nil, fmt.Errorf("%w: key %d", errUnsupportedRequest, key)
	}
	if key == apiVersionsKey && !r.Contains(version) {
		// The header version still follows the requested version (v3+
		// is flexible), as in Kafka.
		req := &kmsg.ApiVersionsRequest{Version: version}
		hdr, _, err := parseHeader(frame, requestHeaderVersion(req), prevClientID)
		return hdr, nil, err
	}
	if !r.Contains(version) {
		return Header{Key: key, Version: version}, nil, fmt.Errorf("%w: %s v%d, supported v%d-%d",
			errUnsupportedRequest, kmsg.NameForKey(key), version, r.Min, r.Max)
	}
	req := kmsg.RequestForKey(key)
	req.SetVersion(version)
	hdr, body, err := parseHeader(frame, requestHeaderVersion(req), prevClientID)
	if err != nil {
		return hdr, nil, err
	}
	if err := req.ReadFrom(body); err != nil {
		return hdr, nil, fmt.Errorf("%w: %s v%d: %v", errMalformedRequest, kmsg.NameForKey(key), version, err)
	}
	return hdr, req, nil
}
