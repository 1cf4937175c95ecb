package publish

import (
	"html/template"
	"strings"

	"github.com/opsdata/opsdata/schemas"
)

// inlineCode renders plain text for the catalog page: HTML-escaped, with
// Markdown-style `code` spans (as the spec's descriptions and the table
// descriptions write them) shown as <code>. An unpaired backtick stays as
// it is.
func inlineCode(s string) template.HTML {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // odd number of backticks: leave the text alone
		return template.HTML(template.HTMLEscapeString(s))
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(p))
		}
	}
	return template.HTML(b.String())
}

// hasFile reports whether the version's manifest lists the file p.
func hasFile(m *schemas.Manifest, p string) bool {
	for _, f := range m.Files {
		if f.Path == p {
			return true
		}
	}
	return false
}
