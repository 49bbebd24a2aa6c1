// Command hoop is the hoop CLI: login, connect, exec, approvals and more.
package main

import (
	"os"

	"github.com/hoopgw/hoop/client/cli"
)

func main() { os.Exit(cli.Main()) }
