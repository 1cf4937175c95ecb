package promfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
)

// chunkLines is how many lines are handed to the parser at once.
const chunkLines = 4096

// maxLine is the longest line accepted.
const maxLine = 4 << 20

var (
	eofLine  = []byte("# EOF")
	metaHelp = []byte("# HELP ")
	metaType = []byte("# TYPE ")
	metaUnit = []byte("# UNIT ")
)

// ReadOpenMetrics parses OpenMetrics text with Prometheus's OpenMetrics
// parser and calls add for every sample. The parser works on a byte slice;
// to keep memory flat the input is handed to it in chunks of lines, each
// prefixed by the current family's # TYPE/# HELP/# UNIT lines (which carry
// the parser's state from one line to the next) and closed by # EOF. Every
// entry is one line, so errors name path:line exactly.
func ReadOpenMetrics(ctx context.Context, path string, r io.Reader, add func(line int, lset labels.Labels, t int64, v float64) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var (
		family   []byte   // name of the family the meta lines describe
		meta     [][]byte // its # TYPE/# HELP/# UNIT lines
		metaNums []int
		chunk    bytes.Buffer
		nums     []int // line number of every line in chunk
		lineNo   int
		eofAt    int
	)
	st := labels.NewSymbolTable()
	var lset labels.Labels
	flush := func() error {
		if len(nums) == 0 {
			return nil
		}
		chunk.Write(eofLine)
		chunk.WriteByte('\n')
		p := textparse.NewOpenMetricsParser(chunk.Bytes(), st)
		for k := 0; ; k++ {
			at := func() int { return nums[min(k, len(nums)-1)] }
			e, err := p.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("%s:%d: %w", path, at(), err)
			}
			switch e {
			case textparse.EntrySeries:
				series, ts, v := p.Series()
				if ts == nil {
					return fmt.Errorf("%s:%d: sample %s has no timestamp; every sample of a metric file needs one (Unix seconds after the value)", path, at(), series)
				}
				p.Labels(&lset)
				if err := add(at(), lset, *ts, v); err != nil {
					return err
				}
			case textparse.EntryHistogram:
				return fmt.Errorf("%s:%d: native histograms are not supported in metric files", path, at())
			}
		}
		chunk.Reset()
		nums = nums[:0]
		return ctx.Err()
	}
	for sc.Scan() {
		lineNo++
		line := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if eofAt > 0 {
			return fmt.Errorf("%s:%d: data after # EOF (line %d)", path, lineNo, eofAt)
		}
		if bytes.Equal(line, eofLine) {
			eofAt = lineNo
			continue
		}
		if len(nums) == 0 {
			// A new chunk starts with the current family's metadata.
			for i, m := range meta {
				chunk.Write(m)
				chunk.WriteByte('\n')
				nums = append(nums, metaNums[i])
			}
		}
		if name, ok := metaFamily(line); ok {
			if !bytes.Equal(name, family) {
				family, meta, metaNums = append(family[:0], name...), nil, nil
			}
			meta = append(meta, bytes.Clone(line))
			metaNums = append(metaNums, lineNo)
		}
		chunk.Write(line)
		chunk.WriteByte('\n')
		nums = append(nums, lineNo)
		if len(nums) >= chunkLines {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", path, lineNo+1, err)
	}
	return flush()
}

// metaFamily returns the family named by a # HELP, # TYPE or # UNIT line.
func metaFamily(line []byte) ([]byte, bool) {
	var rest []byte
	switch {
	case bytes.HasPrefix(line, metaHelp):
		rest = line[len(metaHelp):]
	case bytes.HasPrefix(line, metaType):
		rest = line[len(metaType):]
	case bytes.HasPrefix(line, metaUnit):
		rest = line[len(metaUnit):]
	default:
		return nil, false
	}
	if i := bytes.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	return rest, true
}
