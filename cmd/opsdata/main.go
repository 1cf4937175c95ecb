// Command opsdata exports a cloud's operations data as labelled,
// anonymized, versioned Parquet datasets.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/urfave/cli/v2"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newApp().RunContext(ctx, os.Args); err != nil {
		code := 1
		var ee *exitError // nightly.go: commands with their own exit codes
		if errors.As(err, &ee) {
			code, err = ee.code, ee.err
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "opsdata: "+firstLine(err.Error()))
			if rest := restLines(err.Error()); rest != "" {
				fmt.Fprintln(os.Stderr, rest)
			}
		}
		stop()
		os.Exit(code)
	}
}

func newApp() *cli.App {
	return &cli.App{
		Name:    "opsdata",
		Usage:   "publish a cloud's operations data (metrics, logs, tickets) as labelled, anonymized Parquet datasets",
		Version: version,
		Flags:   []cli.Flag{memLimitFlag},
		Before: func(c *cli.Context) error {
			return setMemLimit(c.Float64(memLimitFlag.Name), memlimit.FromCgroup)
		},
		Commands: []*cli.Command{
			demoCommand(),
			exportCommand(),
			rawCommand(),
			commitCommand(),
			checkCommand(),
			inspectCommand(),
			lsCommand(),
			pullCommand(),
			templatesCommand(),
			nightlyCommand(),
			gcCommand(),
			scoreCommand(),
		},
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func restLines(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return ""
}
