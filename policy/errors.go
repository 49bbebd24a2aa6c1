package policy

import "github.com/hoopgw/hoop/internal/yamlfile"

// Error is one problem in a policy file: File is the name given to Load or Parse
// ("policy.yaml"), Line is 0 when the problem is about the whole file, and Field
// ("rules[0].allow[0]") is empty when the problem has no field. Its Error method returns
// "file:line: field: msg".
type Error = yamlfile.Error

// ErrorList is every problem found in a set of policy files, in file and line order. Its
// Error method prints one problem per line, and errors.As reaches each *Error.
type ErrorList = yamlfile.ErrorList
