//go:build !cgo

package classify_test

import (
	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/wasm"
)

// fuzzParser is the parser FuzzClassify uses: without cgo, the WebAssembly one.
var fuzzParser = parser{"wasm", wasm.Parse}

// gatewayNormalizer is unused without cgo: there is no native parser.
var gatewayNormalizer classify.Normalizer
