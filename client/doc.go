// Package client is the CLI's side of hoop: it keeps a tunnel to the gateway open and
// serves a local port through it (Connect), and talks to the gateway's HTTP API.
//
// Login and token storage are in client/auth; the cobra commands are in client/cli.
package client
