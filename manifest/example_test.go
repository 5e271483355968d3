package manifest_test

import (
	"errors"
	"fmt"

	"github.com/upkeep-go/upkeep/manifest"
)

const exampleManifest = `{
  "schema": 1,
  "product": "shop",
  "serial": 12,
  "expires": "2027-06-01T00:00:00Z",
  "releases": [
    {"module": "ecommerce", "version": "5.1.0",
     "packs": [{"platform": "linux/amd64", "file": "ecommerce-5.1.0.zip", "size": 1024,
                "sha256": "6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b"}]},
    {"module": "ecommerce", "version": "6.0.0", "min_version": "5.1.0",
     "packs": [{"platform": "linux/amd64", "file": "ecommerce-6.0.0.zip", "size": 2048,
                "sha256": "d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35"}]}
  ]
}`

func ExampleParse() {
	m, err := manifest.Parse([]byte(exampleManifest))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range m.Releases {
		fmt.Println(r.Module, r.Version, r.Channel, r.Packs[0].File, r.Packs[0].SignatureFile())
	}

	// Errors name the JSON path at fault.
	_, err = manifest.Parse([]byte(`{"schema": 1, "product": "shop", "serial": 1,
		"expires": "2027-06-01T00:00:00Z", "releases": [{"module": "ecommerce",
		"version": "1.0", "packs": [{"platform": "linux/amd64", "file": "e.zip", "size": 1}]}]}`))
	fmt.Println(err)
	fmt.Println(errors.Is(err, manifest.ErrMissing))
	// Output:
	// ecommerce 5.1.0 stable ecommerce-5.1.0.zip ecommerce-5.1.0.zip.minisig
	// ecommerce 6.0.0 stable ecommerce-6.0.0.zip ecommerce-6.0.0.zip.minisig
	// releases[0].packs[0].sha256: missing
	// true
}

func ExampleManifest_Select() {
	m, err := manifest.Parse([]byte(exampleManifest))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, installed := range []string{"5.0.0", "5.1.0", "6.0.0"} {
		s := m.Select(manifest.Target{Module: "ecommerce", Installed: installed, Platform: "linux-x86_64"})
		fmt.Printf("%s: %s", installed, s.Status)
		for _, step := range s.Path {
			fmt.Printf(" %s", step.Release.Version)
		}
		fmt.Println()
	}
	s := m.Select(manifest.Target{Module: "ecommerce", Installed: "5.1.0", Platform: "win64"})
	fmt.Println(s.Status, s.Code)
	fmt.Println(s.Reason)
	// Output:
	// 5.0.0: update 5.1.0 6.0.0
	// 5.1.0: update 6.0.0
	// 6.0.0: up-to-date
	// ineligible no_pack_for_platform
	// release 6.0.0 of module "ecommerce" has no pack for windows/amd64 (only for linux/amd64)
}

func ExamplePlatform() {
	for _, name := range []string{"linux64", "win32", "windows_x64", "linux-aarch64", "amd64"} {
		p, err := manifest.Platform(name)
		fmt.Println(p, err)
	}
	// Output:
	// linux/amd64 <nil>
	// windows/386 <nil>
	// windows/amd64 <nil>
	// linux/arm64 <nil>
	//  manifest: unknown platform "amd64": give both system and architecture, such as linux/amd64
}

func ExampleParseAny() {
	hfsql := []byte(`{"pack": [{"major_version": 22, "language": "F", "version": "220099",
		"min_version": "220036", "pack": [{"plateform": "linux64", "data": "srv_hfsql_linux64_90F220099z"}]}]}`)
	m, format, err := manifest.ParseAny(hfsql)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := m.Select(manifest.Target{Module: "hfsql", Installed: "220036", Platform: "linux/amd64", Language: "F", Major: 22})
	fmt.Println(format, s.Status, s.Release.Version, s.Pack.File, s.Pack.SignatureFile())
	// Output:
	// hfsql update 220099 srv_hfsql_linux64_90F220099z.zip srv_hfsql_linux64_90F220099z.sign
}
