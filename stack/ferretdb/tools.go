//go:build tools

// Package ferretdb pins the FerretDB version the local stack runs.
//
// `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds a binary that panics at
// start: FerretDB embeds build/version/version.txt, which its module zip does not carry.
// stack/install.sh therefore vendors this module's dependencies, writes that one file into the
// vendored copy, and builds github.com/FerretDB/FerretDB/cmd/ferretdb with -mod=vendor.
package ferretdb

import _ "github.com/FerretDB/FerretDB/cmd/ferretdb"
