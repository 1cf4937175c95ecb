// Package repo checks the shape of the repository itself: the layout is the
// data flow with no import cycles between top-level folders, and git holds
// source only. It runs in `make test` like every other test, so CI fails
// when either stops being true.
package repo

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/opsdata/opsdata"

// maxTrackedBytes is the largest file git may hold: data and build outputs
// beyond it belong in a cache or a release, not in the history.
const maxTrackedBytes = 5 << 20

type goPackage struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

// listPackages is `go list -json -deps` of patterns: every package of ours
// with its direct imports and all dependencies (tests excluded, as a build).
func listPackages(t *testing.T, patterns ...string) []goPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json=ImportPath,Imports,Deps"}, patterns...)...)
	cmd.Dir = root(t)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(&out)
	for dec.More() {
		var p goPackage
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", dir, err)
	}
	return dir
}

// top is the top-level folder of one of our packages ("" for others).
func top(importPath string) string {
	rest, ok := strings.CutPrefix(importPath, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

// TestLayout: no two top-level folders import each other; the pipeline
// (and the spec, schemas and internal helpers it builds on) never imports
// the labeler plugins or the datasets; the download client does not
// compile PromQL or the pipeline.
func TestLayout(t *testing.T) {
	pkgs := listPackages(t, "./...")
	edges := map[[2]string][]string{} // (from folder, to folder) → an example
	for _, p := range pkgs {
		from := top(p.ImportPath)
		for _, imp := range p.Imports {
			to := top(imp)
			if to == "" || to == from {
				continue
			}
			k := [2]string{from, to}
			if len(edges[k]) == 0 {
				edges[k] = []string{p.ImportPath + " → " + imp}
			}
		}
	}
	var cycles []string
	for k, ex := range edges {
		if back, ok := edges[[2]string{k[1], k[0]}]; ok && k[0] < k[1] {
			cycles = append(cycles, k[0]+" ↔ "+k[1]+": "+ex[0]+"; "+back[0])
		}
	}
	sort.Strings(cycles)
	for _, c := range cycles {
		t.Errorf("import cycle between top-level folders: %s", c)
	}
	// What each folder may import of ours, in flow order.
	allowed := map[string][]string{
		"schemas":   {},
		"internal":  {"schemas"},
		"spec":      {"internal"},
		"pipeline":  {"spec", "schemas", "internal"},
		"labelers":  {"pipeline", "spec", "schemas", "internal"},
		"datasets":  {"schemas", "internal"},
		"cmd":       {"labelers", "pipeline", "spec", "schemas", "internal", "datasets"},
		"tests":     {"cmd", "labelers", "pipeline", "spec", "schemas", "internal", "datasets"},
		"scripts":   {"cmd", "labelers", "pipeline", "spec", "schemas", "internal", "datasets"},
		"notebooks": {},
	}
	for _, p := range pkgs {
		from := top(p.ImportPath)
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level folder %q is not in the layout (add it to TestLayout with what it may import)", p.ImportPath, from)
			continue
		}
		for _, imp := range p.Imports {
			to := top(imp)
			if to == "" || to == from {
				continue
			}
			if !contains(ok, to) {
				t.Errorf("%s imports %s: %s/ may import only %v", p.ImportPath, imp, from, ok)
			}
		}
	}
	for _, p := range listPackages(t, "./datasets/pull") {
		if p.ImportPath != module+"/datasets/pull" {
			continue
		}
		for _, d := range p.Deps {
			if strings.Contains(d, "/promql") || strings.HasPrefix(d, module+"/pipeline") || strings.HasPrefix(d, module+"/spec") {
				t.Errorf("datasets/pull depends on %s: the download client needs only schemas and object storage", d)
			}
		}
	}
}

// TestTrackedFiles: git holds source. An executable binary (ELF, Mach-O,
// PE) or a file over 5 MB among the tracked files fails the build.
func TestTrackedFiles(t *testing.T) {
	dir := root(t)
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("git ls-files: %v (CI runs on a git checkout)", err)
		}
		t.Skipf("not a git checkout: %v", err)
	}
	files := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(files) < 50 {
		t.Fatalf("git ls-files listed %d files; expected the whole tree", len(files))
	}
	for _, f := range files {
		p := filepath.Join(dir, f)
		st, err := os.Lstat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue // deleted in the work tree, or a symlink
		}
		if st.Size() > maxTrackedBytes {
			t.Errorf("%s: %d bytes tracked by git (limit %d): keep data and build outputs out of the repository", f, st.Size(), maxTrackedBytes)
		}
		if kind := binaryKind(p); kind != "" {
			t.Errorf("%s: a tracked %s executable; build outputs belong in bin/ (ignored), not in git", f, kind)
		}
	}
}

// binaryKind names the executable format of the file at p, or "".
func binaryKind(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	if n, _ := f.Read(head); n < 4 {
		return ""
	}
	switch {
	case bytes.Equal(head, []byte{0x7f, 'E', 'L', 'F'}):
		return "ELF"
	case bytes.Equal(head, []byte{0xcf, 0xfa, 0xed, 0xfe}), bytes.Equal(head, []byte{0xce, 0xfa, 0xed, 0xfe}),
		bytes.Equal(head, []byte{0xca, 0xfe, 0xba, 0xbe}):
		return "Mach-O"
	case head[0] == 'M' && head[1] == 'Z':
		return "PE"
	}
	return ""
}

// TestBinaryKind: the detector recognises what it must refuse.
func TestBinaryKind(t *testing.T) {
	dir := t.TempDir()
	cases := map[string][]byte{
		"elf":    {0x7f, 'E', 'L', 'F', 2, 1, 1},
		"macho":  {0xcf, 0xfa, 0xed, 0xfe, 7},
		"pe":     []byte("MZ\x90\x00rest"),
		"source": []byte("package main\n"),
	}
	want := map[string]string{"elf": "ELF", "macho": "Mach-O", "pe": "PE", "source": ""}
	for name, b := range cases {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		if got := binaryKind(p); got != want[name] {
			t.Errorf("binaryKind(%s) = %q, want %q", name, got, want[name])
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
