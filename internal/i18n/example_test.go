package i18n_test

import (
	"fmt"

	"github.com/upkeep-go/upkeep/internal/i18n"
)

func Example() {
	msgs := i18n.Catalog{"Install {0}": "Installer {0}"}
	l := i18n.Negotiate("fr-FR,fr;q=0.9,en;q=0.8", "" /* no switch */, "" /* no lang in the configuration */)
	fmt.Println(l, msgs.T(l, "Install {0}", "5.2.0"), i18n.FormatSize(l, 3<<19))
	// Output: fr Installer 5.2.0 1,5 Mio
}
