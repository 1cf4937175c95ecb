package anonymize

import (
	"bytes"
	"hash/fnv"
	"net/netip"
	"strings"
)

// coveredKey is the hash under which a detector-redacted address or e-mail
// is remembered: addresses in canonical form (so 2001:DB8::1 and
// 2001:db8:0::1 are one), e-mails lower-cased.
func coveredKey(raw string) (uint64, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, false
	}
	h := fnv.New64a()
	if addr, err := netip.ParseAddr(strings.Trim(raw, "[]")); err == nil {
		h.Write([]byte("ip\x00" + addr.WithZone("").String()))
		return h.Sum64(), true
	}
	if ap, err := netip.ParseAddrPort(raw); err == nil {
		h.Write([]byte("ip\x00" + ap.Addr().WithZone("").String()))
		return h.Sum64(), true
	}
	if strings.Contains(raw, "@") {
		h.Write([]byte("email\x00" + strings.ToLower(raw)))
		return h.Sum64(), true
	}
	return 0, false
}

// CoveredScan reports whether b holds an address or e-mail that a detector
// redacted during the run, and a masked form of it for the report. It finds
// addresses by shape (runs of hex digits, dots and colons; every window of
// four dotted groups for IPv4, so an address glued into a longer dotted
// run is still found) and e-mails by the e-mail detector's pattern.
func (a *Anonymizer) CoveredScan(b []byte) (string, bool) {
	a.mu.RLock()
	n := len(a.covered)
	a.mu.RUnlock()
	if n == 0 {
		return "", false
	}
	check := func(cand string) (string, bool) {
		k, ok := coveredKey(cand)
		if !ok {
			return "", false
		}
		a.mu.RLock()
		_, hit := a.covered[k]
		a.mu.RUnlock()
		if hit {
			return MaskNeedle(cand), true
		}
		return "", false
	}
	if bytes.IndexByte(b, '@') >= 0 {
		for _, m := range emailRe.FindAll(b, -1) {
			if masked, ok := check(string(m)); ok {
				return masked, true
			}
		}
	}
	isAddrByte := func(c byte) bool {
		return c == '.' || c == ':' || '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	for i := 0; i < len(b); {
		if !isAddrByte(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && isAddrByte(b[j]) {
			j++
		}
		run := strings.Trim(string(b[i:j]), ".:")
		i = j
		dots, colons := strings.Count(run, "."), strings.Count(run, ":")
		if colons >= 2 {
			if masked, ok := check(run); ok {
				return masked, true
			}
			// an IPv4-mapped or embedded IPv4 tail is checked below
		}
		if dots >= 3 {
			// IPv4, maybe with a port, maybe inside a longer dotted run
			for _, part := range strings.Split(run, ":") {
				groups := strings.Split(part, ".")
				for k := 0; k+4 <= len(groups); k++ {
					if masked, ok := check(strings.Join(groups[k:k+4], ".")); ok {
						return masked, true
					}
				}
			}
		}
	}
	return "", false
}
