package publish

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/opsdata/opsdata/schemas"
)

// knownLicences maps lower-cased SPDX ids of common data licences to their
// canonical id and full name.
var knownLicences = map[string][2]string{
	"cdla-permissive-2.0": {"CDLA-Permissive-2.0", "Community Data License Agreement – Permissive – Version 2.0"},
	"cdla-permissive-1.0": {"CDLA-Permissive-1.0", "Community Data License Agreement – Permissive – Version 1.0"},
	"cdla-sharing-1.0":    {"CDLA-Sharing-1.0", "Community Data License Agreement – Sharing – Version 1.0"},
	"cc-by-4.0":           {"CC-BY-4.0", "Creative Commons Attribution 4.0 International"},
	"cc-by-sa-4.0":        {"CC-BY-SA-4.0", "Creative Commons Attribution Share Alike 4.0 International"},
	"cc0-1.0":             {"CC0-1.0", "Creative Commons Zero v1.0 Universal"},
	"odbl-1.0":            {"ODbL-1.0", "Open Data Commons Open Database License v1.0"},
	"odc-by-1.0":          {"ODC-By-1.0", "Open Data Commons Attribution License v1.0"},
	"pddl-1.0":            {"PDDL-1.0", "Open Data Commons Public Domain Dedication & License 1.0"},
}

// licenceInfo returns the canonical id, full name ("" if unknown) and the
// SPDX URL of a licence id. SPDX ids match case-insensitively.
func licenceInfo(id string) (canonical, name, url string) {
	canonical = id
	if strings.ContainsAny(id, " ()") { // an expression: its licences are on the SPDX list
		return canonical, "", "https://spdx.org/licenses/"
	}
	if k, ok := knownLicences[strings.ToLower(id)]; ok {
		canonical, name = k[0], k[1]
	}
	return canonical, name, "https://spdx.org/licenses/" + canonical + ".html"
}

// licenceText is the LICENSE file: a notice naming the licence, not its
// full text (which lives at the SPDX URL).
func licenceText(m *schemas.Manifest) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", titleOf(m))
	if m.LicenceName != "" {
		fmt.Fprintf(&b, "This dataset is made available under the %s\n(SPDX-License-Identifier: %s).\n\n", m.LicenceName, m.Licence)
	} else {
		fmt.Fprintf(&b, "This dataset is made available under the licence with the SPDX identifier\n%s.\n\n", m.Licence)
	}
	fmt.Fprintf(&b, "The full text of the licence is at:\n%s\n", m.LicenceURL)
	if m.Citation != "" {
		fmt.Fprintf(&b, "\nWhen you use this dataset, please cite:\n%s\n", strings.TrimSpace(m.Citation))
	}
	fmt.Fprintf(&b, "\nSPDX-License-Identifier: %s\n", m.Licence)
	return []byte(b.String())
}

func titleOf(m *schemas.Manifest) string {
	if m.Title != "" {
		return m.Title
	}
	return m.Dataset
}

