package publish

import (
	"fmt"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// column is one top-level column of a table, as the card shows it.
type column struct {
	Name     string
	Type     string // e.g. "timestamp[ms, UTC]", "list<string>", "double"
	Nullable bool
}

func sameColumns(a, b []column) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// describeSchema lists the top-level columns of a Parquet schema in file
// order with researcher-friendly type names.
func describeSchema(s *parquet.Schema) []column {
	fields := s.Fields()
	out := make([]column, 0, len(fields))
	for _, f := range fields {
		out = append(out, column{Name: f.Name(), Type: describeNode(f), Nullable: f.Optional()})
	}
	return out
}

func describeNode(n parquet.Node) string {
	lt := n.Type().LogicalType()
	if !n.Leaf() {
		if lt != nil {
			if _, ok := lt.Value.(*format.ListType); ok {
				if el, ok := listElement(n); ok {
					return "list<" + describeNode(el) + ">"
				}
			}
		}
		// Map and struct columns are not used by our tables; name them plainly.
		parts := make([]string, 0, len(n.Fields()))
		for _, f := range n.Fields() {
			parts = append(parts, f.Name()+": "+describeNode(f))
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	}
	if lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *format.StringType:
			return "string"
		case *format.TimestampType:
			tz := ""
			if v.IsAdjustedToUTC {
				tz = ", UTC"
			}
			return fmt.Sprintf("timestamp[%s%s]", unitName(v.Unit), tz)
		case *format.DateType:
			return "date"
		case *format.JsonType:
			return "json"
		case *format.IntType:
			if v.IsSigned {
				return fmt.Sprintf("int%d", v.BitWidth)
			}
			return fmt.Sprintf("uint%d", v.BitWidth)
		}
		return strings.ToLower(lt.String())
	}
	switch n.Type().Kind() {
	case parquet.Boolean:
		return "bool"
	case parquet.Int32:
		return "int32"
	case parquet.Int64:
		return "int64"
	case parquet.Float:
		return "float"
	case parquet.Double:
		return "double"
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return "binary"
	}
	return strings.ToLower(n.Type().String())
}

// listElement finds the element node of a three-level LIST group
// (<name> LIST { repeated group list { element } }).
func listElement(n parquet.Node) (parquet.Node, bool) {
	fs := n.Fields()
	if len(fs) != 1 {
		return nil, false
	}
	inner := fs[0]
	if inner.Leaf() {
		return inner, true // legacy two-level list
	}
	if in := inner.Fields(); len(in) == 1 {
		return in[0], true
	}
	return nil, false
}

func unitName(u format.TimeUnit) string {
	switch u.Value.(type) {
	case *format.MilliSeconds:
		return "ms"
	case *format.MicroSeconds:
		return "us"
	case *format.NanoSeconds:
		return "ns"
	}
	return strings.ToLower(u.String())
}
