package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cairnlog/cairn/faults/netns"
)

// corruption returns the nemesis's storage fault: kill a random node, damage
// one segment of one of its replicas of topic (flip a bit, or cut the tail
// of the file), and start it again. The damaged replica must notice, repair
// itself from its peers and never serve the bad bytes; the checker's
// read-back and replica comparison tell whether it did.
func corruption(c *netns.Cluster, topic string) netns.Corrupt {
	return func(ctx context.Context, rng *rand.Rand) (string, error) {
		nodes := c.Nodes()
		id := nodes[rng.IntN(len(nodes))]
		dirs, _ := filepath.Glob(filepath.Join(c.DataDir(id), topic+"-*"))
		if len(dirs) == 0 {
			return fmt.Sprintf("node %d holds no replica of %s", id, topic), nil
		}
		if err := c.Kill(id); err != nil {
			return "", err
		}
		dir := dirs[rng.IntN(len(dirs))]
		segs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
		slices.Sort(segs)
		detail, err := damage(segs, rng)
		if err != nil {
			return "", err
		}
		if err := c.Start(id); err != nil {
			return "", err
		}
		return fmt.Sprintf("node %d %s: %s", id, filepath.Base(dir), detail), nil
	}
}

// damage flips one bit, or cuts the tail, of a random non-empty segment.
func damage(segs []string, rng *rand.Rand) (string, error) {
	var sized []string
	for _, s := range segs {
		if fi, err := os.Stat(s); err == nil && fi.Size() > 0 {
			sized = append(sized, s)
		}
	}
	if len(sized) == 0 {
		return "no data to damage", nil
	}
	seg := sized[rng.IntN(len(sized))]
	kind := "sealed"
	if seg == segs[len(segs)-1] {
		kind = "active"
	}
	fi, err := os.Stat(seg)
	if err != nil {
		return "", err
	}
	name := strings.TrimSuffix(filepath.Base(seg), ".log")
	if rng.IntN(2) == 0 {
		at := rng.Int64N(fi.Size())
		f, err := os.OpenFile(seg, os.O_RDWR, 0)
		if err != nil {
			return "", err
		}
		defer f.Close()
		b := make([]byte, 1)
		if _, err := f.ReadAt(b, at); err != nil {
			return "", err
		}
		bit := byte(1) << rng.IntN(8)
		b[0] ^= bit
		if _, err := f.WriteAt(b, at); err != nil {
			return "", err
		}
		return fmt.Sprintf("bit flip in %s segment %s at byte %d of %d", kind, name, at, fi.Size()), f.Close()
	}
	cut := 1 + rng.Int64N(min(fi.Size(), 4096))
	if err := os.Truncate(seg, fi.Size()-cut); err != nil {
		return "", err
	}
	return fmt.Sprintf("cut %d bytes off the tail of %s segment %s (%d bytes)", cut, kind, name, fi.Size()), nil
}
