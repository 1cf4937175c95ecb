package pipeline

import (
	"fmt"
	"sort"
	"sync"

	"github.com/opsdata/opsdata/schemas"
)

// MaxProblemExamples is how many examples per input a report keeps.
const MaxProblemExamples = 5

// Problems counts malformed input records per input and reason, keeping the
// first few examples. Malformed records never stop a run; they are counted
// here and reported in the manifest, so nothing is dropped silently.
// Examples must not carry raw record content: say where and why.
type Problems struct {
	mu     sync.Mutex
	inputs map[string]*schemas.InputProblems
}

// Add records one malformed record of input at where (file:line) for reason.
func (p *Problems) Add(input, where, reason, detail string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	AddProblem(p.input(input), where, reason, detail)
}

// input is input's counts, created empty; the caller holds p.mu.
func (p *Problems) input(input string) *schemas.InputProblems {
	if p.inputs == nil {
		p.inputs = map[string]*schemas.InputProblems{}
	}
	ip := p.inputs[input]
	if ip == nil {
		ip = &schemas.InputProblems{Reasons: map[string]int64{}}
		p.inputs[input] = ip
	}
	return ip
}

// AddProblem counts one malformed record in ip, keeping the first
// MaxProblemExamples examples (where: reason: detail).
func AddProblem(ip *schemas.InputProblems, where, reason, detail string) {
	if ip.Reasons == nil {
		ip.Reasons = map[string]int64{}
	}
	ip.Count++
	ip.Reasons[reason]++
	if len(ip.Examples) < MaxProblemExamples {
		ex := fmt.Sprintf("%s: %s", where, reason)
		if detail != "" {
			ex += ": " + detail
		}
		ip.Examples = append(ip.Examples, ex)
	}
}

// MergeProblems adds src's counts and examples (up to the limit) to dst.
func MergeProblems(dst *schemas.InputProblems, src schemas.InputProblems) {
	if dst.Reasons == nil {
		dst.Reasons = map[string]int64{}
	}
	dst.Count += src.Count
	for k, n := range src.Reasons {
		dst.Reasons[k] += n
	}
	for _, ex := range src.Examples {
		if len(dst.Examples) < MaxProblemExamples {
			dst.Examples = append(dst.Examples, ex)
		}
	}
}

// Report returns a copy of the counts per input, safe to serialize.
func (p *Problems) Report() map[string]schemas.InputProblems {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]schemas.InputProblems, len(p.inputs))
	for k, v := range p.inputs {
		c := schemas.InputProblems{Count: v.Count, Reasons: map[string]int64{}, Examples: append([]string(nil), v.Examples...)}
		for r, n := range v.Reasons {
			c.Reasons[r] = n
		}
		out[k] = c
	}
	return out
}

// Total is the number of malformed records over all inputs.
func (p *Problems) Total() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var n int64
	for _, v := range p.inputs {
		n += v.Count
	}
	return n
}

// Inputs lists the inputs with problems, sorted.
func (p *Problems) Inputs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, 0, len(p.inputs))
	for k := range p.inputs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Restore adds what an earlier run reported for input (counts, reasons,
// examples up to the limit): a resumed export starts from its checkpoint's.
func (p *Problems) Restore(input string, r schemas.InputProblems) {
	p.mu.Lock()
	defer p.mu.Unlock()
	MergeProblems(p.input(input), r)
}
