package logfile

import (
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/opsdata/opsdata/internal/k8sname"
	"github.com/opsdata/opsdata/pipeline"
)

// FormatCRI is Kubernetes' container log format, as containerd and CRI-O
// write it under /var/log/pods for the kubelet:
//
//	2026-01-05T10:00:00.123456789Z stdout F the application's line
//
// The runtime splits a line longer than its buffer into partial (P)
// lines ended by a full (F) one; stdout and stderr share the file, so
// their partials interleave. The content is the application's own line:
// a JSON object (zap, logrus, slog…) gives its level, message and fields
// as JSON lines do, a klog line (Kubernetes' own components) its level and
// message; any other content is the message.
const FormatCRI = "cri"

// Problem reasons of the CRI format.
const (
	reasonInvalidCRI    = "invalid_cri"
	reasonUnfinishedCRI = "cri_partial_unfinished"
)

// What of a kubelet log path is the entity (entity_from_path).
const (
	criEntityWorkload    = "workload"
	criEntityNamespace   = "namespace"
	criEntityPod         = "pod"
	criEntityContainer   = "container"
	criEntityFromDefault = criEntityWorkload
)

// criEntityFrom are the values of entity_from_path.
var criEntityFrom = []string{criEntityWorkload, criEntityNamespace, criEntityPod, criEntityContainer}

// criHeader splits a CRI line into its time, stream (0 stdout, 1 stderr),
// whether it is partial, and its content. ok=false: not a CRI line.
func criHeader(line string) (ts string, stream int, partial bool, content string, ok bool) {
	sp := strings.IndexByte(line, ' ')
	if sp <= 0 {
		return "", 0, false, "", false
	}
	ts, rest := line[:sp], line[sp+1:]
	switch {
	case strings.HasPrefix(rest, "stdout "):
		stream, rest = 0, rest[len("stdout "):]
	case strings.HasPrefix(rest, "stderr "):
		stream, rest = 1, rest[len("stderr "):]
	default:
		return "", 0, false, "", false
	}
	// The tag: P or F, possibly followed by more ':'-separated tags.
	tag := rest
	if sp := strings.IndexByte(rest, ' '); sp >= 0 {
		tag, content = rest[:sp], rest[sp+1:]
	}
	if tag == "" || (tag[0] != 'P' && tag[0] != 'F') || (len(tag) > 1 && tag[1] != ':') {
		return "", 0, false, "", false
	}
	return ts, stream, tag[0] == 'P', content, true
}

// criJoiner joins each stream's partial lines to the full line that ends
// them. The joined line is the full line's header with the whole content:
// its time is when the line was complete, so the file's records stay in
// time order; its line number and offset are the first fragment's.
type criJoiner struct {
	pending [2]criPartial
}

type criPartial struct {
	content     []byte
	lastTS      string // the latest fragment's time
	line, start int64
	open, cut   bool
}

// add takes one line read; ok=false means it was a partial line, held
// until its stream's full line. cut reports a joined content over
// MaxLineBytes, whose excess was dropped.
func (j *criJoiner) add(s string, line, start int64) (out string, outLine, outStart int64, ok, cut bool) {
	ts, stream, partial, content, valid := criHeader(s)
	if !valid {
		return s, line, start, true, false // the parser reports it
	}
	p := &j.pending[stream]
	if partial {
		if !p.open {
			p.open, p.line, p.start, p.cut = true, line, start, false
			p.content = p.content[:0]
		}
		p.append(content)
		p.lastTS = strings.Clone(ts)
		return "", 0, 0, false, false
	}
	if !p.open {
		return s, line, start, true, false
	}
	p.append(content)
	head := s[:len(s)-len(content)]
	if !strings.HasSuffix(head, " ") {
		head += " " // a full line with no content ("<time> stdout F")
	}
	out = head + string(p.content)
	p.open = false
	return out, p.line, p.start, true, p.cut
}

func (p *criPartial) append(content string) {
	if room := MaxLineBytes - len(p.content); len(content) > room {
		room = max(room, 0)
		for room > 0 && !utf8.RuneStart(content[room]) {
			room-- // cut between characters
		}
		content, p.cut = content[:room], true
	}
	p.content = append(p.content, content...)
}

// flush returns a partial line the file ended in (the rest may be in the
// next, rotated file), as a full line with the last fragment's header.
func (j *criJoiner) flush() (out string, line, start int64, ok bool) {
	first := -1
	for i := range j.pending {
		if j.pending[i].open && (first < 0 || j.pending[i].line < j.pending[first].line) {
			first = i
		}
	}
	if first < 0 {
		return "", 0, 0, false
	}
	p := &j.pending[first]
	p.open = false
	stream := "stdout"
	if first == 1 {
		stream = "stderr"
	}
	return p.lastTS + " " + stream + " F " + string(p.content), p.line, p.start, true
}

// criParser reads one file's (joined) CRI lines.
type criParser struct {
	json   *jsonParser // JSON content
	klog   klogParser
	fixed  string // the spec's entity:
	from   string // entity_from_path
	entity string // this file's entity: fixed, or from its path
}

func newCRIParser(cfg Config, fields *fieldSelection) *criParser {
	fc := fieldsConfig{
		level:   keysOr(cfg.Fields.Level, defaultLevelKeys),
		message: keysOr(cfg.Fields.Message, defaultMessageKeys),
	}
	if cfg.Fields.Entity != "" {
		fc.entity = []string{cfg.Fields.Entity}
	}
	from := cfg.EntityFromPath
	if from == "" {
		from = criEntityFromDefault
	}
	jp := newJSONParser(fc, cfg.Entity, nil, fields)
	jp.timeGiven = true
	return &criParser{json: jp, klog: klogParser{loc: time.UTC}, fixed: cfg.Entity, from: from, entity: cfg.Entity}
}

