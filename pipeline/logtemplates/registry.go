package logtemplates

import (
	"fmt"
	"strings"
	"time"
)

// RegistryRow is one template's lineage: what a dataset keeps so the next
// run's miner resumes with the same ids. Rows are in creation order.
type RegistryRow struct {
	ID                string    // stable: ID of FirstTemplate (plus a collision counter)
	Template          string    // current text as the miner matches it (every mask kept)
	Text              string    // current text as published: Template with its constants shown
	Constants         []string  // per token of Template: the raw number, duration or size it always had, or ""; nil: none
	FirstTemplate     string    // the text it was created with (its tree route)
	PreviousTemplates []string  // the texts it had before Template, oldest first
	Count             int64     // lines so far
	FirstSeen         time.Time // time of its first line
	LastSeen          time.Time
}

// Registry is the id registry of a miner: its clusters as rows.
type Registry struct {
	rows []RegistryRow
}

// LoadRegistry checks rows (in creation order, as Export wrote them) and
// returns a registry for NewMiner.
func LoadRegistry(rows []RegistryRow) (*Registry, error) {
	seen := make(map[string]bool, len(rows))
	for i, r := range rows {
		switch {
		case r.ID == "":
			return nil, fmt.Errorf("registry row %d: empty id", i)
		case seen[r.ID]:
			return nil, fmt.Errorf("registry row %d: id %s twice", i, r.ID)
		case r.FirstTemplate == "":
			return nil, fmt.Errorf("registry row %d (%s): empty first template", i, r.ID)
		}
		seen[r.ID] = true
	}
	return &Registry{rows: append([]RegistryRow(nil), rows...)}, nil
}

// Rows returns the registry's rows in creation order.
func (r *Registry) Rows() []RegistryRow { return append([]RegistryRow(nil), r.rows...) }

// Export returns the miner's registry: every cluster in creation order,
// raw (not published) texts, so a later NewMiner routes lines the same way.
func (m *Miner) Export() *Registry {
	rows := make([]RegistryRow, len(m.clusters))
	for i, c := range m.clusters {
		rows[i] = RegistryRow{
			ID: c.id, Template: c.masked(), Text: c.Template(), Constants: append([]string(nil), c.raw...), FirstTemplate: joinTokens(c.first),
			PreviousTemplates: append([]string(nil), c.history...),
			Count:             c.Count, FirstSeen: c.FirstSeen, LastSeen: c.LastSeen,
		}
	}
	return &Registry{rows: rows}
}

func joinTokens(t []string) string { return strings.Join(t, " ") }
