package promblocks

import (
	"bytes"
	"context"
	"path"
	"testing"
	"time"
)

// The fingerprint moves exactly when the selected blocks do: a new block,
// a deletion mark; not when nothing changed, and not for a block the
// selection leaves out.
func TestFingerprint(t *testing.T) {
	st := fileStore(t)
	clusterA := haBucket(t, st, "fp")
	cfg := st.cfg("fp")
	cfg.ExternalLabels = `{cluster="a"}`
	cfg.ReplicaLabels = []string{"replica"}
	ctx := context.Background()
	fp := func() string {
		t.Helper()
		s, err := cfg.Fingerprint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := fp()
	if again := fp(); again != first {
		t.Fatal("fingerprint changed with nothing uploaded")
	}
	// A block of another cluster is outside the selection.
	dir := writeBlock(t, map[string][]sample{"__name__,other,instance,y,job,app": scrape(0, 2*time.Hour, 0, 15*time.Second, -1, -1)})
	upload(t, st.bkt, "fp", dir, blockID(t, "fp-c", t0.UnixMilli()), uploadOpts{ext: map[string]string{"cluster": "c", "replica": "r0"}})
	if fp() != first {
		t.Fatal("a block outside the selection changed the fingerprint")
	}
	upload(t, st.bkt, "fp", dir, blockID(t, "fp-a-new", t0.Add(4*time.Hour).UnixMilli()), uploadOpts{ext: map[string]string{"cluster": "a", "replica": "r0"}})
	second := fp()
	if second == first {
		t.Fatal("a new block of the selection left the fingerprint unchanged")
	}
	mark := path.Join("fp", clusterA[0], "deletion-mark.json")
	if err := st.bkt.Upload(ctx, mark, bytes.NewReader([]byte(`{"id":"`+clusterA[0]+`","deletion_time":1,"version":1}`))); err != nil {
		t.Fatal(err)
	}
	if fp() == second {
		t.Fatal("a deletion mark left the fingerprint unchanged")
	}
}
