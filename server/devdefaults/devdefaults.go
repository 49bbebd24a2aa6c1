// Package devdefaults holds the gateway and policy files that `hoopd --dev` writes into
// its data dir when it is started without --config.
package devdefaults

import _ "embed"

// Gateway is the default gateway.yaml of hoopd --dev.
//
//go:embed gateway.yaml
var Gateway []byte

// Policy is the default policy.yaml of hoopd --dev.
//
//go:embed policy.yaml
var Policy []byte
