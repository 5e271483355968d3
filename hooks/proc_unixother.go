//go:build unix && !linux

package hooks

// procTree finds nothing beyond the script's process group: this system has no /proc
// to find its descendants by their parent.
type procTree struct{}

func openTree(int) *procTree { return &procTree{} }

func (*procTree) stopDescendants() stopped { return stopped{} }

func (*procTree) close() {}

// stopped is the descendants stopDescendants stopped: none here.
type stopped struct{}

func (stopped) kill() {}
