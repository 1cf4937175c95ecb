package ticketfile

import (
	"slices"
	"strings"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// Start is when a ticket's impact began: ImpactStart if set, else Created.
func Start(t pipeline.Ticket) time.Time {
	if t.ImpactStart != nil {
		return *t.ImpactStart
	}
	return t.Created
}

// SortTickets orders tickets by (Start, ID, Where), the order every ticket
// source returns them in.
func SortTickets(ts []pipeline.Ticket) {
	slices.SortFunc(ts, func(a, b pipeline.Ticket) int {
		if c := Start(a).Compare(Start(b)); c != 0 {
			return c
		}
		if c := strings.Compare(a.ID, b.ID); c != 0 {
			return c
		}
		return strings.Compare(a.Where, b.Where)
	})
}
