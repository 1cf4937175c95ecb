package write

import (
	"encoding/json"
	"fmt"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// pandasMetadata is the footer's "pandas" key-value entry, in the format
// pyarrow writes (https://arrow.apache.org/docs/python/pandas.html and
// pandas' own "Storing pandas DataFrame objects in Apache Parquet format").
// Readers that do not read the Parquet logical type's isAdjustedToUTC take
// a timestamp's zone from here: fastparquet returns tz-naive timestamps
// without it. pyarrow, DuckDB and Spark read the logical type and agree.
type pandasMetadata struct {
	IndexColumns  []string          `json:"index_columns"`
	ColumnIndexes []any             `json:"column_indexes"`
	Columns       []pandasColumn    `json:"columns"`
	Creator       map[string]string `json:"creator"`
	PandasVersion string            `json:"pandas_version"`
}

type pandasColumn struct {
	Name       string            `json:"name"`
	FieldName  string            `json:"field_name"`
	PandasType string            `json:"pandas_type"`
	NumpyType  string            `json:"numpy_type"`
	Metadata   map[string]string `json:"metadata"`
}

// pandasMetadataOf describes the top-level columns of schema. Its output
// depends on the schema only, so files stay byte-identical across runs.
func pandasMetadataOf(schema *parquet.Schema) (string, error) {
	md := pandasMetadata{
		IndexColumns:  []string{},
		ColumnIndexes: []any{},
		Creator:       map[string]string{"library": "opsdata"},
		// The oldest format version that carries datetimetz with a zone.
		PandasVersion: "1.0.0",
	}
	for _, f := range schema.Fields() {
		pt, nt, meta := pandasTypeOf(f)
		md.Columns = append(md.Columns, pandasColumn{Name: f.Name(), FieldName: f.Name(), PandasType: pt, NumpyType: nt, Metadata: meta})
	}
	b, err := json.Marshal(md)
	if err != nil {
		return "", fmt.Errorf("pandas metadata: %w", err)
	}
	return string(b), nil
}

func pandasTypeOf(f parquet.Field) (pandasType, numpyType string, meta map[string]string) {
	var logical format.LogicalTypeValue
	if lt := f.Type().LogicalType(); lt != nil {
		logical = lt.Value
	}
	if !f.Leaf() {
		if _, ok := logical.(*format.ListType); ok {
			return "list[unicode]", "object", nil
		}
		return "object", "object", nil
	}
	switch lt := logical.(type) {
	case *format.TimestampType:
		unit := "ns"
		switch lt.Unit.Value.(type) {
		case *format.MilliSeconds:
			unit = "ms"
		case *format.MicroSeconds:
			unit = "us"
		}
		if lt.IsAdjustedToUTC {
			return "datetimetz", "datetime64[" + unit + "]", map[string]string{"timezone": "UTC"}
		}
		return "datetime", "datetime64[" + unit + "]", nil
	case *format.StringType, *format.EnumType, *format.JsonType:
		return "unicode", "object", nil
	}
	optional := f.Optional()
	switch f.Type().Kind() {
	case parquet.Boolean:
		if optional {
			return "bool", "object", nil
		}
		return "bool", "bool", nil
	case parquet.Int32, parquet.Int64:
		bits := "32"
		if f.Type().Kind() == parquet.Int64 {
			bits = "64"
		}
		if optional {
			return "float64", "float64", nil
		}
		return "int" + bits, "int" + bits, nil
	case parquet.Float:
		return "float32", "float32", nil
	case parquet.Double:
		return "float64", "float64", nil
	case parquet.ByteArray, parquet.FixedLenByteArray:
		return "bytes", "object", nil
	}
	return "object", "object", nil
}
