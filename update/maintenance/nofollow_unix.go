//go:build unix

package maintenance

import "syscall"

// oNoFollow makes an open fail on a link at the last element of the path.
const oNoFollow = syscall.O_NOFOLLOW
