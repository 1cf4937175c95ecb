// Command benchtable turns `go test -bench` output into the Markdown table
// of BENCHMARKS.md, with the machine it ran on.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strings"
)

func main() {
	type row struct {
		pkg, name string
		metrics   []string
	}
	var rows []row
	pkg := ""
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "pkg: ") {
			pkg = strings.TrimPrefix(line, "pkg: github.com/opsdata/opsdata/")
			continue
		}
		if !strings.HasPrefix(line, "Benchmark") {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		name := strings.TrimSuffix(f[0], fmt.Sprintf("-%d", runtime.GOMAXPROCS(0)))
		var ms []string
		for i := 2; i+1 < len(f); i += 2 {
			ms = append(ms, f[i]+" "+f[i+1])
		}
		rows = append(rows, row{pkg, name, ms})
	}
	mem := "unknown"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(b), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
	}
	fmt.Printf("Machine: %d cores, %s memory, %s/%s, %s. Produced by `make bench`; numbers vary run to run by a few percent.\n\n",
		runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Println("| package | benchmark | results |")
	fmt.Println("|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s | %s |\n", r.pkg, r.name, strings.Join(r.metrics, ", "))
	}
}
