package signature_test

import (
	"bytes"
	_ "embed"
	"fmt"
	"log"

	"github.com/upkeep-go/upkeep/signature"
)

// The publisher's public keys, compiled into the program: a minisign .pub file, or
// several concatenated (here three keys).
//
//go:embed testdata/minisign/abc.pub
var publisherKeys []byte

//go:embed testdata/minisign/message.txt
var message []byte

//go:embed testdata/minisign/message.txt.minisig
var messageSig []byte

// A program that trusts keys built into it turns the embedded bytes into a keyring in
// one call; LoadKeyring does the same from key files named in a configuration.
func ExampleParseKeyring() {
	kr, err := signature.ParseKeyring(publisherKeys)
	if err != nil {
		log.Fatal(err)
	}
	v, err := kr.Verify("message.txt", messageSig, bytes.NewReader(message))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(kr.Keys()), "trusted keys; signed by", v.Signers[0].KeyID)

	// A file signed by a key that is not trusted is reported with the trusted keys.
	only, err := signature.ParseKeyring([]byte("RWRIS8V7v0x3ajUa5svgSz6kn/bTfyrV1OBTclp/sENIvwnXRp6ZuagX"))
	if err != nil {
		log.Fatal(err)
	}
	_, err = only.Verify("message.txt", messageSig, bytes.NewReader(message))
	fmt.Println(err)
	// Output:
	// 3 trusted keys; signed by 88A46A87607D8EB3
	// signature: message.txt: signed by key 88A46A87607D8EB3, which is not trusted (trusted: 6A774CBF7BC54B48)
}

// A server loads the key files its configuration names; a file signed by no trusted
// key is reported with each trusted key and the file it came from.
func ExampleLoadKeyring() {
	kr, err := signature.LoadKeyring([]string{"testdata/minisign/b.pub", "testdata/minisign/c.pub"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = kr.Verify("message.txt", messageSig, bytes.NewReader(message))
	fmt.Println(err)
	// Output:
	// signature: message.txt: signed by key 88A46A87607D8EB3, which is not trusted (trusted: 6A774CBF7BC54B48 from testdata/minisign/b.pub, D745A7710A135B41 from testdata/minisign/c.pub)
}
