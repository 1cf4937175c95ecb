package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/opsdata/opsdata/internal/benchutil"
)

// hdfsFormat is HDFS's log format in Loghub/logparser's benchmark settings.
const hdfsFormat = "<Date> <Time> <Pid> <Level> <Component>: <Content>"

// writeHDFSLike writes n lines in the shape of Loghub's HDFS log: its
// frequent statements, block ids, data node addresses and sizes.
func writeHDFSLike(w io.Writer, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(13, 13))
	ip := func() string { return fmt.Sprintf("10.25%d.%d.%d", r.IntN(2), r.IntN(256), r.IntN(256)) }
	blk := func() string { return fmt.Sprintf("blk_%d", r.Int64()-r.Int64()) }
	for i := 0; i < n; i++ {
		sec := i / 40
		fmt.Fprintf(bw, "0811%02d %02d%02d%02d %d ", 9+sec/86400%20, sec/3600%24, sec/60%60, sec%60, 10+r.IntN(30000))
		switch k := r.IntN(20); {
		case k < 5:
			fmt.Fprintf(bw, "INFO dfs.DataNode$DataXceiver: Receiving block %s src: /%s:%d dest: /%s:50010\n", blk(), ip(), 30000+r.IntN(30000), ip())
		case k < 9:
			fmt.Fprintf(bw, "INFO dfs.DataNode$PacketResponder: PacketResponder %d for block %s terminating\n", r.IntN(3), blk())
		case k < 13:
			fmt.Fprintf(bw, "INFO dfs.DataNode$PacketResponder: Received block %s of size %d from /%s\n", blk(), 1+r.IntN(67108864), ip())
		case k < 16:
			fmt.Fprintf(bw, "INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: %s:50010 is added to %s size %d\n", ip(), blk(), 1+r.IntN(67108864))
		case k < 17:
			fmt.Fprintf(bw, "INFO dfs.FSNamesystem: BLOCK* NameSystem.allocateBlock: /user/root/rand/_temporary/_task_200811092030_0001_m_%06d_0/part-%05d. %s\n", r.IntN(2000), r.IntN(2000), blk())
		case k < 18:
			fmt.Fprintf(bw, "INFO dfs.DataNode$DataXceiver: %s:50010 Served block %s to /%s\n", ip(), blk(), ip())
		case k < 19:
			fmt.Fprintf(bw, "WARN dfs.DataNode$DataXceiver: %s:50010:Got exception while serving %s to /%s:\n", ip(), blk(), ip())
		default:
			fmt.Fprintf(bw, "INFO dfs.FSDataset: Deleting block %s file /mnt/hadoop/dfs/data/current/subdir%d/%s\n", blk(), r.IntN(64), blk())
		}
	}
	return bw.Flush()
}

// TestWriteHDFSLike writes the benchmark's file where OPSDATA_HDFS_OUT
// says (scripts/miner_bench.sh times Drain3 on the same file).
func TestWriteHDFSLike(t *testing.T) {
	out := os.Getenv("OPSDATA_HDFS_OUT")
	if out == "" {
		t.Skip("OPSDATA_HDFS_OUT not set")
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeHDFSLike(f, 1_000_000); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkTemplatesHDFS runs `opsdata templates` (logpai format, HDFS's
// log format, default masks and miner) over a generated 1M-line HDFS-like
// file, writing the per-line CSV to a file. Reports lines/s.
func BenchmarkTemplatesHDFS(b *testing.B) {
	const n = 1_000_000
	dir := b.TempDir()
	path := filepath.Join(dir, "hdfs.log")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := writeHDFSLike(f, n); err != nil {
		b.Fatal(err)
	}
	f.Close()
	o := templatesOptions{input: path, format: "logpai", logFormat: hdfsFormat, timeLayout: "060102 150405", timezone: "UTC",
		out: filepath.Join(dir, "lines.csv")}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := runTemplates(context.Background(), o, nil, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	benchutil.Report(b, float64(n*b.N), "lines")
}
