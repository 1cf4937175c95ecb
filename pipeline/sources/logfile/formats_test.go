package logfile

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// TestFormats reads the realistic samples in testdata/formats (one per
// format, each with its edge cases) and checks records and problems.
func TestFormats(t *testing.T) {
	// Syslog and klog infer the year from the file's modification time.
	mod := time.Date(2026, 1, 5, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		cfg     Config
		file    string
		want    []string
		reasons map[string]int64
	}{
		{
			name: "logfmt",
			cfg:  Config{Name: "lf", Format: "logfmt"},
			file: "app.logfmt",
			want: []string{
				`2026-01-05T10:00:00.123Z checkout info app.logfmt:1 "order placed"`,
				`2026-01-05T10:00:01Z checkout warn app.logfmt:2 "slow request \"GET /cart\""`,
				`2026-01-05T10:00:02Z cart error app.logfmt:3 "dial tcp 10.0.0.7:6379: connection refused"`,
				`2026-01-05T10:00:03Z cart debug app.logfmt:4 "epoch"`,
				`2026-01-05T09:59:00Z cart info app.logfmt:8 "out of order"`,
			},
			reasons: map[string]int64{"invalid_logfmt": 1, "missing_entity": 1, "missing_timestamp": 1, "out_of_order": 1},
		},
		{
			name: "syslog RFC 3164 and 5424, year inference over new year",
			cfg:  Config{Name: "sys", Format: "syslog", Timezone: "UTC"},
			file: "syslog.log",
			want: []string{
				`2025-10-11T22:14:15Z su error syslog.log:1 "'su root' failed for lonvick on /dev/pts/8"`,
				`2026-02-05T17:32:18Z sshd info syslog.log:2 "Accepted password for bob from 10.0.0.1 port 22 ssh2"`,
				`2026-12-31T23:59:59Z kernel other syslog.log:3 "[12345.678] eth0: link up"`,
				`2027-01-01T00:00:01Z CRON other syslog.log:4 "(root) CMD (run-parts /etc/cron.hourly)"`,
				`2026-01-05T10:00:00.003Z evntslog info syslog.log:6 "An application event log entry"`,
				`2026-01-05T09:00:01Z sshd info syslog.log:7 "pam_unix(sshd:session): session opened for user root"`,
			},
			reasons: map[string]int64{"bad_timestamp": 2, "missing_timestamp": 1, "out_of_order": 2},
		},
		{
			name: "klog",
			cfg:  Config{Name: "k", Format: "klog", Timezone: "UTC", Entity: "kubelet"},
			file: "kubelet.klog",
			want: []string{
				`2026-01-05T10:00:00.123456Z kubelet info kubelet.klog:1 "\"SyncLoop ADD\" source=\"api\" pods=[\"default/nginx-7c5b4f\"]"`,
				`2026-01-05T10:00:01.000001Z kubelet warn kubelet.klog:2 "k8s.io/client-go/informers: watch of *v1.Pod ended with: too old resource version: 123 (456)"`,
				`2026-01-05T10:00:02.5Z kubelet error kubelet.klog:3 "Error syncing pod 6d1f1c9e-1c2b-4a3f-9d8e-123456789abc, skipping: failed to \"StartContainer\""`,
				`2026-01-05T10:00:03Z kubelet error kubelet.klog:4 "fatal: cannot bind 0.0.0.0:10250"`,
			},
			reasons: map[string]int64{"no_match": 2, "bad_timestamp": 1},
		},
		{
			name: "logpai format string (HDFS)",
			cfg: Config{Name: "hdfs", Format: "logpai", LogFormat: "<Date> <Time> <Pid> <Level> <Component>: <Content>",
				TimeLayout: "060102 150405", Timezone: "UTC", Fields: LogFields{Entity: "Component"}},
			file: "hdfs.log",
			want: []string{
				`2008-11-09T20:36:15Z dfs.DataNode$PacketResponder info hdfs.log:1 "PacketResponder 1 for block blk_38865049064139660 terminating"`,
				`2008-11-09T20:38:07Z dfs.DataNode$PacketResponder info hdfs.log:2 "Received block blk_-6952295868487656571 of size 67108864 from /10.251.39.242"`,
				`2008-11-09T20:40:05Z dfs.FSNamesystem info hdfs.log:3 "BLOCK* NameSystem.addStoredBlock: blockMap updated: 10.251.73.220:50010 is added to blk_7128370237687728475 size 67108864"`,
			},
			reasons: map[string]int64{"bad_timestamp": 1, "no_match": 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data, err := os.ReadFile(filepath.Join("testdata", "formats", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, tc.file)
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(p, mod, mod); err != nil {
				t.Fatal(err)
			}
			cfg := tc.cfg
			cfg.Path = filepath.Join(dir, "*")
			problems := &pipeline.Problems{}
			var got []string
			for _, r := range readAllUnsorted(t, cfg, problems) {
				got = append(got, rec(r))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			gotReasons := map[string]int64{}
			for _, ip := range problems.Report() {
				for reason, r := range ip.Reasons {
					gotReasons[reason] += r
				}
			}
			if !reflect.DeepEqual(gotReasons, tc.reasons) {
				t.Errorf("reasons %v, want %v", gotReasons, tc.reasons)
			}
		})
	}
}

// readAllUnsorted reads a one-file source (records stay in file order).
func readAllUnsorted(t *testing.T, cfg Config, problems *pipeline.Problems) []pipeline.LogRecord {
	return readAll(t, cfg, problems)
}

func TestCompileLogFormat(t *testing.T) {
	tests := []struct {
		format, line string
		want         map[string]string
		bad          bool
	}{
		{format: "<Date> <Time> <Level> <Component>: <Content>", line: "2015-07-29 17:41:44,747 INFO  org.apache.zookeeper.server.quorum.QuorumCnxManager: Received connection request /10.10.34.11:45307",
			want: map[string]string{"Date": "2015-07-29", "Time": "17:41:44,747", "Level": "INFO", "Component": "org.apache.zookeeper.server.quorum.QuorumCnxManager", "Content": "Received connection request /10.10.34.11:45307"}},
		{format: "[<Time>] [<Level>] <Content>", line: "[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
			want: map[string]string{"Time": "Sun Dec 04 04:47:44 2005", "Level": "notice", "Content": "workerEnv.init() ok /etc/httpd/conf/workers2.properties"}},
		{format: "<Month>  <Day> <Time> <Component>[<Pid>]: <Content>", line: "Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
			want: map[string]string{"Month": "Dec", "Day": "10", "Time": "06:55:46", "Component": "LabSZ sshd", "Pid": "24200", "Content": "reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!"}},
		{format: "<Date> <Time>", bad: true},
		{format: "no fields", bad: true},
		{format: "<Content> <Content>", bad: true},
	}
	for _, tc := range tests {
		re, _, err := CompileLogFormat(tc.format)
		if tc.bad {
			if err == nil {
				t.Errorf("%q: no error", tc.format)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		m := re.FindStringSubmatch(tc.line)
		if m == nil {
			t.Fatalf("%q does not match %q (%s)", tc.format, tc.line, re)
		}
		for name, want := range tc.want {
			if got := m[re.SubexpIndex(name)]; got != want {
				t.Errorf("%q %s = %q, want %q", tc.format, name, got, want)
			}
		}
	}
}
