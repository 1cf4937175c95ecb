package runner

import (
	"sort"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/align"
	"github.com/opsdata/opsdata/pipeline/write"
	"github.com/opsdata/opsdata/schemas"
)

func (e *export) windowsDay(table *align.WindowTable, day pipeline.Grid, frame *align.Frame) error {
	w, err := write.CreateDynamic(e.staging, write.PartPath(schemas.TableWindows, pipeline.Date(day.Start), 0), table.Type(), write.WindowsRowGroups(day.Len()), "entity", "window_start")
	if err != nil {
		return err
	}
	// Labels once per entity and day: the rows and the phase counts of
	// the label summary both read them; the checkpoint keeps their digest.
	labels, phases := e.dayLabels(day, e.entities) // checkpoint.go
	for p, n := range phases {
		e.phases[p] += n
	}
	e.days[pipeline.Date(day.Start)] = dayCheckpoint{Entities: e.entities, Labels: labelsDigest(e.entities, labels), Phases: phases}
	err = frame.Rows(table, e.entity, func(entity string) []schemas.WindowLabels { return labels[entity] }, func(row any) error {
		return w.Write(row)
	})
	if err != nil {
		w.Abort()
		return err
	}
	e.rows[schemas.TableWindows] += w.Rows()
	return w.Close()
}

func (e *export) writeTables() error {
	if len(e.series) > 0 {
		n, err := write.Table(e.staging, write.PartPath(schemas.TableSeries, "", 0), e.series, "series_id")
		if err != nil {
			return err
		}
		e.rows[schemas.TableSeries] = n
	}
	tickets := make([]schemas.Ticket, 0, len(e.tickets))
	for _, t := range e.tickets {
		ents := e.publishedEntities(t.Entities)
		tickets = append(tickets, schemas.Ticket{
			TicketID: e.publishedID(t.ID), Source: t.Source, Title: e.anon.Column("tickets.title", t.Title), Body: e.anon.Column("tickets.body", t.Body),
			Status: e.ticketStatus(t), Severity: ticketSeverity(t), Created: t.Created.UTC(),
			ImpactStart: utcPtr(t.ImpactStart), Resolved: utcPtr(t.Resolved), Entities: ents,
		})
	}
	// The table is declared sorted by ticket_id: sources read in start order.
	sort.SliceStable(tickets, func(i, j int) bool {
		if tickets[i].TicketID != tickets[j].TicketID {
			return tickets[i].TicketID < tickets[j].TicketID
		}
		return tickets[i].Source < tickets[j].Source
	})
	n, err := write.Table(e.staging, write.PartPath(schemas.TableTickets, "", 0), tickets, "ticket_id")
	if err != nil {
		return err
	}
	e.rows[schemas.TableTickets] = n
	incidents := make([]schemas.Incident, 0, len(e.incidents))
	for _, in := range e.incidents {
		incidents = append(incidents, schemas.Incident{
			IncidentID: in.ID, Entity: e.entity(in.Entity), Start: in.Start.UTC(), End: utcPtr(in.End), EffectEnd: utcPtr(in.EffectEnd),
			Severity: in.Severity, Type: e.anon.Column("incidents.type", in.Type), Source: in.Source, SourceID: in.SourceID, Confidence: in.Confidence,
			Title: e.anon.Column("incidents.title", in.Title),
		})
	}
	n, err = write.Table(e.staging, write.PartPath(schemas.TableIncidents, "", 0), incidents, "start", "entity")
	if err != nil {
		return err
	}
	e.rows[schemas.TableIncidents] = n
	return nil
}