func (p *criParser) setFile(path string, _ time.Time) {
	p.entity = p.fixed
	if p.entity == "" {
		p.entity = podLogEntity(path, p.from)
	}
	p.json.entity = p.entity
}

func (p *criParser) parse(line string, rec *pipeline.LogRecord) (problem, bool) {
	ts, _, _, content, ok := criHeader(line)
	if !ok {
		return problem{reasonInvalidCRI, "not a CRI log line (<RFC 3339 time> stdout|stderr P|F <content>)"}, false
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return problem{reasonBadTime, "bad CRI timestamp " + pipeline.DescribeShape(ts)}, false
	}
	rec.Time = t.UTC()
	if len(content) > 1 && content[0] == '{' {
		if prob, ok := p.json.parse(content, rec); ok {
			return problem{}, true
		} else if prob.reason == reasonMissingEntity {
			return p.noEntity()
		}
		// Not a JSON object after all: the content is the message.
	}
	if len(content) > 22 && content[5] == ' ' && strings.IndexByte("IWEF", content[0]) >= 0 {
		if _, ok := p.klog.parse(content, rec); ok {
			rec.Time = t.UTC() // klog's has no year; the runtime's is exact
			rec.Entity = p.entity
			if rec.Entity == "" {
				return p.noEntity()
			}
			return problem{}, true
		}
	}
	// stderr says little about severity (many programs log everything
	// there), so it is not a level.
	rec.Message, rec.Fields, rec.Level = content, nil, pipeline.LevelOther
	rec.Entity = p.entity
	if rec.Entity == "" {
		return p.noEntity()
	}
	return problem{}, true
}

func (p *criParser) noEntity() (problem, bool) {
	return problem{reasonMissingEntity, "the file is not under a kubelet pod log path (/var/log/pods/<namespace>_<pod>_<uid>/<container>/N.log or /var/log/containers/<pod>_<namespace>_<container>-<id>.log); set entity or fields.entity"}, false
}

// podLogEntity is the entity a kubelet log path names: the pod's
// namespace, name, container or workload (the pod name without the
// suffixes its controller generated). "" when the path is not a pod log.
func podLogEntity(path, from string) string {
	ns, pod, container, ok := podLogPath(path)
	if !ok {
		return ""
	}
	switch from {
	case criEntityNamespace:
		return ns
	case criEntityPod:
		return pod
	case criEntityContainer:
		return container
	}
	return workloadOf(pod)
}

// podLogPath reads the kubelet's two layouts:
//
//	/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restarts>.log[.<rotation>][.gz]
//	/var/log/containers/<pod>_<namespace>_<container>-<container id>.log
//
// Namespaces, pod and container names are DNS labels or subdomains: no '_'.
func podLogPath(path string) (ns, pod, container string, ok bool) {
	dir := filepath.Dir(path)
	if parts := strings.Split(filepath.Base(filepath.Dir(dir)), "_"); len(parts) == 3 && parts[0] != "" && parts[1] != "" && isPodUID(parts[2]) {
		return parts[0], parts[1], filepath.Base(dir), true
	}
	base := filepath.Base(path)
	base = base[:strings.Index(base+".log", ".log")]
	if parts := strings.Split(base, "_"); len(parts) == 3 && parts[0] != "" && parts[1] != "" {
		c := parts[2]
		if i := strings.LastIndexByte(c, '-'); i > 0 && len(c)-i-1 == 64 && allHex(c[i+1:]) {
			return parts[1], parts[0], c[:i], true
		}
	}
	return "", "", "", false
}

// isPodUID: an API pod's UID (a UUID) or a static pod's config hash (32
// hex digits), so that a directory that merely has two '_' in its name
// (billing_api_v2) is not read as a pod's.
func isPodUID(s string) bool {
	if len(s) == 32 {
		return allHex(s)
	}
	return len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' &&
		allHex(s[:8]) && allHex(s[9:13]) && allHex(s[14:18]) && allHex(s[19:23]) && allHex(s[24:])
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !('0' <= s[i] && s[i] <= '9' || 'a' <= s[i] && s[i] <= 'f') {
			return false
		}
	}
	return s != ""
}

// workloadOf strips the suffixes a controller adds to its pods' names:
// a ReplicaSet's "-<pod-template-hash>-<5>" (checkout-7d9f8b6c5-x2x9z),
// a DaemonSet's or Job's "-<5>" (fluentd-x2x9z), a StatefulSet's
// "-<ordinal>" (web-0). Any other name is its own workload.
func workloadOf(pod string) string {
	parts := strings.Split(pod, "-")
	n := len(parts)
	switch {
	case n >= 3 && k8sname.IsSuffix(parts[n-1]) && k8sname.IsTemplateHash(parts[n-2]):
		return strings.Join(parts[:n-2], "-")
	case n >= 2 && k8sname.IsSuffix(parts[n-1]):
		return strings.Join(parts[:n-1], "-")
	case n >= 2 && isAllDigits(parts[n-1]) && !isAllDigits(parts[n-2]):
		// Not after another number: a static pod named after its node's
		// address (kube-apiserver-ip-10-0-1-23) stays whole.
		return strings.Join(parts[:n-1], "-")
	}
	return pod
}
