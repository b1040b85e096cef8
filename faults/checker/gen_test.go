package checker

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/cairnlog/cairn/faults/history"
)

// generated is a clean history made by simulating a correct cluster, with
// what the checker should count in it.
type generated struct {
	hist
	ok, fail, unknown           int
	unknownWritten, unknownLost int
	resent, rebalances          int
}

// generate simulates about n sends to three partitions by three producers,
// a consumer group of two members rebalancing now and then, and an assign()
// reader, then the final read-back. Sends may fail, end unknown (written or
// not) or be retried with the same value.
func generate(seed uint64, n int) *generated {
	const parts = 3
	rng := rand.New(rand.NewPCG(seed, seed))
	g := &generated{}
	logs := make([][]string, parts) // the simulated partitions
	members := []string{"g/c1", "g/c2"}
	owner := make([]int, parts) // member owning each partition
	pos := make([]int64, parts) // owner's next offset
	committed := make([]int64, parts)
	for p := range owner {
		owner[p] = p % len(members)
	}
	assignAll := func() {
		for m, name := range members {
			var mine []int32
			for p := range parts {
				if owner[p] == m {
					mine = append(mine, int32(p))
					pos[p] = committed[p]
				}
			}
			g.assign(name, "g", mine...)
		}
	}
	assignAll()
	g.assign("reader", "", 0, 1, 2)
	readerPos := make([]int64, parts)
	produce := func(i int) {
		p := int32(rng.IntN(parts))
		proc := fmt.Sprintf("p%d", rng.IntN(3))
		v := fmt.Sprintf("v%d", i)
		write := func() int64 {
			logs[p] = append(logs[p], v)
			return int64(len(logs[p]) - 1)
		}
		switch x := rng.IntN(100); {
		case x < 88:
			g.send(proc, p, write(), v, history.OK)
			g.ok++
		case x < 92:
			write()
			g.send(proc, p, 0, v, history.Unknown)
			g.unknown++
			g.unknownWritten++
		case x < 95:
			g.send(proc, p, 0, v, history.Unknown)
			g.unknown++
			g.unknownLost++
		case x < 97:
			g.send(proc, p, 0, v, history.Fail)
			g.fail++
		default: // unknown and not written, then retried
			g.send(proc, p, 0, v, history.Unknown)
			g.send(proc, p, write(), v, history.OK)
			g.unknown++
			g.ok++
			g.resent++
		}
	}
	for i := range n {
		produce(i)
		// Consume a few records.
		for range rng.IntN(3) {
			p := rng.IntN(parts)
			if pos[p] < int64(len(logs[p])) {
				g.poll(members[owner[p]], int32(p), pos[p], logs[p][pos[p]])
				pos[p]++
			}
			if readerPos[p] < int64(len(logs[p])) {
				g.poll("reader", int32(p), readerPos[p], logs[p][readerPos[p]])
				readerPos[p]++
			}
		}
		switch x := rng.IntN(100); {
		case x < 10:
			p := rng.IntN(parts)
			out := []history.Outcome{history.OK, history.OK, history.Fail, history.Unknown}[rng.IntN(4)]
			g.commit(members[owner[p]], "g", int32(p), pos[p], out)
			if out == history.OK {
				committed[p] = pos[p]
			}
		case x < 12: // an eager rebalance: commit, revoke all, assign anew
			g.rebalances++
			for m, name := range members {
				var mine []int32
				for p := range parts {
					if owner[p] == m {
						mine = append(mine, int32(p))
						g.commit(name, "g", int32(p), pos[p], history.OK)
						committed[p] = pos[p]
					}
				}
				g.revoke(name, "g", mine...)
			}
			for p := range owner {
				owner[p] = rng.IntN(len(members))
			}
			assignAll()
		}
	}
	for p := range parts {
		g.final(int32(p), slices.Clone(logs[p])...)
	}
	return g
}
