package runner

// dayCounts counts a day's log lines per (window, entity, template) for
// log_counts. One map entry per line's key was the settle stage's largest
// cost on a realistic day: a million keys, and nearly every increment a
// cache miss. Lines come in time order but for a few late ones, so the
// current window's counts live in a small map that stays in cache; when a
// later window begins they move to a flat list, and a line of an earlier
// window (late) is counted in a map of its own.
type dayCounts struct {
	cur  int32            // the window of now; -1 before the first line
	now  map[uint64]int64 // entity<<32 | template → lines, in window cur
	done []dayCount       // finished windows, each key once
	late map[countKey]int64
}

type dayCount struct {
	key countKey
	n   int64
}

func newDayCounts() *dayCounts { return &dayCounts{cur: -1, now: map[uint64]int64{}} }

func (d *dayCounts) add(window, entity, tpl int32) {
	if window != d.cur {
		if window < d.cur {
			if d.late == nil {
				d.late = map[countKey]int64{}
			}
			d.late[countKey{window: window, entity: entity, tpl: tpl}]++
			return
		}
		d.flush()
		d.cur = window
	}
	d.now[uint64(uint32(entity))<<32|uint64(uint32(tpl))]++
}

// flush moves the current window's counts to done.
func (d *dayCounts) flush() {
	for k, n := range d.now {
		d.done = append(d.done, dayCount{countKey{window: d.cur, entity: int32(k >> 32), tpl: int32(uint32(k))}, n})
	}
	clear(d.now)
}

func (d *dayCounts) empty() bool { return len(d.done) == 0 && len(d.now) == 0 && len(d.late) == 0 }

// counts returns every key once with its lines, in no particular order.
func (d *dayCounts) counts() []dayCount {
	d.flush()
	if len(d.late) == 0 {
		return d.done
	}
	// Late lines of windows that also had lines in order: one key each.
	at := make(map[countKey]int, len(d.done))
	for i, c := range d.done {
		at[c.key] = i
	}
	for k, n := range d.late {
		if i, ok := at[k]; ok {
			d.done[i].n += n
		} else {
			d.done = append(d.done, dayCount{k, n})
		}
	}
	d.late = nil
	return d.done
}
