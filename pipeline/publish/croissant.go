package publish

import "github.com/opsdata/opsdata/schemas"

func exportColumns(cols []column) []schemas.Column {
	out := make([]schemas.Column, len(cols))
	for i, c := range cols {
		out[i] = schemas.Column{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	return out
}

// SemverOf is schemas.SemverOf: the semantic version croissant.json carries.
func SemverOf(m *schemas.Manifest) string { return schemas.SemverOf(m) }
