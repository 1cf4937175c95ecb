package schemas

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// hfLicences maps lower-case SPDX ids to the licence ids the Hugging Face
// Hub accepts in a dataset card's `license:` field; others become "other"
// with license_name and license_link.
var hfLicences = map[string]string{
	"cdla-permissive-2.0": "cdla-permissive-2.0",
	"cdla-permissive-1.0": "cdla-permissive-1.0",
	"cdla-sharing-1.0":    "cdla-sharing-1.0",
	"cc-by-4.0":           "cc-by-4.0",
	"cc-by-sa-4.0":        "cc-by-sa-4.0",
	"cc0-1.0":             "cc0-1.0",
	"odbl-1.0":            "odbl",
	"odc-by-1.0":          "odc-by",
	"pddl-1.0":            "pddl",
	"apache-2.0":          "apache-2.0",
	"mit":                 "mit",
}

// sizeCategory is the Hub's size bucket for n examples.
func sizeCategory(n int64) string {
	bounds := []struct {
		max   int64
		label string
	}{{1e3, "n<1K"}, {1e4, "1K<n<10K"}, {1e5, "10K<n<100K"}, {1e6, "100K<n<1M"}, {1e7, "1M<n<10M"}, {1e8, "10M<n<100M"}, {1e9, "100M<n<1B"}, {1e10, "1B<n<10B"}}
	for _, b := range bounds {
		if n < b.max {
			return b.label
		}
	}
	return "n>1T"
}

// HFFrontMatter is the YAML header of README.md in the Hugging Face dataset
// card format: licence, pretty_name, task categories, size category and one
// config per table of m whose data_files glob its Parquet files of files (the ML-ready
// `windows` table is the default config). Strings are double-quoted
// (JSON-style escapes are valid YAML), so titles cannot break the YAML.
func HFFrontMatter(m *Manifest, files []File) string {
	var b strings.Builder
	b.WriteString("---\n")
	if id, ok := hfLicences[strings.ToLower(m.Licence)]; ok {
		fmt.Fprintf(&b, "license: %s\n", id)
	} else {
		fmt.Fprintf(&b, "license: other\nlicense_name: %s\nlicense_link: %s\n", strconv.Quote(strings.ToLower(m.Licence)), strconv.Quote(m.LicenceURL))
	}
	fmt.Fprintf(&b, "pretty_name: %s\n", strconv.Quote(m.DisplayTitle()))
	b.WriteString("language:\n- en\n")
	b.WriteString("task_categories:\n- time-series-forecasting\n- tabular-classification\n")
	b.WriteString("tags:\n- aiops\n- incident-prediction\n- anomaly-detection\n- observability\n- logs\n- metrics\n")
	n := m.Rows
	if t, ok := m.Tables["windows"]; ok {
		n = t.Rows
	}
	fmt.Fprintf(&b, "size_categories:\n- %s\n", sizeCategory(n))
	b.WriteString("configs:\n")
	for _, name := range sortedTableNames(m) {
		fmt.Fprintf(&b, "- config_name: %s\n", name)
		if name == TableWindows {
			b.WriteString("  default: true\n")
		}
		if name == TableWindows && m.Split != nil {
			b.WriteString(splitDataFiles(m.Split, files))
			continue
		}
		fmt.Fprintf(&b, "  data_files:\n  - split: train\n    path: %s\n", strconv.Quote(TableGlob(files, name)))
	}
	b.WriteString("---\n\n")
	return b.String()
}

