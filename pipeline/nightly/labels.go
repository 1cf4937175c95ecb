package nightly

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/opsdata/opsdata/schemas"
)

// labelColumns are the label columns of a windows row.
type labelColumns struct {
	WindowStart time.Time `parquet:"window_start,timestamp(millisecond)"`
	Entity      string    `parquet:"entity"`
	Active      bool      `parquet:"incident_active"`
	IDs         []string  `parquet:"incident_ids,list"`
	Severity    *string   `parquet:"severity,optional"`
	Phase       string    `parquet:"phase"`
	Minutes     *float64  `parquet:"minutes_to_next_incident,optional"`
}

// labelDigests digests the label columns of every day's windows file in
// the staged export dir; a file carried unchanged from the previous
// snapshot (not staged) keeps its digest from prev.
func labelDigests(dir string, m *schemas.Manifest, prev map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for _, f := range m.Files {
		d, ok := strings.CutPrefix(f.Partition, "date=")
		if f.Table != schemas.TableWindows || !ok {
			continue
		}
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) && prev[d] != "" {
			out[d] = prev[d]
			continue
		}
		rows, err := parquet.ReadFile[labelColumns](p)
		if err != nil {
			return nil, fmt.Errorf("label digest of %s: %w", f.Path, err)
		}
		h, hm := sha256.New(), sha256.New()
		for _, r := range rows {
			sev, min := "", "-"
			if r.Severity != nil {
				sev = *r.Severity
			}
			if r.Minutes != nil {
				min = fmt.Sprint(*r.Minutes)
			}
			fmt.Fprintf(h, "%d\x00%s\x00%v\x00%s\x00%s\x00%s\n", r.WindowStart.UnixMilli(), r.Entity, r.Active, strings.Join(r.IDs, ","), sev, r.Phase)
			fmt.Fprintf(hm, "%d\x00%s\x00%s\n", r.WindowStart.UnixMilli(), r.Entity, min)
		}
		// core:minutes, so the changelog can say which moved.
		out[d] += hex.EncodeToString(h.Sum(nil))[:32] + ":" + hex.EncodeToString(hm.Sum(nil))[:32]
	}
	return out, nil
}
