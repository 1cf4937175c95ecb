package manual

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/pipelinetest"
)

var (
	m0   = pipelinetest.T0
	mAt  = pipelinetest.At
	mAtp = pipelinetest.AtP
)

func TestManualLabeler(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	grid, _ := pipeline.NewGrid(m0, mAt(120), time.Minute)
	in := pipeline.LabelInput{Grid: grid, EntityLabel: "service"}
	tests := []struct {
		name, file, body, tz string
		wantErr              error
		errText              string
		want                 []string // entity@start
	}{
		{name: "yaml zone", file: "a.yaml", body: "timezone: Europe/Berlin\nincidents:\n  - {id: pm1, entity: cart, start: '2026-01-05 01:10:00', end: '2026-01-05 01:20:00'}\n",
			want: []string{"cart@2026-01-05T00:10:00Z"}},
		{name: "json series", file: "b.json", body: `[{"id":"x","series":"{service=\"auth\",instance=\"i\"}","start":"2026-01-05T00:05:00Z"}]`,
			want: []string{"auth@2026-01-05T00:05:00Z"}},
		{name: "csv spec zone", file: "c.csv", tz: "America/New_York", body: "id,entities,start\n", errText: "unknown column"},
		{name: "csv", file: "d.csv", tz: "America/New_York", body: "id,entity,start,end\nq,cart,2026-01-04 19:30:00,\n",
			want: []string{"cart@2026-01-05T00:30:00Z"}},
		{name: "naive without zone", file: "e.yaml", body: "incidents:\n  - {id: n, entity: a, start: '2026-01-05 01:10:00'}\n", wantErr: ErrNaiveTime},
		{name: "no entity", file: "f.yaml", body: "incidents:\n  - {id: n, start: '2026-01-05T01:10:00Z'}\n", errText: "f.yaml:2: incident \"n\": no entity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := write(tc.file, tc.body)
			l, err := NewManualLabeler(Config{Path: p, Timezone: tc.tz})
			if err != nil {
				t.Fatal(err)
			}
			got, err := l.Incidents(context.Background(), in)
			switch {
			case tc.wantErr != nil || tc.errText != "":
				if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || (tc.errText != "" && !strings.Contains(err.Error(), tc.errText)) {
					t.Fatalf("err %v, want %v %q", err, tc.wantErr, tc.errText)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			var s []string
			for _, g := range got {
				s = append(s, g.Entity+"@"+g.Start.Format(time.RFC3339))
				if g.Source != pipeline.SourceManual {
					t.Errorf("source %q", g.Source)
				}
			}
			if len(s) != len(tc.want) || (len(s) > 0 && s[0] != tc.want[0]) {
				t.Fatalf("got %v, want %v", s, tc.want)
			}
		})
	}
}
