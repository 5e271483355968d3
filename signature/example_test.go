package signature_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/upkeep-go/upkeep/signature"
)

// A publisher signs a pack with a trusted comment that binds it; a server verifies the
// pack with its keyring and checks the binding against what the manifest promised.
func Example() {
	pub, priv, err := signature.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	pack := []byte("the bytes of app-1.2.0-linux-amd64.zip")
	bind := signature.Binding{File: "app-1.2.0-linux-amd64.zip", Module: "app", Version: "1.2.0", Platform: "linux/amd64"}
	tc, err := bind.TrustedComment(time.Unix(1700000000, 0))
	if err != nil {
		log.Fatal(err)
	}
	sig, err := signature.Sign(priv, bytes.NewReader(pack), tc)
	if err != nil {
		log.Fatal(err)
	}

	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	if err != nil {
		log.Fatal(err)
	}
	v, err := kr.Verify(bind.File, sig, bytes.NewReader(pack))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Signers[0].TrustedComment)
	fmt.Println(bind.Check(v) == nil)

	// The same valid signature presented for an older version is refused.
	old := bind
	old.Version = "1.1.0"
	err = old.Check(v)
	var be *signature.BindingError
	fmt.Println(errors.Is(err, signature.ErrBindingMismatch), errors.As(err, &be), be.Field, be.Want, be.Got)
	// Output:
	// timestamp:1700000000 file=app-1.2.0-linux-amd64.zip module=app version=1.2.0 platform=linux/amd64
	// true
	// true true version 1.1.0 1.2.0
}

// Two of three keys must sign: one stolen key cannot publish alone.
func ExampleWithThreshold() {
	var pubs []signature.PublicKey
	var privs []signature.PrivateKey
	for range 3 {
		pub, priv, err := signature.GenerateKey(nil)
		if err != nil {
			log.Fatal(err)
		}
		pubs, privs = append(pubs, pub), append(privs, priv)
	}
	kr, err := signature.NewKeyring(pubs, signature.WithThreshold(2))
	if err != nil {
		log.Fatal(err)
	}
	msg := []byte("manifest.json")

	sig, err := signature.Sign(privs[0], bytes.NewReader(msg), "first signer")
	if err != nil {
		log.Fatal(err)
	}
	_, err = kr.Verify("manifest.json", sig, bytes.NewReader(msg))
	fmt.Println("one key:", errors.Is(err, signature.ErrThreshold))

	// A co-signer appends a block to the same signature file.
	second, err := signature.Sign(privs[2], bytes.NewReader(msg), "second signer")
	if err != nil {
		log.Fatal(err)
	}
	sig, err = signature.AppendSignature("manifest.json.minisig", sig, second)
	if err != nil {
		log.Fatal(err)
	}
	v, err := kr.Verify("manifest.json", sig, bytes.NewReader(msg))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("two keys:", len(v.Signers), v.Signers[0].TrustedComment, "+", v.Signers[1].TrustedComment)
	// Output:
	// one key: true
	// two keys: 2 first signer + second signer
}

// A Verifier sits beside the file in an io.MultiWriter, so that a download is verified
// while it is written, without reading it again.
func ExampleKeyring_NewVerifier() {
	pub, priv, err := signature.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	body := strings.Repeat("pack bytes ", 100000)
	sig, err := signature.Sign(priv, strings.NewReader(body), "timestamp:0")
	if err != nil {
		log.Fatal(err)
	}
	kr, err := signature.NewKeyring([]signature.PublicKey{pub})
	if err != nil {
		log.Fatal(err)
	}

	v, err := kr.NewVerifier("pack.zip", sig) // a malformed signature file fails here
	if err != nil {
		log.Fatal(err)
	}
	var disk bytes.Buffer // the file being downloaded
	if _, err := io.Copy(io.MultiWriter(&disk, v), strings.NewReader(body)); err != nil {
		log.Fatal(err)
	}
	verified, err := v.Verify()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(disk.Len(), verified.Signers[0].KeyID == pub.ID())
	// Output:
	// 1100000 true
}

// Public keys may be concatenated .pub files or bare base64 lines, as `minisign -P`
// takes them.
func ExampleParsePublicKeys() {
	keys, err := signature.ParsePublicKeys([]byte(`untrusted comment: minisign public key 88A46A87607D8EB3
RWSzjn1gh2qkiL4uyu3RvJdBpiOuF55qtcVVKdOor9stgvILwum83t4T

RWRIS8V7v0x3ajUa5svgSz6kn/bTfyrV1OBTclp/sENIvwnXRp6ZuagX
`))
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range keys {
		fmt.Println(k.ID())
	}
	// Output:
	// 88A46A87607D8EB3
	// 6A774CBF7BC54B48
}

// Secret keys are written encrypted with a password, or unencrypted for automation, in
// minisign's format either way.
func ExampleMarshalPrivateKey() {
	_, priv, err := signature.GenerateKey(nil)
	if err != nil {
		log.Fatal(err)
	}
	text, err := signature.MarshalPrivateKey(priv, "") // as `minisign -G -W`
	if err != nil {
		log.Fatal(err)
	}
	again, err := signature.ParsePrivateKey(text, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(again.ID() == priv.ID(), again.Public() == priv.Public())
	// Output:
	// true true
}
