package anonymize

import (
	"reflect"
	"strings"
	"sync"

	"github.com/opsdata/opsdata/schemas"
)

// A learned value is weak when it cannot identify anyone: a common English
// word, a word of opsdata's own vocabulary (table, column and label words,
// phases, label sources), or too short (worthMatching). One log line such
// as "session closed user=window" must not teach the anonymizer that
// "window" is a secret to hunt for in every line and in the README: that
// line's occurrence is still pseudonymized where it was found, but a weak
// value is neither added to the text matcher nor searched for by the gate.
// The report counts weak values per type (ReportDoc.Weak), never their text.
//
// The classification depends on the value alone, so an attacker's line can
// make no distinctive identifier weak.

// commonWords are frequent English words that appear as values after
// "user", "host" and the like in real log lines, plus generic account names
// that identify nobody.
var commonWords = strings.Fields(`
about above access account action active admin administrator after again agent alert all also always
and anonymous another any api app application archive are area auth automation available away back
backend backup bad base batch because been before being below best between beyond bin block body
both bot box branch bridge broken browser buffer build bulk but cache call can cancel cannot card
case cause change channel check child class clean clear client close closed cloud cluster code
collector come command common complete config connection console consumer container content context
control controller core could count create created cron current customer daemon daily data database
date day debug default delete deploy deployment description details dev device did disabled disk
does done down driver during each edge else empty enabled end engine entry error event every example
exit expired export external failed false field file filter first flag for from front frontend full
gateway general get given global good group guest has have header health hello help here high hold
home host hourly how http https idle image import inbound info input inside instance internal into
invalid is item job just keep kernel key kind known last later leader least left level like limit
line link list listener live load local lock log logger login logout long look low main maintenance
make manager many master match may member memory message method metric metrics migration mode model
monitor monitoring more most mount much must name network never new next node nobody none normal not
nothing notice now null object off offline old once one online only open operator option order other
out outbound output over owner page panic parent part pass password path pending period ping pipeline
plan platform please pod policy pool port post primary private process producer profile program
proxy public pull push query queue quota range read ready real reason record redis refresh region
registry release remote replica report request required reset resource response rest result retry
return robot role root route rule run runner running same save scheduler scope search secondary
secret security see send sender server service session set setup shared shell should show shutdown
side sign signal since single size skip slave slow some source spare stage staging standard start
started state static status still stop storage stream string success such super support sync system
table take target task team temp template test tester testing than that the their them then there
these they thing this those through ticket time timeout token tool total trace traffic true type
unknown until update upload usage use used user users using valid value version very via view volume
wait want warn warning was watch web webhook were what when where which while who why will window
with within without worker write wrong www yes you your zone
`)

// ownWords are opsdata's own vocabulary beyond the schemas' column names.
var ownWords = strings.Fields(`
anomaly cause effect entity features feature grid incident incidents injected labels label manual
manifest pre_incident recovery phase rule rules severity samples series windows window_start
minutes_to_incident croissant readme license catalog latest dataset version versions opsdata
parquet schema templates template_id logs tickets alerts metrics pseudonym redacted
`)

var (
	vocabOnce sync.Once
	vocab     map[string]bool
)

// builtinVocab is commonWords, ownWords and every word of the published
// schemas' column names (split at '_').
func builtinVocab() map[string]bool {
	vocabOnce.Do(func() {
		vocab = map[string]bool{}
		for _, w := range append(append([]string{}, commonWords...), ownWords...) {
			vocab[w] = true
		}
		for _, row := range []any{schemas.WindowKey{}, schemas.WindowLogs{}, schemas.WindowLabels{}, schemas.Metric{},
			schemas.Series{}, schemas.Log{}, schemas.Ticket{}, schemas.Incident{}, schemas.Sample{}, schemas.RawSeries{},
			schemas.LogTemplate{}, schemas.LogCount{}} {
			for _, w := range columnWords(reflect.TypeOf(row)) {
				vocab[w] = true
			}
		}
		for t := range schemas.Versions {
			addWords(vocab, t)
		}
		for _, p := range []string{schemas.PhaseNormal, schemas.PhasePreIncident, schemas.PhaseIncident, schemas.PhaseRecovery} {
			addWords(vocab, p)
		}
	})
	return vocab
}

func columnWords(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous && f.Type.Kind() == reflect.Struct {
			out = append(out, columnWords(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("parquet"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, name)
		out = append(out, strings.Split(name, "_")...)
	}
	return out
}

func addWords(m map[string]bool, s string) {
	s = strings.ToLower(s)
	m[s] = true
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == '_' || r == '.' || r == '-' || r == ' ' }) {
		m[w] = true
	}
}

// AddVocabulary declares more words of the dataset's own vocabulary (feature
// names, entity label names): learned values equal to one are weak.
func (a *Anonymizer) AddVocabulary(words ...string) {
	a.mu.Lock()
	for _, w := range words {
		addWords(a.vocab, w)
	}
	a.mu.Unlock()
}

// weak says whether a trimmed raw value cannot identify anyone (see the top
// of this file). Called with a.mu held (either mode).
func (a *Anonymizer) weak(raw string) bool {
	if !worthMatching(raw) {
		return true
	}
	w := strings.ToLower(raw)
	return builtinVocab()[w] || a.vocab[w]
}
