package registry

import (
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
)

var specsV2 = specs.Versioned{SchemaVersion: 2}

func digestFrom(s string) digest.Digest { return digest.Digest(s) }
