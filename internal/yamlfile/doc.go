// Package yamlfile decodes YAML files with yaml.v3 nodes and reports every error with its
// file:line and field path, all at once instead of stopping at the first:
//
//	policy.yaml:19: rules[0].allow[0]: unknown class 'wirte' (did you mean write?)
//
// A Decoder walks the yaml.Node tree of one file: Fields, Items, Str and the other methods
// read a value and record an Error for what is wrong with it, so that the caller goes on
// reading the rest of the file. The policy files (package policy) and the gateway config
// (package server/config) are read this way.
package yamlfile
