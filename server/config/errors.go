package config

import "github.com/hoopgw/hoop/internal/yamlfile"

// Error is one problem in the gateway config: File is the name given to Load
// ("gateway.yaml"), Line is 0 when the problem is about the whole file, and Field
// ("connections[0].port") is empty when the problem has no field. Its Error method returns
// "file:line: field: msg".
type Error = yamlfile.Error

// ErrorList is every problem found in a config file, in line order. Its Error method
// prints one problem per line, and errors.As reaches each *Error.
type ErrorList = yamlfile.ErrorList
