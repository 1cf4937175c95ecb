package promfile

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

var labelNameRe = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// column roles of the CSV header.
const (
	colLabel = iota
	colTime
	colValue
	colName
	colLabels
)

// ReadCSV parses the long CSV format (see the package comment) and calls
// add for every row. loc is the zone of naive timestamps; nil makes them
// an error. Errors name path:line.
func ReadCSV(ctx context.Context, path string, r io.Reader, loc *time.Location, add func(line int, lset labels.Labels, t int64, v float64) error) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: empty file; a metric CSV needs a header such as timestamp,__name__,service,value", path)
	}
	if err != nil {
		return fmt.Errorf("%s: header: %w", path, err)
	}
	roles := make([]int, len(header))
	names := make([]string, len(header))
	seen := map[int]bool{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		names[i] = h
		switch h {
		case "timestamp":
			roles[i] = colTime
		case "value":
			roles[i] = colValue
		case "__name__", "metric":
			roles[i] = colName
		case "labels":
			roles[i] = colLabels
		default:
			if !labelNameRe.MatchString(h) || strings.HasPrefix(h, "__") {
				return fmt.Errorf("%s:1: column %d %q is not a label name; columns are timestamp, value, __name__ (or metric), labels (k=v;k=v) and label names ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", path, i+1, h)
			}
			roles[i] = colLabel
		}
		if roles[i] != colLabel && seen[roles[i]] {
			return fmt.Errorf("%s:1: column %q: timestamp, value, metric name and labels may each appear once", path, h)
		}
		seen[roles[i]] = true
	}
	for i := 0; i < len(header); i++ {
		for j := i + 1; j < len(header); j++ {
			if names[i] == names[j] {
				return fmt.Errorf("%s:1: column %q appears twice", path, names[i])
			}
		}
	}
	for _, need := range []struct {
		role int
		name string
	}{{colTime, "timestamp"}, {colValue, "value"}, {colName, "__name__ (or metric)"}} {
		if !seen[need.role] {
			return fmt.Errorf("%s:1: header has no %s column; expected e.g. timestamp,__name__,service,instance,value", path, need.name)
		}
	}
	var b labels.ScratchBuilder
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%s:%d: %v", path, pe.Line, pe.Err)
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b.Reset()
		var t int64
		var v float64
		for i, cell := range rec {
			switch roles[i] {
			case colTime:
				if t, err = ParseTimestamp(cell, loc); err != nil {
					return fmt.Errorf("%s:%d: timestamp: %w", path, line, err)
				}
			case colValue:
				if v, err = strconv.ParseFloat(strings.TrimSpace(cell), 64); err != nil {
					return fmt.Errorf("%s:%d: value %q is not a number", path, line, cell)
				}
			case colName:
				if cell == "" {
					return fmt.Errorf("%s:%d: empty metric name", path, line)
				}
				b.Add(labels.MetricName, cell)
			case colLabel:
				if cell != "" {
					b.Add(names[i], cell)
				}
			case colLabels:
				if err := addPairs(&b, cell); err != nil {
					return fmt.Errorf("%s:%d: labels: %w", path, line, err)
				}
			}
		}
		b.Sort()
		lset := b.Labels()
		if dup, ok := duplicateName(lset); ok {
			return fmt.Errorf("%s:%d: label %q is set twice (in a column and in labels)", path, line, dup)
		}
		if err := add(line, lset, t, v); err != nil {
			return err
		}
	}
}

// addPairs adds the k=v;k=v pairs of a labels cell.
func addPairs(b *labels.ScratchBuilder, cell string) error {
	if strings.TrimSpace(cell) == "" {
		return nil
	}
	for _, kv := range strings.Split(cell, ";") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || !labelNameRe.MatchString(k) || strings.HasPrefix(k, "__") {
			return fmt.Errorf("%q is not name=value with a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)", kv)
		}
		if v != "" {
			b.Add(k, v)
		}
	}
	return nil
}

func duplicateName(ls labels.Labels) (string, bool) {
	prev, dup := "", ""
	ls.Range(func(l labels.Label) {
		if l.Name == prev && dup == "" {
			dup = l.Name
		}
		prev = l.Name
	})
	return dup, dup != ""
}

// msThreshold separates epoch seconds from epoch milliseconds: 1e11
// seconds is the year 5138, 1e11 milliseconds March 1973.
const msThreshold = 1e11

var epochRe = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

var naiveLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

// ParseTimestamp reads a CSV timestamp as Unix milliseconds: RFC 3339 with
// an offset, Unix seconds or milliseconds (numbers >= 1e11 are
// milliseconds), or a naive date-time in loc (an error when loc is nil).
// Sub-millisecond digits are truncated, as Prometheus does.
func ParseTimestamp(s string, loc *time.Location) (int64, error) {
	s = strings.TrimSpace(s)
	if epochRe.MatchString(s) {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.Abs(f) > 1e15 {
			return 0, fmt.Errorf("%q is out of range", s)
		}
		whole, frac, _ := strings.Cut(s, ".")
		w, err := strconv.ParseInt(whole, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		sign := int64(1)
		if strings.HasPrefix(s, "-") {
			sign = -1
		}
		if math.Abs(f) >= msThreshold {
			return w, nil
		}
		frac = (frac + "000")[:3]
		ms, _ := strconv.ParseInt(frac, 10, 64)
		return w*1000 + sign*ms, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UnixMilli(), nil
	}
	if t, err := time.Parse("2006-01-02 15:04:05.999999999Z07:00", s); err == nil {
		return t.UnixMilli(), nil
	}
	for _, layout := range naiveLayouts {
		if _, err := time.Parse(layout, s); err != nil {
			continue
		}
		if loc == nil {
			return 0, fmt.Errorf("%q has no zone offset; set metrics.file.timezone (an IANA zone such as Europe/Berlin) or write RFC 3339 with an offset", s)
		}
		t, err := time.ParseInLocation(layout, s, loc)
		if err != nil {
			return 0, fmt.Errorf("%q: %w", s, err)
		}
		return t.UnixMilli(), nil
	}
	return 0, fmt.Errorf("%q is neither RFC 3339, Unix seconds, Unix milliseconds nor a date-time (2006-01-02 15:04:05)", s)
}