// renderCard writes README.md, the dataset card. It reads only m and the
// tables, so it is as deterministic as they are.
func renderCard(m *schemas.Manifest, tables []*tableInfo, files []schemas.File) []byte {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	b.WriteString(schemas.HFFrontMatter(m, files))
	p("# %s\n\n", titleOf(m))
	if d := strings.TrimSpace(m.Description); d != "" {
		p("%s\n\n", d)
	}
	p("Operations data (metrics, logs, tickets) cut into fixed time windows per entity and labelled with incidents, for AIOps research (incident prediction, anomaly detection, root-cause analysis).\n\n")

	p("| | |\n|---|---|\n")
	p("| Dataset | `%s` |\n", m.Dataset)
	p("| Version | `%s` |\n", m.Version)
	p("| Time range | %s to %s (UTC, end exclusive) |\n", m.From.Format(time.RFC3339), m.To.Format(time.RFC3339))
	p("| Window | %s — a row covers [window_start, window_start + %s) |\n", m.Window, m.Window)
	p("| Entity | %s |\n", cell(orDash(m.EntityKind)))
	p("| Size | %s, %s in %s |\n", plural(m.Rows, "row"), HumanBytes(m.Bytes), plural(int64(countData(m)), "file"))
	p("| Licence | [%s](%s)%s |\n", m.Licence, m.LicenceURL, prefixed(" — ", m.LicenceName))
	p("| Key epoch | `%s` |\n", orDash(m.KeyEpoch))
	p("| Spec digest | `%s` |\n", orDash(m.SpecDigest))
	p("| Code version | `%s` |\n\n", orDash(m.CodeVersion))
	p("All timestamps are UTC (Parquet timestamps with the UTC-adjusted logical type, so pandas reads `datetime64[..., UTC]`). Identifiers that came from the cloud (hosts, IPs, users, ...) are keyed pseudonyms.\n\n")

	b.WriteString(datasheetIntro(m, tables))
	p("## Tables\n\n")
	for _, t := range tables {
		p("### %s\n\n", t.name)
		if d, ok := schemas.TableDescriptions[t.name]; ok {
			p("%s\n\n", d)
		}
		p("%s, %s in %s", plural(t.totals.Rows, "row"), HumanBytes(t.totals.Bytes), plural(int64(t.totals.Files), "file"))
		if len(t.parts) > 0 {
			p("; Hive-partitioned by date, %s from `%s` to `%s`", plural(int64(len(t.parts)), "partition"), t.parts[0], t.parts[len(t.parts)-1])
		}
		if v, ok := m.SchemaVersions[t.name]; ok {
			p("; schema version %s", v)
		}
		p(".\n\n| column | type | nullable | unit | description |\n|---|---|---|---|---|\n")
		for _, c := range t.columns {
			d, _ := schemas.DescribeColumn(m, t.name, c.Name)
			p("| `%s` | %s | %s | %s | %s |\n", c.Name, cell(c.Type), yesNo(c.Nullable), cell(orDash(d.Unit)), cell(orDash(d.Description)))
		}
		if len(t.parts) > 0 {
			d := schemas.PartitionDoc
			p("| `date` | date (Hive partition) | no | %s | %s |\n", cell(d.Unit), cell(d.Description))
		}
		p("\n")
	}

	if len(m.Features) > 0 {
		p("## Features\n\nEach feature is a PromQL expression evaluated at the end of every window (window_start + window), from data up to that instant, so a row never looks ahead; it is a column of `windows`.\n\n")
		p("| feature | unit | expression | description |\n|---|---|---|---|\n")
		for _, f := range m.Features {
			p("| `%s` | %s | `%s` | %s |\n", f.Name, cell(orDash(f.Unit)), cell(f.Expr), cell(orDash(f.Help)))
		}
		p("\n")
	}

	l := m.Labels
	p("## Labels\n\n")
	if l.Method != "" {
		p("%s\n\n", strings.TrimSpace(l.Method))
	}
	p("Labels are per entity, never cluster-wide. An incident has a cause interval (impact start to resolution; the end may be unknown, null) and may have an effect interval. Every label names its source (ticket, alert, rule, manual) and the source's id. The prediction label `phase` is one of normal, pre_incident, incident, recovery; `minutes_to_next_incident` counts from the window's start.\n\n")
	if len(l.Labelers) > 0 {
		p("Labelers: %s.\n\n", strings.Join(l.Labelers, ", "))
	}
	p("- incidents: %d%s\n", l.Incidents, countsSuffix(l.IncidentsBySource))
	p("- windows with an active incident: %d of %d\n", l.LabelledWindows, l.Windows)
	if len(l.WindowsByPhase) > 0 {
		p("- windows per phase: %s\n", joinCounts(l.WindowsByPhase))
	}
	p("\n**Known gaps.**")
	if len(l.Gaps) == 0 {
		p(" None recorded by the export. Labels come only from the sources listed above; incidents nobody ticketed or alerted on are labelled normal.\n\n")
	} else {
		p("\n\n")
		for _, g := range l.Gaps {
			p("- %s\n", strings.TrimSpace(g))
		}
		p("\n")
	}

	b.WriteString(tasksSection(m))
	b.WriteString(baselinesSection(m))

	p("## Data quality\n\n")
	if len(m.BadInput) == 0 {
		p("No malformed input records were found.\n\n")
	} else {
		p("Malformed input records were skipped and counted (never silently dropped):\n\n| input | records | reasons |\n|---|---|---|\n")
		for _, in := range slices.Sorted(maps.Keys(m.BadInput)) {
			ip := m.BadInput[in]
			p("| %s | %d | %s |\n", cell(in), ip.Count, cell(joinCounts(ip.Reasons)))
		}
		p("\n")
	}

	p("## Anonymization\n\n")
	p("Identifiers are replaced by keyed pseudonyms (HMAC-SHA256 with a per-type domain tag), consistent across tables, columns, free text and versions published with the same key epoch (`%s`). The key itself is never published.", orDash(m.KeyEpoch))
	if len(m.Anonymization) > 0 {
		p(" Replacements made: %s.", joinCounts(m.Anonymization))
	}
	p("\n\n")

	p("## How to load\n\nFrom the version directory (after `opsdata pull` or any S3 client):\n\n")
	p("```python\nimport pandas as pd\nwindows = pd.read_parquet(\"windows/\")  # Hive partitions add a `date` column\nincidents = pd.read_parquet(\"incidents/\")\n```\n\n")
	p("The `date` partition is a DATE (DuckDB and polars read it as one). pandas reads it as a categorical of strings, where `w.date >= \"2026-01-06\"` raises and `w.date == pd.Timestamp(...)` matches nothing: type it when reading, or filter on the timestamp:\n\n")
	p("```python\nimport datetime\nimport pyarrow as pa, pyarrow.dataset as ds\ndate = ds.partitioning(pa.schema([(\"date\", pa.date32())]), flavor=\"hive\")\nday2 = pd.read_parquet(\"windows/\", partitioning=date, filters=[(\"date\", \">=\", datetime.date(%s))])  # reads only those days\nday2 = windows[windows.window_start >= pd.Timestamp(\"%s\", tz=\"UTC\")]  # the same rows, after reading all\n```\n\n",
		m.From.UTC().AddDate(0, 0, 1).Format("2006, 1, 2"), m.From.UTC().AddDate(0, 0, 1).Format(time.DateOnly))
	p("```python\nimport pyarrow.dataset as ds\nwindows = ds.dataset(\"windows/\", format=\"parquet\", partitioning=\"hive\").to_table()\n```\n\n")
	p("```sql\n-- DuckDB\nSELECT entity, phase, count(*) FROM read_parquet('windows/**/*.parquet', hive_partitioning = true) GROUP BY ALL;\n```\n\n")
	p("## Files and verification\n\n`manifest.json` lists every file with its size, SHA-256 and row count, and all metadata above; `croissant.json` describes the tables in Croissant 1.0. Check a download with:\n\n```sh\nsha256sum -c SHA256SUMS\n```\n\n")
	if m.PublicURL != "" {
		base := m.PublicURL + "/" + m.Dataset + "/" + m.Version
		p("## Download over HTTPS\n\nThe version is at <%s/>. With opsdata:\n\n```sh\nopsdata pull %s/%s@%s %s-%s\n```\n\n", base, m.PublicURL, m.Dataset, m.Version, m.Dataset, m.Version)
		p("Without it, every file is listed in `SHA256SUMS`; fetch them and verify:\n\n```sh\nmkdir %s-%s && cd %s-%s\ncurl -fsSO %s/SHA256SUMS\nawk '{print $2}' SHA256SUMS | while read -r f; do mkdir -p \"$(dirname \"$f\")\"; curl -fsS -o \"$f\" %s/\"$f\"; done\nsha256sum -c SHA256SUMS\n```\n\n",
			m.Dataset, m.Version, m.Dataset, m.Version, base, base)
		if f := firstFile(m, "windows"); f != "" {
			p("Or read one file straight from the URL:\n\n```python\nimport pandas as pd\nw = pd.read_parquet(%q)\n```\n\n", base+"/"+f)
		}
	}

	b.WriteString(datasheetMaintenance(m))
	p("## Licence\n\n%s", m.Licence)
	if m.LicenceName != "" {
		p(" (%s)", m.LicenceName)
	}
	p(": %s. See `LICENSE`.\n", m.LicenceURL)
	b.WriteString(citationSection(m))
	return []byte(b.String())
}

