package anonymize

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// coveredSet holds the keys of the addresses and e-mails the detectors
// redacted. Only the gate and the state read it, so a scrub does not look
// a key up, it only appends it: a day's million random client addresses
// made a map lookup and a map insert per address, each a cache miss, about
// 5% of the logs path. The appended keys are folded into a sorted, unique
// slice once there are as many of them (at least foldMin), and before any
// read. It has a lock of its own: Settle appends for every other line of
// an access log, and taking the anonymizer's lock as often stalled the
// scrubs reading under it.
type coveredSet struct {
	mu     sync.RWMutex
	sorted []uint64 // sorted, unique
	log    []uint64 // added since the last fold: any order, repeats
	// dirty is len(log) > 0 and size len(sorted), read without the lock:
	// the gate asks before every cell it checks.
	dirty atomic.Bool
	size  atomic.Int64
}

// foldMin is the fewest appended keys folded at once: 8 MiB.
const foldMin = 1 << 20

// add records the keys.
func (c *coveredSet) add(ks ...uint64) {
	if len(ks) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, ks...)
	c.dirty.Store(true)
	if len(c.log) >= max(foldMin, len(c.sorted)) {
		c.foldLocked()
	}
}

// fold merges what was added into sorted, for the readers.
func (c *coveredSet) fold() {
	if c.dirty.Load() {
		c.mu.Lock()
		c.foldLocked()
		c.mu.Unlock()
	}
}

func (c *coveredSet) foldLocked() {
	if len(c.log) == 0 {
		return
	}
	slices.Sort(c.log)
	c.log = slices.Compact(c.log)
	merged := make([]uint64, 0, len(c.sorted)+len(c.log))
	i, j := 0, 0
	for i < len(c.sorted) && j < len(c.log) {
		switch x, y := c.sorted[i], c.log[j]; {
		case x < y:
			merged = append(merged, x)
			i++
		case y < x:
			merged = append(merged, y)
			j++
		default:
			merged = append(merged, x)
			i, j = i+1, j+1
		}
	}
	merged = append(append(merged, c.sorted[i:]...), c.log[j:]...)
	c.sorted, c.log = merged, c.log[:0]
	c.size.Store(int64(len(merged)))
	c.dirty.Store(false)
}

// has says whether k was added.
func (c *coveredSet) has(k uint64) bool {
	c.fold()
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := slices.BinarySearch(c.sorted, k)
	return ok
}

// keys returns every key added, sorted.
func (c *coveredSet) keys() []uint64 {
	c.fold()
	c.mu.RLock()
	defer c.mu.RUnlock()
	return slices.Clone(c.sorted)
}

// restore sets the keys (sorted, unique) of a set nothing was added to.
func (c *coveredSet) restore(keys []uint64) {
	c.mu.Lock()
	c.sorted = slices.Clone(keys)
	c.size.Store(int64(len(keys)))
	c.mu.Unlock()
}

func (c *coveredSet) empty() bool { return !c.dirty.Load() && c.size.Load() == 0 }

// coveredKey is the hash under which a detector-redacted address or e-mail
// is remembered: addresses in canonical form (so 2001:DB8::1 and
// 2001:db8:0::1 are one), e-mails lower-cased.
func coveredKey(raw string) (uint64, bool) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return 0, false
	}
	if addr, err := netip.ParseAddr(strings.Trim(raw, "[]")); err == nil {
		return addrKey(addr), true
	}
	if ap, err := netip.ParseAddrPort(raw); err == nil {
		return addrKey(ap.Addr()), true
	}
	if strings.Contains(raw, "@") {
		return fnv64a(fnv64a(fnvOffset64, "email\x00"), strings.ToLower(raw)), true
	}
	return 0, false
}

// addrKey is FNV-1a of "ip\x00" and the address in canonical form, as
// hash/fnv would compute it, without its allocations: every address a
// log line holds passes here.
func addrKey(addr netip.Addr) uint64 {
	var buf [48]byte
	b := addr.WithZone("").AppendTo(buf[:0])
	return fnv64a(fnv64a(fnvOffset64, "ip\x00"), unsafe.String(unsafe.SliceData(b), len(b)))
}

const (
	fnvOffset64 = 14695981039346656037
	fnvPrime64  = 1099511628211
)

// fnv64a continues an FNV-1a hash over s.
func fnv64a(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime64
	}
	return h
}

// CoveredScan reports whether b holds an address or e-mail that a detector
// redacted during the run, and a masked form of it for the report. It finds
// addresses by shape (runs of hex digits, dots and colons; every window of
// four dotted groups for IPv4, so an address glued into a longer dotted
// run is still found) and e-mails by the e-mail detector's pattern.
func (a *Anonymizer) CoveredScan(b []byte) (string, bool) {
	if a.covered.empty() {
		return "", false
	}
	check := func(cand string) (string, bool) {
		k, ok := coveredKey(cand)
		if !ok {
			return "", false
		}
		if a.covered.has(k) {
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
		raw := b[i:j]
		i = j
		// Most runs are bits of words ("cafe", "12ms"): with fewer than
		// two colons and three dots before trimming, none is an address,
		// and making it a string cost an allocation a run.
		if bytes.Count(raw, []byte(":")) < 2 && bytes.Count(raw, []byte(".")) < 3 {
			continue
		}
		run := strings.Trim(string(raw), ".:")
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
