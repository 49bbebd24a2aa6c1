package classify_test

import (
	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/wasm"
)

// parser is one of the parsers every corpus runs against.
type parser struct {
	name  string
	parse classify.Parser
}

// parsers holds the WebAssembly parser, and the cgo one when cgo is on (parsers_cgo_test.go).
var parsers = []parser{{"wasm", wasm.Parse}}
