// Command regionctl is the operator CLI of the region platform. Run
// `regionctl --help` for the commands.
package main

import (
	"fmt"
	"os"

	"github.com/regionplatform/region/regionctl"
)

func main() {
	if err := regionctl.New(os.Stdout, os.Stderr).Execute(); err != nil {
		if !regionctl.Silent(err) {
			fmt.Fprintln(os.Stderr, "regionctl:", err)
		}
		os.Exit(regionctl.ExitStatus(err))
	}
}
