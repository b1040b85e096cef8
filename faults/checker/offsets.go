package checker

// offsetTable maps a partition's offsets to op indexes. Offsets are dense from
// 0 in a healthy run, so they index a slice; an offset far past the slice's
// end (a corrupt or absurd offset) goes to a map instead, so that one bad
// record cannot make the table allocate in proportion to its offset.
type offsetTable struct {
	dense  []int32 // op index + 1; 0 means none
	sparse map[int64]int32
}

// denseSlack is how far past the end of the dense slice an offset may lie
// and still grow it.
const denseSlack = 1 << 16

// get returns the op index stored for offset, or -1.
func (t *offsetTable) get(offset int64) int32 {
	if offset >= 0 && offset < int64(len(t.dense)) && t.dense[offset] != 0 {
		return t.dense[offset] - 1
	}
	// An offset stored in sparse before dense grew past it is still there.
	if i, ok := t.sparse[offset]; ok {
		return i
	}
	return -1
}

// set stores op index i for offset.
func (t *offsetTable) set(offset int64, i int32) {
	switch {
	case offset >= 0 && offset < int64(len(t.dense)):
		t.dense[offset] = i + 1
	case offset >= 0 && offset < 2*int64(len(t.dense))+denseSlack:
		t.dense = append(t.dense, make([]int32, offset+1-int64(len(t.dense)))...)
		t.dense[offset] = i + 1
	default:
		if t.sparse == nil {
			t.sparse = map[int64]int32{}
		}
		t.sparse[offset] = i
	}
}
