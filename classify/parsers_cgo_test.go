//go:build cgo

package classify_test

import "github.com/hoopgw/hoop/classify/native"

func init() {
	parsers = append([]parser{{"native", native.Parse}}, parsers...)
}

// fuzzParser is the parser FuzzClassify uses: the gateway's.
var fuzzParser = parser{"native", native.Parse}
