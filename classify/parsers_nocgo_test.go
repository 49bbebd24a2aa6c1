//go:build !cgo

package classify_test

import "github.com/hoopgw/hoop/classify/wasm"

// fuzzParser is the parser FuzzClassify uses: without cgo, the WebAssembly one.
var fuzzParser = parser{"wasm", wasm.Parse}
