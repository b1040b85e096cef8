package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The data directory names its broker in meta.properties, as Kafka's does:
//
//	# cairn broker identity; do not edit
//	version=1
//	node.id=3
//
// It is written on first start. A broker started on a directory that names
// another id refuses to start: the replicas in it belong to that broker.
const metaPropertiesFile = "meta.properties"

// ErrNodeIDMismatch: the data directory belongs to another broker id.
var ErrNodeIDMismatch = errors.New("cluster: data directory belongs to another node id")

// StoredNodeID returns the node id recorded in dataDir, and false when there
// is none yet.
func StoredNodeID(dataDir string) (int32, bool, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, metaPropertiesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	id, err := parseMetaProperties(b)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", filepath.Join(dataDir, metaPropertiesFile), err)
	}
	return id, true, nil
}

func parseMetaProperties(b []byte) (int32, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	id := int64(-1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return 0, fmt.Errorf("line %q is not key=value", line)
		}
		switch strings.TrimSpace(k) {
		case "version":
			if strings.TrimSpace(v) != "1" {
				return 0, fmt.Errorf("version %q unknown", v)
			}
		case "node.id":
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
			if err != nil || n < 0 {
				return 0, fmt.Errorf("node.id %q: want an integer >= 0", v)
			}
			id = n
		}
	}
	if id < 0 {
		return 0, errors.New("no node.id")
	}
	return int32(id), nil
}

// claimDataDir creates dataDir if needed, checks it is writable and records
// id in it, or checks the id it records.
func claimDataDir(dataDir string, id int32) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	stored, ok, err := StoredNodeID(dataDir)
	if err != nil {
		return err
	}
	if ok {
		if stored != id {
			return fmt.Errorf("%w: %s is node %d's, this is node %d", ErrNodeIDMismatch, dataDir, stored, id)
		}
		return nil
	}
	path := filepath.Join(dataDir, metaPropertiesFile)
	tmp := path + ".tmp"
	body := fmt.Sprintf("# cairn broker identity; do not edit\nversion=1\nnode.id=%d\n", id)
	if err := os.WriteFile(tmp, []byte(body), 0o644); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	f, err := os.Open(tmp)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}
