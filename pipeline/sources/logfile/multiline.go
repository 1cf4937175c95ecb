package logfile

import (
	"fmt"
	"regexp"
	"strings"
)

// Defaults bounding one multi-line entry.
const (
	DefaultMultilineMaxLines = 1000
	DefaultMultilineMaxBytes = 1 << 20
)

// reasonMultilineCut counts entries whose continuation lines were cut at
// the multiline bounds.
const reasonMultilineCut = "multiline_truncated"

// multiline joins continuation lines (those not matching start) to the
// entry before them.
type multiline struct {
	start    *regexp.Regexp
	maxLines int
	maxBytes int
}

func newMultiline(cfg Multiline) (*multiline, error) {
	if cfg.Start == "" {
		return nil, nil
	}
	re, err := regexp.Compile(cfg.Start)
	if err != nil {
		return nil, fmt.Errorf("multiline.start: %w", err)
	}
	m := &multiline{start: re, maxLines: cfg.MaxLines, maxBytes: cfg.MaxBytes}
	if m.maxLines <= 0 {
		m.maxLines = DefaultMultilineMaxLines
	}
	if m.maxBytes <= 0 {
		m.maxBytes = DefaultMultilineMaxBytes
	}
	return m, nil
}

// continuation appends the lines after the entry just parsed into r.rec up
// to the next start line, which it holds back for the next advance. Lines
// beyond the bounds are dropped and the entry counted once as cut. Blank
// lines inside an entry are kept; trailing ones are trimmed.
func (r *fileReader) continuation(first int64) error {
	ml := r.src.ml
	var (
		b      strings.Builder
		lines  = 1
		cut    bool
		blanks int // blank lines not yet known to be inside the entry
		size   = len(r.rec.Message)
	)
	for {
		s, blank, ok, err := r.nextText()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if blank {
			blanks++
			continue
		}
		if ml.start.MatchString(s) {
			r.held, r.heldText, r.heldLine, r.heldOffset = true, s, r.line, r.lineStart
			break
		}
		if cut {
			continue
		}
		add := blanks + 1
		if lines+add > ml.maxLines || size+blanks+1+len(s) > ml.maxBytes {
			cut = true
			continue
		}
		if b.Len() == 0 {
			b.WriteString(r.rec.Message)
		}
		for ; blanks > 0; blanks-- {
			b.WriteByte('\n')
		}
		b.WriteByte('\n')
		b.WriteString(s)
		lines += add
		size = b.Len()
	}
	if b.Len() > 0 {
		r.rec.Message = b.String()
	}
	if cut {
		r.src.problems.Add(r.src.input, fmt.Sprintf("%s:%d", r.base, first), reasonMultilineCut,
			fmt.Sprintf("entry longer than %d lines or %d bytes; the rest was dropped (raise multiline.max_lines / max_bytes)", ml.maxLines, ml.maxBytes))
	}
	return nil
}
