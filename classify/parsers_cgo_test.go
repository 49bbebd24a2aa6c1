//go:build cgo

package classify_test

import (
	"github.com/hoopgw/hoop/classify"
	"github.com/hoopgw/hoop/classify/native"
)

func init() {
	parsers = append([]parser{{"native", native.Parse}}, parsers...)
}

// fuzzParser is the parser FuzzClassify uses: the gateway's.
var fuzzParser = parser{"native", native.Parse}

// gatewayNormalizer is the normalizer the gateway shares results by shape with.
var gatewayNormalizer classify.Normalizer = native.Normalize
