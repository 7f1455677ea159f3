// Command regionctl is the operator CLI of the region platform. Run
// `regionctl --help` for the commands and the exit statuses.
package main

import (
	"os"

	"github.com/regionplatform/region/regionctl"
)

func main() {
	os.Exit(regionctl.Main(os.Args[1:], os.Stdout, os.Stderr))
}
