package trust_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/upkeep-go/upkeep/manifest"
	"github.com/upkeep-go/upkeep/signature"
	"github.com/upkeep-go/upkeep/update/trust"
)

// A verifier accepts a manifest, then streams a pack it lists through a PackCheck.
// It fetches and stores everything itself: trust only decides.
func Example() {
	pub, sec, _ := signature.GenerateKey(rand.Reader)
	kr, _ := signature.NewKeyring([]signature.PublicKey{pub})
	keys := trust.Pinned(kr)
	now := time.Now()

	// The publisher's side: a pack, and a manifest listing it, both signed.
	packBytes := []byte("the pack's bytes")
	bind := signature.Binding{File: "web-1.0.0.zip", Module: "web", Version: "1.0.0", Platform: "linux/amd64"}
	comment, _ := bind.TrustedComment(now)
	packSig, _ := signature.Sign(sec, bytes.NewReader(packBytes), comment)
	sum := sha256.Sum256(packBytes)
	m := &manifest.Manifest{Schema: manifest.SchemaVersion, Product: "shop", Serial: 7, Expires: now.Add(24 * time.Hour),
		Releases: []manifest.Release{{Module: "web", Version: "1.0.0", Packs: []manifest.Pack{{
			Platform: "linux/amd64", File: bind.File, Size: int64(len(packBytes)), SHA256: hex.EncodeToString(sum[:])}}}}}
	data, _ := m.Marshal()
	sig, _ := signature.Sign(sec, bytes.NewReader(data), "file=manifest.json serial=7 product=shop")

	// The verifier's side: the state it kept (nothing yet), the bytes it fetched.
	var state trust.ManifestState
	got, state, err := trust.AcceptManifest(keys, state, "", now, data, sig)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("accepted", got.Product, "serial", state.Serial)

	p := got.Releases[0].Packs[0]
	c, _ := trust.NewPackCheck(keys, trust.Pack{Binding: bind, Size: p.Size, SHA256: p.SHA256}, packSig)
	c.Write(packBytes) // as the bytes arrive, beside the file they are written to
	acc, err := c.Accept()
	fmt.Println("pack", acc.Binding.File, acc.Size, "bytes:", err)

	// An older manifest afterwards is a replay.
	m.Serial = 6
	old, _ := m.Marshal()
	oldSig, _ := signature.Sign(sec, bytes.NewReader(old), "file=manifest.json serial=6 product=shop")
	_, _, err = trust.AcceptManifest(keys, state, "", now, old, oldSig)
	fmt.Println(errors.Is(err, trust.ErrReplay), err)
	// Output:
	// accepted shop serial 7
	// pack web-1.0.0.zip 16 bytes: <nil>
	// true manifest.json has serial 6, lower than serial 7 already accepted: refusing an older manifest
}
