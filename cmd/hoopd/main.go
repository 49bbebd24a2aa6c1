// Command hoopd is the hoop gateway.
package main

import (
	"os"

	"github.com/hoopgw/hoop/server"
)

func main() { os.Exit(server.Main()) }
