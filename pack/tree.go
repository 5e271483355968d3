package pack

import (
	"os"
	"slices"
	"strings"
)

// dirNode is a folder of an extraction: an entry, or a folder only implied by the
// entries below it.
type dirNode struct {
	parent int32  // index of the parent folder in the plan; -1 for the root
	name   string // last path segment
	path   string // path below the root, for errors
	f      *file  // the folder's entry; nil when implied (and for the root)
}

// linkNode is a link of an extraction, placed by its folder.
type linkNode struct {
	parent int32 // index of its folder in the plan
	name   string
	f      *file
}

// treePlan is where an extraction's folders and links go. dirs[0] is the root (the
// temporary folder) and dirs are in depth-first pre-order: each folder comes after its
// parent and before everything of its subtree. Links are sorted by folder, in the same
// order. Walking either in order (or dirs in reverse) with a [dirStack] opens each
// folder once, so the work is linear in the number of folders whatever their depth.
type treePlan struct {
	dirs  []dirNode
	links []linkNode
}

// planTree lays out the folders and links of files (which checkTree accepted).
func planTree(files []*file) *treePlan {
	type node struct {
		dirNode
		first, next, last int32 // children, as a linked list in insertion order
	}
	nodes := []node{{dirNode: dirNode{parent: -1}, first: -1, next: -1, last: -1}}
	index := make(map[nodeKey]int32)
	dir := func(parent int32, name, path string) int32 {
		if n, ok := index[nodeKey{parent, name}]; ok {
			return n
		}
		n := int32(len(nodes))
		nodes = append(nodes, node{dirNode: dirNode{parent: parent, name: name, path: path}, first: -1, next: -1, last: -1})
		index[nodeKey{parent, name}] = n
		if p := &nodes[parent]; p.first < 0 {
			p.first = n
		} else {
			nodes[p.last].next = n
		}
		nodes[parent].last = n
		return n
	}
	var links []linkNode
	for _, f := range files {
		parent, rest := int32(0), f.path
		for {
			seg, tail, more := strings.Cut(rest, "/")
			if more {
				parent, rest = dir(parent, seg, f.path[:len(f.path)-len(tail)-1]), tail
				continue
			}
			switch f.kind {
			case kindDir:
				nodes[dir(parent, seg, f.path)].f = f
			case kindLink:
				links = append(links, linkNode{parent: parent, name: seg, f: f})
			}
			break
		}
	}
	// Number the folders in pre-order.
	p := &treePlan{dirs: make([]dirNode, 0, len(nodes))}
	renum := make([]int32, len(nodes))
	stack := []int32{0}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		d := nodes[n].dirNode
		if d.parent >= 0 {
			d.parent = renum[d.parent]
		}
		renum[n] = int32(len(p.dirs))
		p.dirs = append(p.dirs, d)
		// Push children last first, so that they come out in insertion order.
		mark := len(stack)
		for c := nodes[n].first; c >= 0; c = nodes[c].next {
			stack = append(stack, c)
		}
		slices.Reverse(stack[mark:])
	}
	for i := range links {
		links[i].parent = renum[links[i].parent]
	}
	slices.SortStableFunc(links, func(a, b linkNode) int { return int(a.parent - b.parent) })
	p.links = links
	return p
}

// dirStack holds open handles on a chain of folders of a plan, from the root down.
// at moves it like a depth-first walk: popping the folders that are not ancestors of
// the one asked for, then opening the missing ones, each by its name in its parent.
type dirStack struct {
	dirs    []dirNode
	ids     []int32
	handles []*os.Root
	on      []bool // on[i]: dirs[i] is on the stack
	chain   []int32
}

// newDirStack returns a stack holding root, the handle on dirs[0] (not closed by it).
func newDirStack(root *os.Root, dirs []dirNode) *dirStack {
	s := &dirStack{dirs: dirs, ids: []int32{0}, handles: []*os.Root{root}, on: make([]bool, len(dirs))}
	s.on[0] = true
	return s
}

// at returns an open handle on the folder dirs[i].
func (s *dirStack) at(i int32) (*os.Root, error) {
	s.chain = s.chain[:0]
	j := i
	for !s.on[j] {
		s.chain = append(s.chain, j)
		j = s.dirs[j].parent
	}
	for s.ids[len(s.ids)-1] != j {
		s.pop()
	}
	for _, k := range slices.Backward(s.chain) {
		r, err := s.handles[len(s.handles)-1].OpenRoot(s.dirs[k].name)
		if err != nil {
			return nil, err
		}
		s.ids, s.handles, s.on[k] = append(s.ids, k), append(s.handles, r), true
	}
	return s.handles[len(s.handles)-1], nil
}

func (s *dirStack) pop() {
	n := len(s.ids) - 1
	s.handles[n].Close()
	s.on[s.ids[n]] = false
	s.ids, s.handles = s.ids[:n], s.handles[:n]
}

// close closes every handle it opened.
func (s *dirStack) close() {
	for len(s.ids) > 1 {
		s.pop()
	}
}
