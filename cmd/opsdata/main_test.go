package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/schemas"
)

// `opsdata help CMD` works for every command.
func TestHelpCommand(t *testing.T) {
	for _, cmd := range newApp().Commands {
		var out bytes.Buffer
		app := newApp()
		app.Writer = &out
		if err := app.RunContext(context.Background(), []string{"opsdata", "help", cmd.Name}); err != nil {
			t.Errorf("opsdata help %s: %v", cmd.Name, err)
		}
		if !strings.Contains(out.String(), "opsdata "+cmd.Name) {
			t.Errorf("opsdata help %s printed %q", cmd.Name, out.String())
		}
	}
}

// The report says what happened in words that read, and prints the same
// bytes for the same result whatever the map order or the duration.
func TestPrintReportDeterministic(t *testing.T) {
	rows := map[string]int64{"windows": 3, "logs": 9, "incidents": 1, "metrics": 5}
	problems := map[string]schemas.InputProblems{"log:b": {Count: 2}, "log:a": {Count: 1}, "tickets:t": {Count: 4}, "log:c": {Count: 3}}
	quiet := slog.New(slog.DiscardHandler)
	var first string
	for i := range 20 {
		var out bytes.Buffer
		printReport(&out, quiet, false, "d", "v1", "file://out", time.Now().Add(-time.Duration(i)*time.Second), rows, problems)
		if i == 0 {
			first = out.String()
		} else if out.String() != first {
			t.Fatalf("run %d printed\n%s\nrun 0 printed\n%s", i, out.String(), first)
		}
	}
	if !strings.HasPrefix(first, "published d/v1 to file://out\n") || strings.Index(first, "log:a") > strings.Index(first, "log:b") {
		t.Errorf("report:\n%s", first)
	}
	var out bytes.Buffer
	printReport(&out, quiet, true, "d", "v1", "file://out", time.Now(), nil, nil)
	if got, want := out.String(), "d/v1 at file://out is already published with identical content: nothing to do\n"; got != want {
		t.Errorf("re-run report %q, want %q", got, want)
	}
}
