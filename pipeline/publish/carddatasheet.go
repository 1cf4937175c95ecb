package publish

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/opsdata/opsdata/schemas"
)

// datasheetIntro is the datasheet's motivation, composition and collection
// sections (after Gebru et al., "Datasheets for Datasets").
func datasheetIntro(m *schemas.Manifest, tables []*tableInfo) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("## Motivation\n\n")
	p("Public operations datasets are rare, and the few there are mix time zones and units, have missing or contradictory labels, unclear licences and no loaders. This dataset was exported by [opsdata](https://github.com/opsdata/opsdata) so that AIOps research (incident prediction, anomaly detection, root-cause analysis) can start from typed, labelled, verifiable Parquet tables.\n\n")
	p("## Composition\n\n")
	p("Each instance of the ML-ready `windows` table is one (window, %s): the feature values of that %s over a %s window, its log counts, and its incident and prediction labels. ", orDash(m.EntityKind), orDash(m.EntityKind), m.Window)
	p("The other tables hold the raw material: ")
	names := make([]string, 0, len(tables))
	for _, t := range tables {
		names = append(names, fmt.Sprintf("`%s` (%s)", t.name, plural(t.totals.Rows, "row")))
	}
	p("%s. ", strings.Join(names, ", "))
	p("The data covers %s to %s (UTC). ", m.From.UTC().Format(time.RFC3339), m.To.UTC().Format(time.RFC3339))
	p("%s", splitText(m))
	p("Nothing in the data identifies a person: user names, hosts and addresses are keyed pseudonyms.\n\n")
	p("## Collection process\n\n")
	p("The operator's monitoring (Prometheus metrics), logs and incident tickets were read for the export range and aligned to a %s grid anchored at the Unix epoch; a window's features are PromQL expressions evaluated at its end (window_start + window: no look-ahead). Malformed input records were counted and skipped (see Data quality). The export is deterministic: the same inputs, spec (digest `%s`) and code (`%s`) give the same bytes.\n\n", m.Window, orDash(m.SpecDigest), orDash(m.CodeVersion))
	return b.String()
}

// datasheetMaintenance is the datasheet's maintenance section.
func datasheetMaintenance(m *schemas.Manifest) string {
	return fmt.Sprintf("## Maintenance\n\n"+
		"Versions are immutable: once `%s/manifest.json` exists its files never change, and corrections are published as new versions. "+
		"The dataset directory's `catalog.json` lists every version and `latest` names the newest. "+
		"Pseudonyms stay stable across versions while the key epoch (`%s`) stays the same; a new epoch means identifiers cannot be joined across the change. "+
		"%s\n\n", m.Version, orDash(m.KeyEpoch), reportTo(m))
}

// reportTo says whom to tell about problems with the data.
func reportTo(m *schemas.Manifest) string {
	p := m.Publisher
	switch {
	case p == nil || p.Name == "":
		return "Report problems with the data or its labels to the operator who published it (the spec names no publisher)."
	case p.Email != "":
		return fmt.Sprintf("Report problems with the data or its labels to the publisher, %s (%s).", p.Name, p.Email)
	case p.URL != "":
		return fmt.Sprintf("Report problems with the data or its labels to the publisher, %s (%s).", p.Name, p.URL)
	}
	return fmt.Sprintf("Report problems with the data or its labels to the publisher, %s.", p.Name)
}

// splitText describes the benchmark split (or says there is none).
func splitText(m *schemas.Manifest) string {
	sp := m.Split
	if sp == nil {
		return "There is no train/test split: split by time (for example the last day as test) so that no future leaks into training. "
	}
	var bounds []string
	if sp.Validation != nil {
		bounds = append(bounds, "validation from "+sp.Validation.UTC().Format(time.RFC3339))
	}
	if sp.Test != nil {
		bounds = append(bounds, "test from "+sp.Test.UTC().Format(time.RFC3339))
	}
	s := ""
	if len(bounds) > 0 {
		s = fmt.Sprintf("The `split` column of `windows` is a time split: train before the first boundary, %s. Windows within the embargo (%s) before a boundary are `gap`: their labels (pre_incident, minutes_to_next_incident) look across it, so use them in no split (`windows[windows.split != \"gap\"]`). ", strings.Join(bounds, ", "), sp.Embargo)
		if sp.EntityGroups == nil {
			s += "The card's Hugging Face configs give `windows` train/validation/test splits by day file; the gap rows are in the file before each boundary. "
		}
	}
	if len(sp.Straddling) > 0 {
		s += fmt.Sprintf("%d incident(s) straddle a boundary (see Known gaps). ", len(sp.Straddling))
	}
	if g := sp.EntityGroups; g != nil {
		s += fmt.Sprintf("Whole entities are held out: %s of the entities are validation and %s test in every window (%s), so a model is scored on entities it never trained on; a window's split is the later of its time split and its entity's group (train < gap < validation < test). Held out: validation %s; test %s. Because a day file now holds rows of several splits, the Hugging Face configs put every windows file in one split, `full`: select by the `split` column. ",
			pct(g.Validation), pct(g.Test), g.Method, orNone(g.HeldOut[schemas.SplitValidation]), orNone(g.HeldOut[schemas.SplitTest]))
	}
	return s
}

func pct(f float64) string { return strconv.FormatFloat(f*100, 'f', -1, 64) + "%" }

// orNone joins published entities as code, or says none.
func orNone(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return "`" + strings.Join(names, "`, `") + "`"
}