// citationSection is the card's citation: who made and published the
// version, the spec's free-text citation, and a BibTeX entry (the same
// metadata as CITATION.cff and croissant.json's citeAs).
func citationSection(m *schemas.Manifest) string {
	var b strings.Builder
	b.WriteString("\n## Citation\n\n")
	var names []string
	for _, c := range m.Creators {
		s := c.Name
		if c.ORCID != "" {
			s += " ([ORCID " + c.ORCID + "](" + c.ORCIDURL() + "))"
		}
		if c.Affiliation != "" {
			s += ", " + c.Affiliation
		}
		names = append(names, s)
	}
	if len(names) > 0 {
		fmt.Fprintf(&b, "Creators: %s. ", strings.Join(names, "; "))
	}
	if p := m.Publisher; p != nil && p.Name != "" {
		fmt.Fprintf(&b, "Publisher: %s. ", p.Name)
	}
	fmt.Fprintf(&b, "Published %s, version %s", m.PublishedDate(), m.Version)
	if m.DOI != "" {
		fmt.Fprintf(&b, ", DOI [%s](https://doi.org/%s)", m.DOI, m.DOI)
	}
	b.WriteString(".")
	if len(m.Funding) > 0 {
		var fs []string
		for _, f := range m.Funding {
			s := f.Funder
			if f.Award != "" {
				s += " (" + f.Award + ")"
			}
			fs = append(fs, s)
		}
		fmt.Fprintf(&b, " Funding: %s.", strings.Join(fs, "; "))
	}
	if len(m.Keywords) > 0 {
		fmt.Fprintf(&b, " Keywords: %s.", strings.Join(m.Keywords, ", "))
	}
	b.WriteString("\n\n")
	if c := strings.TrimSpace(m.Citation); c != "" {
		fmt.Fprintf(&b, "```\n%s\n```\n\n", c)
	}
	fmt.Fprintf(&b, "BibTeX (the same metadata is in `%s`, which GitHub and Zenodo read):\n\n```bibtex\n%s```\n", schemas.CitationFile, schemas.RenderBibTeX(m))
	return b.String()
}

func countData(m *schemas.Manifest) int {
	n := 0
	for _, t := range m.Tables {
		n += t.Files
	}
	return n
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func prefixed(pre, s string) string {
	if s == "" {
		return ""
	}
	return pre + s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func joinCounts(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func countsSuffix(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	return " (" + joinCounts(m) + ")"
}

func plural(n int64, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// HumanBytes writes a size in binary units (KiB, MiB, ...), as the card,
// the catalog page and `opsdata ls` show it.
func HumanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// firstFile is the path of a table's first file in the manifest ("" if none).
func firstFile(m *schemas.Manifest, table string) string {
	for _, f := range m.Files {
		if f.Table == table {
			return f.Path
		}
	}
	return ""
}
