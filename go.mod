module github.com/upkeep-go/upkeep

go 1.26.0

require (
	aead.dev/minisign v0.3.0
	github.com/hashicorp/go-version v1.9.0
	github.com/klauspost/compress v1.20.3
	github.com/stretchr/testify v1.12.1
	golang.org/x/sys v0.49.0
)

require (
	go.yaml.in/yaml/v3 v3.0.5 // indirect
	golang.org/x/crypto v0.13.0 // indirect
)
