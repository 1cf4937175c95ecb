package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/schemas"
	"github.com/thanos-io/objstore"
)

// PageFile is the static catalog page: one at <prefix>/ listing the
// datasets, one in each <prefix>/<dataset>/ describing its versions. The
// pages are plain HTML with inline CSS and no JavaScript, rebuilt from the
// manifests whenever the catalog moves, and deterministic (no clock).
const PageFile = "index.html"

// writeCatalogPages renders and uploads the dataset's page and the prefix's
// index after catalog.json and latest have moved. Unchanged pages are not
// rewritten.
func writeCatalogPages(ctx context.Context, bkt objstore.Bucket, prefix, dataset string, cat *schemas.Catalog) error {
	var manifests []*schemas.Manifest
	for _, e := range cat.Versions {
		k := schemas.Key(prefix, dataset, e.Manifest)
		var m schemas.Manifest
		if err := bucket.ReadJSON(ctx, bkt, k, &m); err != nil {
			return fmt.Errorf("catalog page: %w", err)
		}
		manifests = append(manifests, &m)
	}
	page, err := RenderDatasetPage(cat, manifests)
	if err != nil {
		return fmt.Errorf("catalog page for %s: %w", dataset, err)
	}
	if err := putIfChanged(ctx, bkt, schemas.Key(prefix, dataset, PageFile), page); err != nil {
		return err
	}

	// The index lists every dataset under the prefix that has a catalog.
	var names []string
	dir := ""
	if prefix != "" {
		dir = prefix + "/"
	}
	if err := bkt.Iter(ctx, dir, func(name string) error {
		if n, ok := strings.CutSuffix(name, "/"); ok {
			if n = path.Base(n); schemas.ValidateName("dataset", n) == nil {
				names = append(names, n)
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("catalog index: list %s: %w", dir, err)
	}
	sort.Strings(names)
	var cats []*schemas.Catalog
	for _, n := range names {
		c, err := bucket.ReadCatalog(ctx, bkt, prefix, n)
		if err != nil {
			if errors.Is(err, bucket.ErrNotFound) {
				continue // not a dataset directory
			}
			return fmt.Errorf("catalog index: %w", err)
		}
		cats = append(cats, c)
	}
	index, err := RenderIndexPage(prefix, cats)
	if err != nil {
		return fmt.Errorf("catalog index: %w", err)
	}
	return putIfChanged(ctx, bkt, schemas.Key(prefix, PageFile), index)
}

func putIfChanged(ctx context.Context, bkt objstore.Bucket, k string, data []byte) error {
	old, found, err := bucket.GetBytes(ctx, bkt, k)
	if err != nil {
		return fmt.Errorf("read %s: %w", k, err)
	}
	if found && bytes.Equal(old, data) {
		return nil
	}
	if err := bkt.Upload(ctx, k, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("upload %s: %w", k, err)
	}
	return nil
}

// pageTable is one table of a version as the page shows it.
type pageTable struct {
	Name, Description string
	Totals            schemas.TableTotals
	Size              string
	Partitions        string
	Schema            string
	// Docs documents Totals.Columns, in order (schemas.DescribeColumn).
	Docs []schemas.ColumnDoc
}

type pageVersion struct {
	M          *schemas.Manifest
	Size       string
	Range      string
	Semver     string
	IsLatest   bool
	Tables     []pageTable
	PhaseList  string
	SourceList string
	Anon       string
	BibTeX     string
}

type datasetPage struct {
	Cat      *schemas.Catalog
	Title    string
	Latest   *pageVersion
	Versions []*pageVersion
	Snippets []snippet
}

type snippet struct{ Lang, Title, Code string }

// RenderDatasetPage renders <dataset>/index.html from the catalog and the
// manifests of its versions (in catalog order).
func RenderDatasetPage(cat *schemas.Catalog, manifests []*schemas.Manifest) ([]byte, error) {
	if len(manifests) != len(cat.Versions) {
		return nil, fmt.Errorf("%d manifests for %d catalog versions", len(manifests), len(cat.Versions))
	}
	p := datasetPage{Cat: cat, Title: cat.Title}
	if p.Title == "" {
		p.Title = cat.Dataset
	}
	for i := len(manifests) - 1; i >= 0; i-- { // newest first
		m := manifests[i]
		pv := &pageVersion{
			M: m, Size: HumanBytes(m.Bytes), Semver: SemverOf(m), IsLatest: m.Version == cat.Latest,
			Range:      m.From.UTC().Format("2006-01-02 15:04") + " – " + m.To.UTC().Format("2006-01-02 15:04") + " UTC",
			PhaseList:  joinCounts(m.Labels.WindowsByPhase),
			SourceList: joinCounts(m.Labels.IncidentsBySource),
			Anon:       joinCounts(m.Anonymization),
			BibTeX:     schemas.RenderBibTeX(m),
		}
		for _, name := range slices.Sorted(maps.Keys(m.Tables)) {
			t := m.Tables[name]
			pt := pageTable{Name: name, Description: schemas.TableDescriptions[name], Totals: t, Size: HumanBytes(t.Bytes), Schema: m.SchemaVersions[name]}
			for _, c := range t.Columns {
				d, _ := schemas.DescribeColumn(m, name, c.Name)
				pt.Docs = append(pt.Docs, d)
			}
			var parts []string
			for _, f := range m.Files {
				if f.Table == name && f.Partition != "" && (len(parts) == 0 || parts[len(parts)-1] != f.Partition) {
					parts = append(parts, f.Partition)
				}
			}
			if len(parts) > 0 {
				pt.Partitions = fmt.Sprintf("%s, %s … %s", plural(int64(len(parts)), "date partition"), parts[0], parts[len(parts)-1])
			}
			pv.Tables = append(pv.Tables, pt)
		}
		p.Versions = append(p.Versions, pv)
		if pv.IsLatest {
			p.Latest = pv
		}
	}
	if p.Latest != nil {
		p.Snippets = snippets(cat.Dataset, p.Latest.M)
	}
	var buf bytes.Buffer
	if err := datasetTmpl.Execute(&buf, p); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func snippets(dataset string, m *schemas.Manifest) []snippet {
	dir := dataset + "-" + m.Version
	glob := func(t string) string {
		if hasPartitions(m, t) {
			return dir + "/" + t + "/*/*.parquet"
		}
		return dir + "/" + t + "/*.parquet"
	}
	out := []snippet{
		{"sh", "Download and verify", pullSnippet(dataset, dir, m)},
		{"python", "pandas", fmt.Sprintf("import pandas as pd\n\nwindows = pd.read_parquet(%q)  # Hive partitions add a `date` column\nincidents = pd.read_parquet(%q)\nprint(windows.dtypes)  # window_start is datetime64[ms, UTC]", dir+"/windows/", dir+"/incidents/")},
		{"sql", "DuckDB", fmt.Sprintf("-- duckdb\nSELECT entity, phase, count(*) AS windows\nFROM read_parquet('%s', hive_partitioning = true)\nWHERE date >= '%s'  -- prunes partitions\nGROUP BY ALL ORDER BY ALL;", glob("windows"), m.From.UTC().Format("2006-01-02"))},
		{"python", "polars", fmt.Sprintf("import polars as pl\n\nwindows = pl.scan_parquet(%q, hive_partitioning=True)\nprint(windows.group_by(\"entity\", \"phase\").len().collect())", glob("windows"))},
	}
	return append(out, httpsSnippets(dataset, m)...)
}

// fileURL is where a file of m is served under the spec's public_url: a
// nightly snapshot's files are shared parts of the dataset directory.
func fileURL(dataset string, m *schemas.Manifest, f schemas.File) string {
	if f.Object != "" {
		return m.PublicURL + "/" + dataset + "/" + f.Object
	}
	return m.PublicURL + "/" + dataset + "/" + m.Version + "/" + f.Path
}

// httpsSnippets read the latest version straight from the spec's
// public_url, without downloading it first: DuckDB (httpfs) and Hugging
// Face datasets over HTTPS, each with the windows files listed (a web
// server or public bucket prefix cannot be globbed). None without a
// public_url.
func httpsSnippets(dataset string, m *schemas.Manifest) []snippet {
	if m.PublicURL == "" {
		return nil
	}
	var urls []string
	byPath := map[string]string{}
	for _, f := range m.Files {
		if f.Table == schemas.TableWindows {
			u := fileURL(dataset, m, f)
			urls = append(urls, u)
			byPath[f.Path] = u
		}
	}
	if len(urls) == 0 {
		return nil
	}
	var duck strings.Builder
	duck.WriteString("-- duckdb: reads only the parts of each file a query needs (HTTP range requests; httpfs autoloads)\nSELECT entity, phase, count(*) AS windows\nFROM read_parquet([\n")
	for i, u := range urls {
		sep := ","
		if i == len(urls)-1 {
			sep = ""
		}
		fmt.Fprintf(&duck, "  '%s'%s\n", u, sep)
	}
	duck.WriteString("], hive_partitioning = true)\nGROUP BY ALL ORDER BY ALL;")

	var hf strings.Builder
	hf.WriteString("from datasets import load_dataset  # over HTTP(S) fsspec needs aiohttp: pip install datasets aiohttp\n\nwindows = load_dataset(\"parquet\", data_files={\n")
	per := schemas.SplitFiles(m.Split, m.Files)
	for _, split := range schemas.FileSplits {
		if len(per[split]) == 0 {
			continue
		}
		fmt.Fprintf(&hf, "    %q: [\n", split)
		for _, p := range per[split] {
			fmt.Fprintf(&hf, "        %q,\n", byPath[p])
		}
		hf.WriteString("    ],\n")
	}
	hf.WriteString("})")
	switch {
	case m.Split != nil && m.Split.EntityGroups != nil:
		hf.WriteString("\n# entities are held out, so the split is per row: test = windows[\"full\"].filter(lambda r: r[\"split\"] == \"test\")")
	case m.Split != nil:
		hf.WriteString("\n# split by day file; drop the embargo rows: windows = windows.filter(lambda r: r[\"split\"] != \"gap\")")
	}
	return []snippet{
		{"sql", "DuckDB over HTTPS", duck.String()},
		{"python", "Hugging Face datasets over HTTPS", hf.String()},
	}
}

func hasPartitions(m *schemas.Manifest, table string) bool {
	for _, f := range m.Files {
		if f.Table == table && f.Partition != "" {
			return true
		}
	}
	return false
}

type indexEntry struct {
	Cat    *schemas.Catalog
	Title  string
	Last   schemas.CatalogEntry
	Size   string
	Range  string
	Has    bool
	Active bool
}

// RenderIndexPage renders <prefix>/index.html listing the datasets.
func RenderIndexPage(prefix string, cats []*schemas.Catalog) ([]byte, error) {
	var es []indexEntry
	for _, c := range cats {
		e := indexEntry{Cat: c, Title: c.Title}
		if e.Title == "" {
			e.Title = c.Dataset
		}
		if n := len(c.Versions); n > 0 {
			e.Has, e.Last = true, c.Versions[n-1]
			e.Size = HumanBytes(e.Last.Bytes)
			e.Range = e.Last.From.UTC().Format("2006-01-02 15:04") + " – " + e.Last.To.UTC().Format("2006-01-02 15:04") + " UTC"
		}
		es = append(es, e)
	}
	var buf bytes.Buffer
	if err := indexTmpl.Execute(&buf, struct {
		Prefix   string
		Datasets []indexEntry
	}{prefix, es}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var pageFuncs = template.FuncMap{
	"rfc3339": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"yesno":   yesNo,
	"orDash":  orDash,
	"code":    inlineCode,
	"hasFile": hasFile,
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		return string(b), err
	},
}

const pageCSS = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#fff;line-height:1.45}
header{background:#17324d;color:#fff;padding:1.2rem 2rem}
header h1{margin:0;font-size:1.6rem}
header p{margin:.3rem 0 0;color:#d5e3f0}
main{padding:1rem 2rem 3rem;max-width:75rem}
h2{border-bottom:2px solid #17324d;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0 1rem}
th,td{border:1px solid #c9d1d9;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#eef3f8}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}
pre{background:#f4f6f8;border:1px solid #d0d7de;padding:.7rem;overflow-x:auto}
.badge{display:inline-block;background:#2d7d46;color:#fff;border-radius:.3rem;padding:0 .4rem;font-size:.85em}
details{margin:.4rem 0}
#versions-table code{white-space:nowrap}
`

var datasetTmpl = template.Must(template.New("dataset").Funcs(pageFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} — opsdata catalog</title>
<style>` + pageCSS + `</style>
</head>
<body>
<header>
<h1 id="title">{{.Title}}</h1>
<p>Dataset <code>{{.Cat.Dataset}}</code>{{with .Latest}} · latest version <code id="latest">{{.M.Version}}</code> · licence <a style="color:#fff" href="{{.M.LicenceURL}}">{{.M.Licence}}</a>{{end}}</p>
</header>
<main>
<p><a href="../{{"index.html"}}">All datasets</a> · <a href="catalog.json">catalog.json</a> · <a href="latest.json">latest.json</a>{{if .Snippets}} · <strong><a href="#load">Download and load it</a></strong>{{end}}</p>
{{with .Latest}}{{with .M.Description}}<p id="description">{{code .}}</p>{{end}}{{end}}

<h2 id="versions">Versions</h2>
<table id="versions-table">
<thead><tr><th>version</th><th>semver</th><th>time range</th><th>window</th><th>rows</th><th>size</th><th>licence</th><th>files</th></tr></thead>
<tbody>
{{range .Versions}}<tr data-version="{{.M.Version}}">
<td><code>{{.M.Version}}</code>{{if .IsLatest}} <span class="badge">latest</span>{{end}}</td>
<td>{{.Semver}}</td>
<td>{{.Range}}</td>
<td>{{.M.Window}}</td>
<td class="num">{{.M.Rows}}</td>
<td class="num">{{.Size}}</td>
<td><a href="{{.M.LicenceURL}}">{{.M.Licence}}</a></td>
<td><a href="{{.M.Version}}/README.md">card</a> · <a href="{{.M.Version}}/manifest.json">manifest</a> · <a href="{{.M.Version}}/SHA256SUMS">SHA256SUMS</a> · <a href="{{.M.Version}}/croissant.json">Croissant</a></td>
</tr>
{{end}}</tbody>
</table>
{{- $cl := false}}{{range .Versions}}{{if .M.Changelog}}{{$cl = true}}{{end}}{{end}}{{if $cl}}
<h2 id="changelog">Changelog</h2>
<ul id="changelog-list">
{{range .Versions}}{{$v := .M.Version}}{{with .M.Changelog}}<li data-version="{{$v}}"><code>{{$v}}</code>: {{if .Added}}added {{range $i, $d := .Added}}{{if $i}}, {{end}}{{$d}}{{end}}{{else}}no new day{{end}}{{range .Changed}}; republished {{.Date}} ({{range $i, $t := .Tables}}{{if $i}}, {{end}}{{$t}}{{end}}){{range .Reasons}}: {{.}}{{end}}{{end}}</li>
{{end}}{{end}}</ul>
{{- end}}

{{with .Latest}}
<h2 id="tables">Tables in {{.M.Version}}</h2>
<p>All timestamps are UTC. A window covers [window_start, window_start + {{.M.Window}}) per {{orDash .M.EntityKind}}.</p>
{{range .Tables}}
<section class="table" id="table-{{.Name}}">
<h3>{{.Name}}</h3>
{{with .Description}}<p>{{code .}}</p>{{end}}
<p><span class="rows">{{.Totals.Rows}}</span> rows · {{.Size}} in {{.Totals.Files}} file(s){{with .Partitions}} · {{.}}{{end}}{{with .Schema}} · schema version {{.}}{{end}}</p>
<details open>
<summary>{{len .Totals.Columns}} columns</summary>
<table class="columns">
<thead><tr><th>column</th><th>type</th><th>nullable</th><th>unit</th><th>description</th></tr></thead>
<tbody>
{{$docs := .Docs}}{{range $i, $c := .Totals.Columns}}{{$d := index $docs $i}}<tr><td><code>{{$c.Name}}</code></td><td>{{$c.Type}}</td><td>{{yesno $c.Nullable}}</td><td>{{orDash $d.Unit}}</td><td>{{orDash $d.Description}}</td></tr>
{{end}}</tbody>
</table>
</details>
</section>
{{end}}

{{with .M.Features}}
<h2 id="features">Features</h2>
<p>Each feature is a PromQL expression evaluated at the end of every window (window_start + window), from data up to that instant; it is a column of <code>windows</code>.</p>
<table id="features-table">
<thead><tr><th>feature</th><th>unit</th><th>expression</th><th>description</th></tr></thead>
<tbody>
{{range .}}<tr><td><code>{{.Name}}</code></td><td>{{orDash .Unit}}</td><td><code>{{.Expr}}</code></td><td>{{orDash .Help}}</td></tr>
{{end}}</tbody>
</table>
{{end}}

<h2 id="labels">Labels</h2>
{{with .M.Labels}}
{{with .Method}}<p>{{.}}</p>{{end}}
<table id="label-summary">
<tbody>
<tr><th>labelers</th><td>{{range $i, $l := .Labelers}}{{if $i}}, {{end}}{{$l}}{{else}}-{{end}}</td></tr>
<tr><th>incidents</th><td class="num" id="incidents">{{.Incidents}}</td></tr>
<tr><th>incidents by source</th><td>{{orDash $.Latest.SourceList}}</td></tr>
<tr><th>windows with an active incident</th><td>{{.LabelledWindows}} of {{.Windows}}</td></tr>
<tr><th>windows per phase</th><td>{{orDash $.Latest.PhaseList}}</td></tr>
</tbody>
</table>
<h3>Known gaps</h3>
<ul id="gaps">
{{range .Gaps}}<li>{{.}}</li>
{{else}}<li>None recorded by the export. Incidents nobody ticketed or alerted on are labelled normal.</li>
{{end}}</ul>
{{end}}

<h2 id="licence">Licence and citation</h2>
<p>{{.M.Licence}}{{with .M.LicenceName}} ({{.}}){{end}}: <a href="{{.M.LicenceURL}}">{{.M.LicenceURL}}</a>.</p>
{{with .M.Citation}}<p>Cite as:</p>
<pre id="citation">{{.}}</pre>{{end}}
<p>BibTeX (also <a href="{{.M.Version}}/CITATION.cff">CITATION.cff</a>):</p>
<pre id="bibtex">{{.BibTeX}}</pre>

<h2 id="anonymization">Anonymization</h2>
<p>Identifiers are replaced by keyed pseudonyms (key epoch <code>{{orDash .M.KeyEpoch}}</code>): within one key epoch the same identifier always gets the same pseudonym, so joins across tables and versions still work.{{if hasFile .M "anonymization_report.json"}} Which rule applied to which column or label, and how often: <a href="{{.M.Version}}/anonymization_report.json">anonymization_report.json</a>.{{end}}</p>
{{with .Anon}}<p>Replacements made: {{.}}.</p>{{end}}
{{end}}

{{with .Snippets}}
<h2 id="load">Load it</h2>
<p>Copy, paste, run. Paths assume the version was pulled into <code>{{$.Cat.Dataset}}-{{$.Latest.M.Version}}</code>.</p>
{{range .}}<h3>{{.Title}}</h3>
<pre class="snippet" data-lang="{{.Lang}}"><code>{{.Code}}</code></pre>
{{end}}
{{end}}
</main>
</body>
</html>
`))

var indexTmpl = template.Must(template.New("index").Funcs(pageFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>opsdata datasets{{with .Prefix}} — {{.}}{{end}}</title>
<style>` + pageCSS + `</style>
</head>
<body>
<header>
<h1>opsdata datasets</h1>
<p>Labelled, anonymized operations data (metrics, logs, tickets) as Parquet.</p>
</header>
<main>
<table id="datasets">
<thead><tr><th>dataset</th><th>title</th><th>latest version</th><th>versions</th><th>time range</th><th>rows</th><th>size</th><th>licence</th></tr></thead>
<tbody>
{{range .Datasets}}<tr data-dataset="{{.Cat.Dataset}}">
<td><a href="{{.Cat.Dataset}}/index.html">{{.Cat.Dataset}}</a></td>
<td>{{.Title}}</td>
{{if .Has}}<td><code>{{.Last.Version}}</code></td><td class="num">{{len .Cat.Versions}}</td><td>{{.Range}}</td><td class="num">{{.Last.Rows}}</td><td class="num">{{.Size}}</td><td>{{.Last.Licence}}</td>
{{else}}<td colspan="6">no complete version yet</td>
{{end}}</tr>
{{else}}<tr><td colspan="8">No datasets published yet.</td></tr>
{{end}}</tbody>
</table>
<p>Each dataset directory holds <code>catalog.json</code>, <code>latest</code> and one immutable directory per version with <code>manifest.json</code>, <code>SHA256SUMS</code>, <code>README.md</code> and <code>croissant.json</code>. Fetch one with <code>opsdata pull</code>.</p>
</main>
</body>
</html>
`))

// pullSnippet is the download step: with the spec's public_url a command
// that works as written, else one naming where to put the bucket's URL.
func pullSnippet(dataset, dir string, m *schemas.Manifest) string {
	if m.PublicURL != "" {
		return fmt.Sprintf("opsdata pull %s/%s@%s %s\ncd %s && sha256sum -c SHA256SUMS", m.PublicURL, dataset, m.Version, dir, dir)
	}
	return fmt.Sprintf("# <bucket-url>: where this page was published, e.g. s3://bucket/prefix or its https:// URL (public buckets need no credentials)\nopsdata pull <bucket-url>/%s@%s %s\ncd %s && sha256sum -c SHA256SUMS", dataset, m.Version, dir, dir)
}
