package update

import (
	"fmt"
	"os"
)

// exchangeByRenames swaps a and b through a third name, a + ".xchg": a → a.xchg,
// b → a, a.xchg → b. At every point each tree exists under exactly one of the three
// names, so recovery can tell how far it went.
func (o *ops) exchangeByRenames(a, b string) error {
	tmp := a + ".xchg"
	if err := o.retry(a, func() error { return os.Rename(a, tmp) }); err != nil {
		return err
	}
	o.at("rename", a)
	if err := o.retry(b, func() error { return os.Rename(b, a) }); err != nil {
		if rerr := os.Rename(tmp, a); rerr != nil {
			return fmt.Errorf("%w (and putting %s back failed: %v)", err, a, rerr)
		}
		return err
	}
	o.at("rename", b)
	return o.retry(tmp, func() error { return os.Rename(tmp, b) })
}
