package main

import (
	"fmt"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/urfave/cli/v2"
)

// memLimitFlag sets the Go heap's soft limit from the container's, as
// Prometheus' --auto-gomemlimit does. A nightly job runs in a pod whose
// memory limit the kernel enforces, while the Go collector lets the heap
// grow to twice what is live before it collects: on the realistic day
// the peak is 2.5 times the live heap. With a soft limit below the
// container's, the collector works harder near it instead of the job
// being killed. 75 %, as the manifests in deploy/ set by hand: the TSDB's
// mapped chunk files count against the container's limit too.
var memLimitFlag = &cli.Float64Flag{
	Name:  "auto-gomemlimit-ratio",
	Value: 0.75,
	Usage: "set the Go runtime's soft memory limit (GOMEMLIMIT) to this share of the container's memory limit (cgroup), if it has one; 0 turns it off, and GOMEMLIMIT set in the environment wins",
}

// setMemLimit sets the soft memory limit to ratio of what provider
// reports. A machine without a limit (no cgroup limit, not Linux) keeps
// the runtime's default: the job runs as it would without the flag.
func setMemLimit(ratio float64, provider memlimit.Provider) error {
	if ratio < 0 || ratio > 1 {
		return fmt.Errorf("--%s %g: give a share of the container's limit between 0 (off) and 1", memLimitFlag.Name, ratio)
	}
	if ratio == 0 {
		return nil
	}
	_, _ = memlimit.Set(memlimit.WithRatio(ratio), memlimit.WithProvider(provider)) // no limit to follow: the default stays
	return nil
}
