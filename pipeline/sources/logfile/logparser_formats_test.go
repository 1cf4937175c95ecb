package logfile

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/opsdata/opsdata/pipeline"
)

// TestLogparserFormats: the log_format strings of Loghub/logparser's
// benchmark settings, as written there (regex escapes, optional groups),
// each with a line in its system's shape.
func TestLogparserFormats(t *testing.T) {
	tests := []struct {
		system, format, line, content string
		fields                        map[string]string
	}{
		{"HDFS", `<Date> <Time> <Pid> <Level> <Component>: <Content>`,
			"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
			"PacketResponder 1 for block blk_38865049064139660 terminating", map[string]string{"Pid": "148"}},
		{"Hadoop", `<Date> <Time> <Level> \[<Process>\] <Component>: <Content>`,
			"2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster for application appattempt_1445144423722_0020_000001",
			"Created MRAppMaster for application appattempt_1445144423722_0020_000001", map[string]string{"Process": "main"}},
		{"Spark", `<Date> <Time> <Level> <Component>: <Content>`,
			"17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
			"Registered signal handlers for [TERM, HUP, INT]", nil},
		{"Zookeeper", `<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>`,
			"2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200",
			"Notification time out: 3200", map[string]string{"Id": "774"}},
		{"BGL", `<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>`,
			"- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected",
			"instruction cache parity error corrected", map[string]string{"Timestamp": "1117838570"}},
		{"HPC", `<LogId> <Node> <Component> <State> <Time> <Flag> <Content>`,
			"460810 node-246 unix.hw state_change.unavailable 1077804742 1 Component State Change: Component \\042alt0\\042 is in the unavailable state (HWID=1213)",
			`Component State Change: Component \042alt0\042 is in the unavailable state (HWID=1213)`, map[string]string{"Time": "1077804742"}},
		{"Thunderbird", `<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>`,
			"- 1131566461 2005.11.09 dn228 Nov 9 12:01:01 dn228/dn228 crond(pam_unix)[2915]: session closed for user root",
			"session closed for user root", map[string]string{"PID": "2915", "Component": "crond(pam_unix)"}},
		{"Thunderbird without PID", `<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> <Component>(\[<PID>\])?: <Content>`,
			"- 1131566479 2005.11.09 tbird-admin1 Nov 9 12:01:19 local@tbird-admin1 postfix/postdrop: warning: unable to look up public/pickup",
			"warning: unable to look up public/pickup", map[string]string{"PID": ""}},
		{"Windows", `<Date> <Time>, <Level>                  <Component>    <Content>`,
			"2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 with Core",
			"Loaded Servicing Stack v6.1.7601.23505 with Core", map[string]string{"Level": "Info"}},
		{"Linux", `<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>`,
			"Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4",
			"authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4", map[string]string{"PID": "19939"}},
		{"Android", `<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>`,
			"03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogsopening app wtoken = AppWindowToken",
			"printFreezingDisplayLogsopening app wtoken = AppWindowToken", map[string]string{"Tid": "2395"}},
		{"HealthApp", `<Time>\|<Component>\|<Pid>\|<Content>`,
			"20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
			"onStandStepChanged 3579", map[string]string{"Component": "Step_LSC"}},
		{"Apache", `\[<Time>\] \[<Level>\] <Content>`,
			"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties",
			"workerEnv.init() ok /etc/httpd/conf/workers2.properties", map[string]string{"Level": "notice"}},
		{"Proxifier", `\[<Time>\] <Program> - <Content>`,
			"[10.30 16:49:06] chrome.exe - proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS",
			"proxy.cse.cuhk.edu.hk:5070 open through proxy proxy.cse.cuhk.edu.hk:5070 HTTPS", map[string]string{"Program": "chrome.exe"}},
		{"OpenSSH", `<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>`,
			"Dec 10 06:55:46 LabSZ sshd[24200]: reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!",
			"reverse mapping checking getaddrinfo for ns.marryaldkfaczcz.com [173.234.31.186] failed - POSSIBLE BREAK-IN ATTEMPT!", map[string]string{"Pid": "24200"}},
		{"OpenStack", `<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>`,
			`nova-api.log.1.2017-05-16_13:53:08 2017-05-16 00:00:00.008 25746 INFO nova.osapi_compute.wsgi.server [req-38101a0b-2096-447d-96ea-a692162415ae 113d3a99c3da401fbd62cc2caa5b96d2 54fadb412c4e40cdbaed9335e4c35a9e - - -] 10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829`,
			`10.11.10.1 "GET /v2/54fadb412c4e40cdbaed9335e4c35a9e/servers/detail HTTP/1.1" status: 200 len: 1893 time: 0.2477829`, map[string]string{"Pid": "25746"}},
		{"Mac", `<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>`,
			"Jul  1 09:00:55 calvisitor-10-105-160-95 kernel[0]: IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0",
			"IOThunderboltSwitch<0>(0x0)::listenerCallback - Thunderbolt HPD packet for route = 0x0 port = 11 unplug = 0", map[string]string{"PID": "0", "Address": ""}},
		{"Mac with address", `<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: <Content>`,
			"Jul  1 09:01:05 calvisitor-10-105-160-95 com.apple.xpc.launchd[1] (com.apple.quicklook[80437]): Endpoint has been activated through legacy launch(3) APIs",
			"Endpoint has been activated through legacy launch(3) APIs", map[string]string{"Address": "com.apple.quicklook[80437]"}},
	}
	for _, tc := range tests {
		t.Run(tc.system, func(t *testing.T) {
			re, _, err := CompileLogFormat(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			m := re.FindStringSubmatch(tc.line)
			if m == nil {
				t.Fatalf("does not match (%s)", re)
			}
			if got := m[re.SubexpIndex("Content")]; got != tc.content {
				t.Errorf("Content %q, want %q", got, tc.content)
			}
			for k, want := range tc.fields {
				if got := m[re.SubexpIndex(k)]; got != want {
					t.Errorf("%s %q, want %q", k, got, want)
				}
			}
		})
	}
}

// TestEpochLayouts: time_layout unix, unix_ms, unix_us, unix_ns read Unix
// times (BGL's <Timestamp> beside its date and time fields, HPC's <Time>).
func TestEpochLayouts(t *testing.T) {
	sec := time.Date(2005, 6, 3, 22, 42, 50, 0, time.UTC)
	tests := []struct {
		name, format, layout, line string
		want                       time.Time
		reason                     string // a problem instead of a record
	}{
		{"BGL seconds", `<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> <Level> <Content>`, "unix",
			"- 1117838570 2005.06.03 R02-M1-N0-C:J12-U11 2005-06-03-15.42.50.675872 R02-M1-N0-C:J12-U11 RAS KERNEL INFO instruction cache parity error corrected", sec, ""},
		{"fractional seconds", `<Timestamp> <Level> <Content>`, "unix", "1117838570.25 INFO up", sec.Add(250 * time.Millisecond), ""},
		{"milliseconds", `<Timestamp> <Level> <Content>`, "unix_ms", "1117838570123 INFO up", sec.Add(123 * time.Millisecond), ""},
		{"microseconds", `<Timestamp> <Level> <Content>`, "unix_us", "1117838570123456 INFO up", sec.Add(123456 * time.Microsecond), ""},
		{"nanoseconds", `<Timestamp> <Level> <Content>`, "unix_ns", "1117838570123456789 INFO up", sec.Add(123456789), ""},
		{"HPC time field", `<LogId> <Node> <Component> <State> <Time> <Flag> <Content>`, "unix",
			"460810 node-246 unix.hw state_change.unavailable 1117838570 1 Component State Change", sec, ""},
		{"not a number", `<Timestamp> <Level> <Content>`, "unix_ms", "yesterday INFO up", time.Time{}, reasonBadTime},
		{"fraction in millis", `<Timestamp> <Level> <Content>`, "unix_ms", "1117838570123.5 INFO up", time.Time{}, reasonBadTime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.log")
			if err := os.WriteFile(path, []byte(tc.line+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			problems := &pipeline.Problems{}
			// No timezone: an epoch needs none.
			recs := readAll(t, Config{Name: "x", Path: path, Format: FormatLogPAI, LogFormat: tc.format, TimeLayout: tc.layout, Entity: "e"}, problems)
			if tc.reason != "" {
				if len(recs) != 0 || problems.Report()["log:x"].Reasons[tc.reason] != 1 {
					t.Fatalf("records %v problems %v, want one %s", recs, problems.Report(), tc.reason)
				}
				return
			}
			if len(recs) != 1 || problems.Total() != 0 {
				t.Fatalf("records %v problems %v", recs, problems.Report())
			}
			if !recs[0].Time.Equal(tc.want) {
				t.Errorf("time %v, want %v", recs[0].Time, tc.want)
			}
		})
	}
}

// TestHeaderMatcherAgreesWithRegexp: wherever the regexp-free header
// matcher accepts a line, its fields are the regexp's, on the logparser
// formats and mutations of their lines (spaces doubled, bytes dropped,
// separators repeated).
func TestHeaderMatcherAgreesWithRegexp(t *testing.T) {
	formats := map[string]string{
		"HDFS":      "<Date> <Time> <Pid> <Level> <Component>: <Content>",
		"Hadoop":    `<Date> <Time> <Level> \[<Process>\] <Component>: <Content>`,
		"Zookeeper": `<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>`,
		"HealthApp": `<Time>\|<Component>\|<Pid>\|<Content>`,
		"Apache":    `\[<Time>\] \[<Level>\] <Content>`,
		"Windows":   `<Date> <Time>, <Level>                  <Component>    <Content>`,
		"literal":   "[<Time>] <Level>: <Content> (end)",
	}
	lines := []string{
		"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating",
		"2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created: MRAppMaster [x]",
		"2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification - time out: 3200",
		"20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged|3579",
		"[Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() [ok] /etc/httpd/conf/workers2.properties",
		"2016-09-28 04:30:30, Info                  CBS    Loaded Servicing Stack v6.1.7601.23505 with Core",
		"[10:00] WARN: disk: full (end)",
	}
	r := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for name, f := range formats {
		re, _, err := CompileLogFormat(f)
		if err != nil {
			t.Fatal(err)
		}
		h := newHeaderMatcher(f)
		if h == nil {
			t.Fatalf("%s: no fast matcher for %q", name, f)
		}
		m := make([]int, 2*(re.NumSubexp()+1))
		for _, base := range lines {
			for k := 0; k < 300; k++ {
				line := []byte(base)
				for e := 0; e < k%4; e++ {
					i := r.IntN(len(line))
					switch r.IntN(4) {
					case 3:
						line[i] = "\r\t\f\v"[r.IntN(4)]
					case 0:
						line = append(line[:i], line[i+1:]...)
					case 1:
						line = append(line[:i], append([]byte{' '}, line[i:]...)...)
					default:
						line = append(line[:i], append([]byte{line[r.IntN(len(line))]}, line[i:]...)...)
					}
				}
				s := string(line)
				if !h.match(s, m) {
					continue
				}
				want := re.FindStringSubmatchIndex(s)
				if !slices.Equal(m, want) {
					t.Fatalf("%s: %q: fast %v, regexp %v", name, s, m, want)
				}
				checked++
			}
		}
	}
	if checked < 1000 {
		t.Errorf("only %d lines compared", checked)
	}
}
