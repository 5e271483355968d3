package signature_test

import (
	"bytes"
	"fmt"
	"log"
	"time"

	"github.com/upkeep-go/upkeep/signature"
)

// A publisher rotates its signing key: keys.json version 2 lists the new key and no
// longer the old one, and is signed by the root key that agents pin. An agent that
// accepted version 1 verifies version 2 with its pinned root, records the old key as
// revoked, and trusts only the new key from then on.
func ExampleVerifyKeySet() {
	seed := func(b byte) *bytes.Reader { return bytes.NewReader(bytes.Repeat([]byte{b}, 32)) }
	rootPub, rootSec, _ := signature.GenerateKey(seed(1))
	oldPub, _, _ := signature.GenerateKey(seed(2))
	newPub, _, _ := signature.GenerateKey(seed(3))

	v1 := &signature.KeySet{Version: 1, Roots: []signature.PublicKey{rootPub}, RootThreshold: 1,
		Keys: []signature.ValidKey{{Key: oldPub}}}
	v2 := &signature.KeySet{Version: 2, Roots: []signature.PublicKey{rootPub}, RootThreshold: 1,
		Keys: []signature.ValidKey{{Key: newPub}}}
	data, err := v2.Marshal()
	if err != nil {
		log.Fatal(err)
	}
	sig, err := signature.Sign(rootSec, bytes.NewReader(data), v2.TrustedComment(time.Unix(1700000000, 0)))
	if err != nil {
		log.Fatal(err)
	}

	pinned, _ := signature.NewKeyring([]signature.PublicKey{rootPub})
	ks, err := signature.VerifyKeySet(data, sig, pinned)
	if err != nil {
		log.Fatal(err)
	}
	revoked := ks.RevokedSince(v1)
	signing, err := ks.Signing(time.Now(), revoked)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("version", ks.Version, "revokes", revoked, "trusts", signing.Keys()[0].ID())
	// Output:
	// version 2 revokes [1410562C09E41AC1] trusts 8969BF69E2CEE8B6
}
