package anonymize

import (
	"strings"

	"github.com/opsdata/opsdata/internal/k8sname"
)

// Kubernetes generated names and home-directory user names in free text.
//
// A name counts only when its shape is unmistakable or its base is a known
// workload:
//   - ReplicaSet pods: <deployment>-<pod-template-hash>-<5>, both suffixes
//     in Kubernetes' safe alphabet (no vowels, no 0 1 3), the hash 6–10
//     long: checkout-7d9f8b6c5-x2x9z;
//   - node names of the managed clouds: gke-<cluster>-<pool>-<8 hex>-<4>,
//     aks-<pool>-<8 digits>-vmss<6>, ip-10-0-1-23 (EKS; an address in it);
//   - StatefulSet (web-0) and DaemonSet/Job (fluentd-x2x9z) pods only when
//     the base is a known workload: one AddWorkloads declared, or the
//     deployment of a ReplicaSet pod seen before. "step-2" stays prose.

func allDigits(s string) bool { return k8sname.AllIn(s, "0123456789") }

// AddWorkloads declares workload names (deployments, statefulsets,
// daemonsets: usually the service names) whose pods' generated names are
// pseudonymized in free text (web-0, fluentd-x2x9z).
func (a *Anonymizer) AddWorkloads(names ...string) {
	a.mu.Lock()
	for _, n := range names {
		if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
			a.workloads[n] = true
		}
	}
	a.mu.Unlock()
}

func (a *Anonymizer) knownWorkload(base string) bool {
	a.mu.RLock()
	ok := a.workloads[base]
	a.mu.RUnlock()
	return ok
}

// k8sKind classifies a lower-case dash-separated token: TypePod, TypeHost
// or "" (not a generated name). It may record the deployment of a
// ReplicaSet pod as a known workload.
func (a *Anonymizer) k8sKind(tok string) string {
	parts := strings.Split(tok, "-")
	n := len(parts)
	if n < 2 {
		return ""
	}
	for _, p := range parts {
		if p == "" {
			return ""
		}
	}
	last := parts[n-1]
	switch {
	case n >= 3 && k8sname.IsSuffix(last) && k8sname.IsTemplateHash(parts[n-2]):
		if base := strings.Join(parts[:n-2], "-"); !a.knownWorkload(base) {
			a.AddWorkloads(base)
		}
		return TypePod
	case parts[0] == "gke" && n >= 5 && len(parts[n-2]) == 8 && k8sname.AllIn(parts[n-2], "0123456789abcdef") && len(last) == 4:
		return TypeHost
	case parts[0] == "aks" && n >= 4 && strings.HasPrefix(last, "vmss") && len(parts[n-2]) == 8 && allDigits(parts[n-2]):
		return TypeHost
	case parts[0] == "ip" && n == 5 && allDigits(parts[1]) && allDigits(parts[2]) && allDigits(parts[3]) && allDigits(parts[4]):
		return TypeHost
	}
	base := strings.Join(parts[:n-1], "-")
	if (allDigits(last) && len(last) <= 4 || k8sname.IsSuffix(last)) && a.knownWorkload(base) {
		return TypePod
	}
	return ""
}

func isK8sByte(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' }

// scrubK8sNames pseudonymizes generated pod and node names: maximal runs
// of [a-z0-9-] not glued to other name characters (upper case, '_', '.'
// that continues a name, '/' of a path segment is fine).
func scrubK8sNames(a *Anonymizer, s string, st *stats) string {
	var spans []span
	var types []string
	for i := 0; i < len(s); {
		if !isK8sByte(s[i]) {
			i++
			continue
		}
		j := i
		for j < len(s) && isK8sByte(s[j]) {
			j++
		}
		start, end := i, j
		i = j
		if strings.IndexByte(s[start:end], '-') < 0 {
			continue
		}
		if start > 0 && (isWordByte(s[start-1]) || s[start-1] == '.') {
			continue
		}
		if end < len(s) && isWordByte(s[end]) {
			continue
		}
		tok := s[start:end]
		if end < len(s) && s[end] == '.' && end+1 < len(s) && isWordByte(s[end+1]) {
			// A longer dotted name: only a node name by shape takes it
			// whole (ip-10-0-1-23.ec2.internal).
			if a.k8sKind(tok) != TypeHost {
				continue
			}
			for end < len(s) && (isK8sByte(s[end]) || s[end] == '.' && end+1 < len(s) && isK8sByte(s[end+1])) {
				end++
			}
			i = end
			tok = s[start:end]
			spans = append(spans, span{start, end})
			types = append(types, TypeHost)
			continue
		}
		if a.isIssued(tok) {
			continue
		}
		if typ := a.k8sKind(tok); typ != "" {
			spans = append(spans, span{start, end})
			types = append(types, typ)
		}
	}
	k := 0
	return replaceSpans(s, spans, func(raw string) string {
		typ := types[k]
		k++
		st.add("pseudonymize:" + typ)
		return a.learnFound(st, typ, raw)
	})
}

// scrubTildeUsers pseudonymizes ~user (a home directory: ~carol/, the
// URL form https://host/~carol) as a user name.
func scrubTildeUsers(a *Anonymizer, s string, st *stats) string {
	var spans []span
	for i := 0; i < len(s); i++ {
		if s[i] != '~' || i > 0 && !strings.ContainsRune(" \t\"'=:(/,[", rune(s[i-1])) {
			continue
		}
		j := i + 1
		for j < len(s) && (isWordByte(s[j]) && s[j] < 0x80 || s[j] == '.' || s[j] == '-') {
			j++
		}
		for j > i+1 && (s[j-1] == '.' || s[j-1] == '-') {
			j--
		}
		name := s[i+1 : j]
		if len(name) < 2 || !isLetter(name[0]) || a.isIssued(name) {
			continue
		}
		if j < len(s) && !strings.ContainsRune(" \t\"'/,;:)]\n", rune(s[j])) {
			continue
		}
		spans = append(spans, span{i + 1, j})
		i = j
	}
	return replaceSpans(s, spans, func(raw string) string {
		st.add("pseudonymize:" + TypeUser)
		return a.learn(st, TypeUser, raw)
	})
}
