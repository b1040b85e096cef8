package replication

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// Files and directories of a group, under GroupConfig.Dir.
const (
	walDirName  = "wal"     // raft-wal segments and wal-meta.db (StoreWAL)
	boltName    = "raft.db" // raft-boltdb log and stable store (StoreBolt)
	snapDirName = "snapshots"
)

// stores are the persistent pieces of one group. This is the seam behind which
// a shared multi-group WAL can later replace one WAL per group (DESIGN.md).
type stores struct {
	logs   raft.LogStore
	stable raft.StableStore
	snaps  raft.SnapshotStore
	closer io.Closer // closes logs and stable
}

func openStores(cfg GroupConfig, logger hclog.Logger) (*stores, error) {
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create group dir: %w", err)
	}
	s := &stores{}
	switch cfg.Store {
	case StoreWAL:
		dir := filepath.Join(cfg.Dir, walDirName)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create wal dir: %w", err)
		}
		w, err := wal.Open(dir,
			wal.WithSegmentSize(cfg.WALSegmentBytes),
			wal.WithLogger(logger.Named("wal")))
		if err != nil {
			return nil, fmt.Errorf("open wal %s: %w", dir, err)
		}
		s.logs, s.stable, s.closer = w, w, w
	case StoreBolt:
		path := filepath.Join(cfg.Dir, boltName)
		b, err := raftboltdb.New(raftboltdb.Options{
			Path: path,
			// Fail rather than hang when another process holds the file.
			BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true},
		})
		if err != nil {
			return nil, fmt.Errorf("open bolt store %s: %w", path, err)
		}
		s.logs, s.stable, s.closer = b, b, b
	default:
		return nil, fmt.Errorf("unknown store %v", cfg.Store)
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, logger.Named("snapshot"))
	if err != nil {
		_ = s.closer.Close()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	s.snaps = snaps
	return s, nil
}

func (s *stores) Close() error {
	err := s.closer.Close()
	if errors.Is(err, wal.ErrClosed) {
		err = nil
	}
	return err
}