// splitDataFiles lists the windows day files per split (boundaries are
// UTC midnights, so each day file lies in one split; its gap rows, split =
// "gap", are in the file of the split before the boundary).
func splitDataFiles(p *SplitPolicy, files []File) string {
	per := SplitFiles(p, files)
	var b strings.Builder
	b.WriteString("  data_files:\n")
	for _, split := range FileSplits {
		if len(per[split]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  - split: %s\n    path:\n", split)
		for _, path := range per[split] {
			fmt.Fprintf(&b, "    - %s\n", strconv.Quote(path))
		}
	}
	return b.String()
}

// SplitFull is the one file split of windows when entities are held out
// (SplitFiles); it is not a value of the split column.
const SplitFull = "full"

// FileSplits are the file splits SplitFiles can return, in card order.
var FileSplits = []string{SplitTrain, SplitValidation, SplitTest, SplitFull}

// SplitFiles groups the windows files of files (paths, in files' order) by
// the split of their day under p: train before the validation boundary,
// validation until the test boundary, test after; a file without a day
// partition is train. With p nil every file is train.
//
// With held-out entity groups a day file holds rows of several splits, so
// no file split is true: every file is in SplitFull and the rows' split
// column is the split.
func SplitFiles(p *SplitPolicy, files []File) map[string][]string {
	per := map[string][]string{}
	for _, f := range files {
		if f.Table != TableWindows {
			continue
		}
		if p != nil && p.EntityGroups != nil {
			per[SplitFull] = append(per[SplitFull], f.Path)
			continue
		}
		day, err := time.Parse("date=2006-01-02", f.Partition)
		split := SplitTrain
		switch {
		case err != nil || p == nil:
		case p.Test != nil && !day.Before(*p.Test):
			split = SplitTest
		case p.Validation != nil && !day.Before(*p.Validation):
			split = SplitValidation
		}
		per[split] = append(per[split], f.Path)
	}
	return per
}

// Subset is the part of a version a partial pull selected: the version's
// manifest with only the selected files, tables re-totalled from them and
// the time range clamped to [from, to) (zero = unbounded). Columns,
// citation and every other field are the version's.
func (m *Manifest) Subset(files []File, from, to time.Time) *Manifest {
	sub := *m
	sub.Files = files
	sub.Tables = map[string]TableTotals{}
	sub.Rows, sub.Bytes = 0, 0
	for _, f := range files {
		if f.Table == "" {
			continue
		}
		t, ok := sub.Tables[f.Table]
		if !ok {
			t.Columns = m.Tables[f.Table].Columns
		}
		var rows int64
		if f.Rows != nil {
			rows = *f.Rows
		}
		t.Files++
		t.Rows += rows
		t.Bytes += f.Bytes
		sub.Tables[f.Table] = t
		sub.Rows += rows
		sub.Bytes += f.Bytes
	}
	if !from.IsZero() && from.After(sub.From) {
		sub.From = from.UTC()
	}
	if !to.IsZero() && to.Before(sub.To) {
		sub.To = to.UTC()
	}
	return &sub
}

// RenderPartialCard is README.md of a partial pull (sub from Subset): the
// Hugging Face header lists only the pulled tables, so
// `datasets.load_dataset(dir)` loads what is there, and the text says what
// was left out. The version's own card is not in the directory: it
// describes files that are not.
func RenderPartialCard(sub *Manifest, full *Manifest) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	b.WriteString(HFFrontMatter(sub, sub.Files))
	p("# %s (partial pull)\n\n", sub.DisplayTitle())
	names := sortedTableNames(sub)
	p("This directory holds part of version `%s` of `%s`: %s of its %d tables, %s to %s (UTC, end exclusive). ",
		sub.Version, sub.Dataset, plural(len(names), "table"), len(full.Tables), sub.From.Format(time.RFC3339), sub.To.Format(time.RFC3339))
	p("`manifest.json` is the version's own (all files); `%s` lists every file of the version and `SHA256SUMS` what was pulled (`sha256sum -c SHA256SUMS` passes here). `opsdata pull` without `--tables`/`--from`/`--to` fetches the rest and the version's full card.\n\n", "SHA256SUMS.full")
	p("| table | files | rows | bytes |\n|---|---|---|---|\n")
	for _, n := range names {
		t := sub.Tables[n]
		p("| `%s` | %d | %d | %d |\n", n, t.Files, t.Rows, t.Bytes)
	}
	var left []string
	for _, n := range sortedTableNames(full) {
		if _, ok := sub.Tables[n]; !ok {
			left = append(left, "`"+n+"`")
		}
	}
	if len(left) > 0 {
		p("\nNot pulled: %s.\n", strings.Join(left, ", "))
	}
	p("\n## How to load\n\n```python\nimport datasets\nds = datasets.load_dataset(\".\")  # the %s config; one config per table above\n```\n\n", names[0])
	if _, ok := sub.Tables[TableWindows]; ok {
		p("```python\nimport pandas as pd\nwindows = pd.read_parquet(\"windows/\")\n```\n\n")
	}
	p("## Licence\n\n%s: %s. See `LICENSE`.\n", sub.Licence, sub.LicenceURL)
	p("\n## Citation\n\n```bibtex\n%s```\n", RenderBibTeX(full))
	return []byte(b.String())
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
