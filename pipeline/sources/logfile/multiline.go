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
// lines inside an entry are kept; trailing ones are trimmed. entry is the
// entry's line as parsed: in a CRI file, the joined line, whose stream the
// entry keeps (continuation), and start is matched against the content.
func (r *fileReader) continuation(first int64, entry string) error {
	ml := r.src.ml
	var (
		b      strings.Builder
		lines  = 1
		cut    bool
		blanks int // blank lines not yet known to be inside the entry
		size   = len(r.rec.Message)
		stream = -1 // the entry's CRI stream
	)
	if r.cri != nil {
		_, stream, _, _, _ = criHeader(entry)
	}
	for {
		s, blank, ok, err := r.nextText()
		if err != nil {
			return err
		}
		if !ok {
			break // a CRI file's unfinished partial line is the next advance's
		}
		if blank {
			blanks++
			continue
		}
		line, start, text := r.line, r.lineStart, s
		if r.cri != nil {
			var joined bool
			if s, line, start, joined = r.joinCRI(s, line, start); !joined {
				continue // a partial line, held until its full line
			}
			_, st, _, content, valid := criHeader(s)
			if !valid || st != stream {
				// Not the entry's: the other stream, or a line the parser
				// reports.
				r.hold(s, line, start)
				break
			}
			if strings.TrimSpace(content) == "" {
				blanks++
				continue
			}
			text = content
		}
		if ml.start.MatchString(text) {
			r.hold(s, line, start)
			break
		}
		if cut {
			continue
		}
		add := blanks + 1
		if lines+add > ml.maxLines || size+blanks+1+len(text) > ml.maxBytes {
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
		b.WriteString(text)
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

// hold keeps the line s (line, start) back for the next advance: the next
// entry's first line.
func (r *fileReader) hold(s string, line, start int64) {
	r.held, r.heldText, r.heldLine, r.heldOffset = true, s, line, start
}
