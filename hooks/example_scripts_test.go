//go:build unix

package hooks_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/upkeep-go/upkeep/hooks"
)

// An operator drops scripts named PHASE_module.ext into a folder; at each phase the
// matching ones run in the module's folder, with the event in E_* variables.
func ExampleScripts() {
	root, err := os.MkdirTemp("", "hooks-example-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(root)
	scripts, module := filepath.Join(root, "scripts"), filepath.Join(root, "shop")
	_ = os.Mkdir(scripts, 0o755)
	_ = os.Mkdir(module, 0o755)

	// Set the environment in the configuration the new version brought.
	_ = os.WriteFile(filepath.Join(scripts, "POSTINSTALL_shop.sh"),
		[]byte(`echo "kind=Release" >> "${E_MODULE_PATH}app.conf"`+"\n"), 0o644)
	// A second script for the same phase runs after it.
	_ = os.WriteFile(filepath.Join(scripts, "postinstall-shop_10.sh"),
		[]byte(`echo "version=$E_TO_VERSION" >> app.conf`+"\n"), 0o644)
	// Editor backups are ignored.
	_ = os.WriteFile(filepath.Join(scripts, "POSTINSTALL_shop.sh~"), []byte("exit 1\n"), 0o644)

	s := &hooks.Scripts{Dir: scripts, Timeout: time.Minute}
	found, _ := s.Find(hooks.PostInstall, "shop")
	for _, p := range found {
		fmt.Println("found", filepath.Base(p))
	}
	ev := hooks.Event{Phase: hooks.PostInstall, Module: "shop", ModulePath: module, FromVersion: "1.4", ToVersion: "1.5"}
	if err := s.Run(context.Background(), ev); err != nil {
		fmt.Println(err)
	}
	conf, _ := os.ReadFile(filepath.Join(module, "app.conf"))
	fmt.Print(string(conf))
	// Output:
	// found POSTINSTALL_shop.sh
	// found postinstall-shop_10.sh
	// kind=Release
	// version=1.5
}
