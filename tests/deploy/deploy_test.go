// Package deploy checks the scheduling manifests in deploy/: the
// Kubernetes CronJobs decode strictly into k8s.io/api types with what a
// nightly job needs, the spec they mount resolves, and the systemd units
// treat the nightly exit codes right.
package deploy

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/opsdata/opsdata/internal/bucket"
	"github.com/opsdata/opsdata/labelers/ticket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/jira"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
	"github.com/opsdata/opsdata/pipeline/sources/promblocks"
	"github.com/opsdata/opsdata/spec"
)

// Exit codes of opsdata nightly (cmd/opsdata/nightly.go).
const exitNothingToDo, exitLeaseHeld = "3", "4"

func readStrict(t *testing.T, name string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(b, into); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestKubernetes(t *testing.T) {
	var cm corev1.ConfigMap
	readStrict(t, "kubernetes/spec-configmap.yaml", &cm)
	s, err := spec.Parse("spec-configmap.yaml", []byte(cm.Data["spec.yaml"]))
	if err != nil {
		t.Fatalf("the ConfigMap's spec: %v", err)
	}
	comps := pipeline.Components{
		Metrics:  map[string]pipeline.MetricSourceFactory{"prometheus": promapi.Factory()},
		Tickets:  map[string]pipeline.TicketSourceFactory{"jira": jira.Factory()},
		Labelers: map[string]pipeline.LabelerFactory{"ticket": ticket.Factory()},
	}
	if _, err := runner.Resolve(s, comps); err != nil {
		t.Fatalf("the ConfigMap's spec does not resolve: %v", err)
	}
	var kust map[string]any
	readStrict(t, "kubernetes/kustomization.yaml", &kust)

	for _, tc := range []struct {
		file, command string
		minMemory     string
	}{
		{"kubernetes/cronjob-nightly.yaml", "nightly", "1Gi"},
		{"kubernetes/cronjob-gc.yaml", "gc", "128Mi"},
	} {
		t.Run(tc.command, func(t *testing.T) {
			var cj batchv1.CronJob
			readStrict(t, tc.file, &cj)
			if cj.Kind != "CronJob" || cj.APIVersion != "batch/v1" {
				t.Errorf("%s is %s %s", tc.file, cj.APIVersion, cj.Kind)
			}
			if !slices.Contains(kust["resources"].([]any), any(filepath.Base(tc.file))) {
				t.Errorf("kustomization.yaml does not list %s", filepath.Base(tc.file))
			}
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				t.Errorf("concurrencyPolicy %q, want Forbid", cj.Spec.ConcurrencyPolicy)
			}
			if cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != "Etc/UTC" {
				t.Error("timeZone must be Etc/UTC: days are UTC days")
			}
			js := cj.Spec.JobTemplate.Spec
			ttl := time.Duration(s.Nightly.LeaseTTL)
			if js.ActiveDeadlineSeconds == nil || time.Duration(*js.ActiveDeadlineSeconds)*time.Second >= ttl {
				t.Errorf("activeDeadlineSeconds must be set below nightly.lease_ttl (%v)", ttl)
			}
			pod := js.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q", pod.RestartPolicy)
			}
			if len(pod.Containers) != 1 {
				t.Fatalf("%d containers", len(pod.Containers))
			}
			c := pod.Containers[0]
			if len(c.Args) == 0 || c.Args[0] != tc.command || !slices.Contains(c.Args, "/etc/opsdata/spec.yaml") {
				t.Errorf("args %v", c.Args)
			}
			if tc.command == "nightly" && !slices.Contains(c.Args, "--exit-zero-unless-failed") {
				t.Error("nightly in Kubernetes must map nothing-to-do and lease-held to 0")
			}
			req, lim := c.Resources.Requests, c.Resources.Limits
			if req.Memory().Cmp(resource.MustParse(tc.minMemory)) < 0 || lim.Memory().IsZero() || lim.Memory().Cmp(*req.Memory()) < 0 || req.Cpu().IsZero() {
				t.Errorf("resources %+v", c.Resources)
			}
			checkMemLimit(t, c.Name, c.Env, lim.Memory().Value())
			// The key and the credentials are files from Secrets, mounted read-only where the spec names them.
			vols := map[string]corev1.Volume{}
			for _, v := range pod.Volumes {
				vols[v.Name] = v
			}
			mounted := map[string]string{}
			for _, m := range c.VolumeMounts {
				v := vols[m.Name]
				if v.Secret != nil {
					if !m.ReadOnly || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o077 != 0 {
						t.Errorf("secret volume %s: mount read-only with mode 0400", m.Name)
					}
					mounted[v.Secret.SecretName] = m.MountPath
				}
			}
			if !strings.HasPrefix(s.Anonymize.Key.File, mounted["opsdata-anonymization-key"]+"/") || mounted["opsdata-anonymization-key"] == "" {
				t.Errorf("anonymize.key.file %s is not in the key Secret's mount %v", s.Anonymize.Key.File, mounted)
			}
			if cred := s.S3.Credentials.SecretAccessKeyFile; mounted["opsdata-credentials"] == "" || !strings.HasPrefix(cred, mounted["opsdata-credentials"]+"/") {
				t.Errorf("s3 secret_access_key_file %s is not in the credentials Secret's mount %v", cred, mounted)
			}
			for _, e := range c.Env {
				if e.Value != "" && strings.Contains(strings.ToLower(e.Name), "token") {
					t.Errorf("env %s carries a literal secret", e.Name)
				}
			}
			if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
				t.Error("readOnlyRootFilesystem: the run writes only to its scratch volume")
			}
		})
	}
}

// unit reads a systemd unit file into key → values.
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "deploy", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: bad line %q", name, line)
			}
			out[section+"."+k] = append(out[section+"."+k], v)
		}
	}
	return out
}

func TestSystemd(t *testing.T) {
	svc := unit(t, "opsdata-nightly.service")
	if got := svc["Service.Type"]; len(got) != 1 || got[0] != "oneshot" {
		t.Errorf("Type %v", got)
	}
	if got := svc["Service.ExecStart"]; len(got) != 1 || !strings.Contains(got[0], " nightly --spec ") {
		t.Errorf("ExecStart %v", got)
	}
	codes := strings.Fields(strings.Join(svc["Service.SuccessExitStatus"], " "))
	if !slices.Contains(codes, exitNothingToDo) || !slices.Contains(codes, exitLeaseHeld) {
		t.Errorf("SuccessExitStatus %v must list %s and %s", codes, exitNothingToDo, exitLeaseHeld)
	}
	if len(svc["Service.LoadCredential"]) < 2 || len(svc["Service.MemoryMax"]) != 1 {
		t.Error("the key and credentials come as LoadCredential files; MemoryMax bounds the run")
	} else {
		max := resource.MustParse(strings.TrimSuffix(svc["Service.MemoryMax"][0], "G") + "Gi")
		var env []corev1.EnvVar
		for _, e := range svc["Service.Environment"] {
			if k, v, ok := strings.Cut(e, "="); ok {
				env = append(env, corev1.EnvVar{Name: k, Value: v})
			}
		}
		checkMemLimit(t, "opsdata-nightly.service", env, max.Value())
	}
	tm := unit(t, "opsdata-nightly.timer")
	if got := tm["Timer.Unit"]; len(got) != 1 || got[0] != "opsdata-nightly.service" {
		t.Errorf("Timer.Unit %v", got)
	}
	if got := tm["Timer.Persistent"]; len(got) != 1 || got[0] != "yes" && got[0] != "true" {
		t.Errorf("Persistent %v", got)
	}
	if got := tm["Timer.OnCalendar"]; len(got) != 1 || !strings.HasSuffix(got[0], "UTC") {
		t.Errorf("OnCalendar %v must be in UTC", got)
	}
}

// TestShardedKubernetes checks deploy/kubernetes/sharded: the CronJob's
// job is an Indexed Job whose pods each run one shard (index from
// JOB_COMPLETION_INDEX, set by the controller) and then commit; the shard
// count agrees everywhere; the commit safety net runs after the shards'
// deadline; and both are hardened like the nightly CronJob.
func TestShardedKubernetes(t *testing.T) {
	var kust map[string]any
	readStrict(t, "kubernetes/sharded/kustomization.yaml", &kust)
	var cm corev1.ConfigMap
	readStrict(t, "kubernetes/sharded/spec-configmap.yaml", &cm)
	s, err := spec.Parse("spec-configmap.yaml", []byte(cm.Data["spec.yaml"]))
	if err != nil {
		t.Fatalf("the sharded ConfigMap's spec: %v", err)
	}
	comps := pipeline.Components{Metrics: map[string]pipeline.MetricSourceFactory{"blocks": promblocks.Factory()}}
	plan, err := runner.Resolve(s, comps)
	if err != nil {
		t.Fatalf("the sharded spec does not resolve: %v", err)
	}
	if _, cfg, _, err := plan.RawSource(""); err != nil || cfg.(*promblocks.Config).CacheDir == "" {
		t.Fatalf("the sharded spec's raw source: %v (cache_dir must be on the scratch volume)", err)
	}
	var run corev1.ConfigMap
	readStrict(t, "kubernetes/sharded/run-configmap.yaml", &run)
	if run.Data["from"] == "" || run.Data["to"] == "" {
		t.Error("run-configmap.yaml: no from/to range")
	}

	for _, f := range []string{"spec-configmap.yaml", "run-configmap.yaml"} {
		if !slices.Contains(kust["resources"].([]any), any(f)) {
			t.Errorf("sharded/kustomization.yaml does not list %s", f)
		}
	}
	if len(s.Metrics.Features) == 0 {
		t.Error("the sharded spec has no features: the windowed shards would have nothing to evaluate")
	}
	kinds := []shardedKind{
		// The raw dataset: `raw --shards N`, then `commit --shards N`, over
		// the run ConfigMap's range.
		{"raw", "cronjob-shards.yaml", "cronjob-commit.yaml", "raw", "commit", "--shards", true},
		// The windowed dataset's nightly snapshots: `nightly --shards N`,
		// then `nightly --from-shards N`; the night finds its own range.
		{"windowed", "cronjob-windowed-shards.yaml", "cronjob-windowed-commit.yaml", "nightly", "nightly", "--from-shards", false},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for _, f := range []string{k.shards, k.commit} {
				if !slices.Contains(kust["resources"].([]any), any(f)) {
					t.Errorf("sharded/kustomization.yaml does not list %s", f)
				}
			}
			checkShardedCronJobs(t, s, plan, run, k)
		})
	}
}

// shardedKind is one sharded run's CronJobs: the shards run shardCmd
// --shards N in an Indexed Job's pods, each followed by commitCmd with
// countFlag N; the commit CronJob is the safety net. ranged: every one
// names the run ConfigMap's --from/--to.
type shardedKind struct {
	name, shards, commit           string
	shardCmd, commitCmd, countFlag string
	ranged                         bool
}

// checkShardedCronJobs checks one sharded run's CronJobs.
func checkShardedCronJobs(t *testing.T, s *spec.Spec, plan *runner.Plan, run corev1.ConfigMap, k shardedKind) {
	shardsFile, commitFile := k.shards, k.commit
	var shards, commit batchv1.CronJob
	readStrict(t, "kubernetes/sharded/"+shardsFile, &shards)
	readStrict(t, "kubernetes/sharded/"+commitFile, &commit)

	js := shards.Spec.JobTemplate.Spec
	if js.CompletionMode == nil || *js.CompletionMode != batchv1.IndexedCompletion {
		t.Fatal("the shard Job must be completionMode Indexed (JOB_COMPLETION_INDEX is the shard index)")
	}
	if js.BackoffLimitPerIndex == nil || *js.BackoffLimitPerIndex < 1 {
		t.Error("backoffLimitPerIndex must be set, so a crashed shard is retried alone")
	}
	if js.MaxFailedIndexes == nil || *js.MaxFailedIndexes != 0 {
		t.Error("maxFailedIndexes must be 0: a snapshot needs every part")
	}
	if js.Completions == nil || js.Parallelism == nil || *js.Completions != *js.Parallelism || *js.Completions < 2 {
		t.Fatalf("completions %v and parallelism %v must be equal, N ≥ 2", js.Completions, js.Parallelism)
	}
	n := strconv.Itoa(int(*js.Completions))
	if js.PodFailurePolicy == nil || len(js.PodFailurePolicy.Rules) == 0 {
		t.Error("podFailurePolicy: evictions must not use up a shard's retries")
	}
	pod := js.Template.Spec
	if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 {
		t.Fatalf("a shard pod is the shard (init container) then commit: %d init, %d containers", len(pod.InitContainers), len(pod.Containers))
	}
	shard, shardCommit := pod.InitContainers[0], pod.Containers[0]
	// Init containers finish before containers start: commit runs after its shard.
	if shard.Args[0] != k.shardCmd || shardCommit.Args[0] != k.commitCmd {
		t.Errorf("init container runs %q, container %q; want %s then %s", shard.Args[0], shardCommit.Args[0], k.shardCmd, k.commitCmd)
	}
	if flag(shard.Args, "--shards") != n || flag(shardCommit.Args, k.countFlag) != n {
		t.Errorf("--shards %q (shard), %s %q (commit); completions is %s", flag(shard.Args, "--shards"), k.countFlag, flag(shardCommit.Args, k.countFlag), n)
	}
	if k.shardCmd == "nightly" && !slices.Contains(shard.Args, "--exit-zero-unless-failed") {
		t.Error("a nightly shard with no new day to evaluate exits 3: the init container must exit 0 then")
	}
	if flag(shard.Args, "--shard") != "" {
		t.Error("the shard index comes from JOB_COMPLETION_INDEX (--shards N), not a fixed --shard i/N")
	}
	if !slices.Contains(shardCommit.Args, "--exit-zero-unless-failed") {
		t.Error("a shard's commit finds other parts missing (exit 5) unless it is last: it must exit 0 then")
	}
	if js.ActiveDeadlineSeconds == nil {
		t.Fatal("the shard Job needs activeDeadlineSeconds")
	}

	cs := commit.Spec.JobTemplate.Spec
	cc := cs.Template.Spec.Containers
	if len(cc) != 1 || cc[0].Args[0] != k.commitCmd || flag(cc[0].Args, k.countFlag) != n || !slices.Contains(cc[0].Args, "--exit-zero-unless-failed") {
		t.Fatalf("the safety net must run %s %s %s --exit-zero-unless-failed: %v", k.commitCmd, k.countFlag, n, cc)
	}
	for _, f := range []string{"--from", "--to"} {
		if k.ranged && (flag(cc[0].Args, f) != flag(shard.Args, f) || flag(shard.Args, f) != flag(shardCommit.Args, f) || flag(shard.Args, f) == "") {
			t.Errorf("shards and commits must name the same range (%s)", f)
		}
		if !k.ranged && (flag(shard.Args, f) != "" || flag(cc[0].Args, f) != "") {
			t.Errorf("a night finds its range from the dataset's state: no %s", f)
		}
	}
	after := cronMinutes(t, commit.Spec.Schedule) - cronMinutes(t, shards.Spec.Schedule)
	if time.Duration(after)*time.Minute <= time.Duration(*js.ActiveDeadlineSeconds)*time.Second {
		t.Errorf("the safety-net commit starts %d min after the shards, within their deadline of %ds", after, *js.ActiveDeadlineSeconds)
	}

	for name, cj := range map[string]batchv1.CronJob{"shards": shards, "commit": commit} {
		t.Run(name, func(t *testing.T) {
			if cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent || cj.Spec.TimeZone == nil || *cj.Spec.TimeZone != "Etc/UTC" {
				t.Error("concurrencyPolicy Forbid and timeZone Etc/UTC")
			}
			js := cj.Spec.JobTemplate.Spec
			if js.ActiveDeadlineSeconds == nil || *js.ActiveDeadlineSeconds <= 0 {
				t.Error("activeDeadlineSeconds")
			}
			pod := js.Template.Spec
			if pod.RestartPolicy != corev1.RestartPolicyNever {
				t.Errorf("restartPolicy %q (podFailurePolicy needs Never)", pod.RestartPolicy)
			}
			if psc := pod.SecurityContext; psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
				t.Error("the pod must run as non-root")
			}
			vols := map[string]corev1.Volume{}
			for _, v := range pod.Volumes {
				vols[v.Name] = v
			}
			for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
				if sc := c.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
					sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
					t.Errorf("%s: readOnlyRootFilesystem and no privilege escalation", c.Name)
				}
				req, lim := c.Resources.Requests, c.Resources.Limits
				if req.Memory().IsZero() || req.Cpu().IsZero() || lim.Memory().Cmp(*req.Memory()) < 0 {
					t.Errorf("%s: resources %+v", c.Name, c.Resources)
				}
				checkMemLimit(t, c.Name, c.Env, lim.Memory().Value())
				if !slices.Contains(c.Args, "/etc/opsdata/spec.yaml") {
					t.Errorf("%s: args %v do not name the mounted spec", c.Name, c.Args)
				}
				mounted := map[string]string{}
				for _, m := range c.VolumeMounts {
					if v := vols[m.Name]; v.Secret != nil {
						if !m.ReadOnly || v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o077 != 0 {
							t.Errorf("%s: secret volume %s: mount read-only with mode 0400", c.Name, m.Name)
						}
						mounted[v.Secret.SecretName] = m.MountPath
					}
				}
				if k := mounted["opsdata-anonymization-key"]; k == "" || !strings.HasPrefix(s.Anonymize.Key.File, k+"/") {
					t.Errorf("%s: anonymize.key.file %s not in the key Secret's mount %v", c.Name, s.Anonymize.Key.File, mounted)
				}
				cred := mounted["opsdata-credentials"]
				for _, f := range []string{s.S3.Credentials.SecretAccessKeyFile, rawS3(t, plan).Credentials.SecretAccessKeyFile} {
					if cred == "" || !strings.HasPrefix(f, cred+"/") {
						t.Errorf("%s: credentials file %s not in the credentials Secret's mount %v", c.Name, f, mounted)
					}
				}
				for _, e := range c.Env {
					if (e.Name == "OPSDATA_FROM" || e.Name == "OPSDATA_TO") && (e.ValueFrom == nil || e.ValueFrom.ConfigMapKeyRef == nil || e.ValueFrom.ConfigMapKeyRef.Name != run.Name) {
						t.Errorf("%s: %s must come from ConfigMap %s", c.Name, e.Name, run.Name)
					}
				}
			}
		})
	}
}

// TestArgoSharded checks the Argo Workflows alternatives: shards in one
// step (a sequence of N), commit in the next, so commit runs after all;
// the raw export (raw, then commit) and the windowed nightly snapshots
// (nightly --shard, then nightly --from-shards).
func TestArgoSharded(t *testing.T) {
	for _, k := range []struct{ file, shardCmd, commitCmd, countFlag string }{
		{"cronworkflow-sharded.yaml", "raw", "commit", "--shards"},
		{"cronworkflow-sharded-nightly.yaml", "nightly", "nightly", "--from-shards"},
	} {
		t.Run(k.file, func(t *testing.T) { checkArgoSharded(t, k.file, k.shardCmd, k.commitCmd, k.countFlag) })
	}
}

func checkArgoSharded(t *testing.T, file, shardCmd, commitCmd, countFlag string) {
	var wf struct {
		Kind string `json:"kind"`
		Spec struct {
			WorkflowSpec struct {
				Arguments struct {
					Parameters []struct{ Name, Value string } `json:"parameters"`
				} `json:"arguments"`
				Templates []struct {
					Name  string `json:"name"`
					Steps [][]struct {
						Name         string            `json:"name"`
						Template     string            `json:"template"`
						WithSequence map[string]string `json:"withSequence"`
					} `json:"steps"`
					Container *corev1.Container `json:"container"`
				} `json:"templates"`
			} `json:"workflowSpec"`
		} `json:"spec"`
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "argo", file))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &wf); err != nil || wf.Kind != "CronWorkflow" {
		t.Fatalf("%s: %v (kind %q)", file, err, wf.Kind)
	}
	var steps [][]string
	containers := map[string]*corev1.Container{}
	for _, tpl := range wf.Spec.WorkflowSpec.Templates {
		containers[tpl.Name] = tpl.Container
		for _, group := range tpl.Steps {
			var names []string
			for _, s := range group {
				names = append(names, s.Template)
				if s.Template == "shard" && s.WithSequence["count"] != "{{workflow.parameters.shards}}" {
					t.Errorf("the shard step must fan out over the shards parameter: %v", s.WithSequence)
				}
			}
			steps = append(steps, names)
		}
	}
	if len(steps) != 2 || !slices.Equal(steps[0], []string{"shard"}) || !slices.Equal(steps[1], []string{"commit"}) {
		t.Fatalf("steps %v, want [shard] then [commit]", steps)
	}
	for name, c := range containers {
		if c == nil {
			continue
		}
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: hardening and resources", name)
		}
		checkMemLimit(t, name, c.Env, c.Resources.Limits.Memory().Value())
	}
	if c := containers["commit"]; c == nil || c.Args[0] != commitCmd || flag(c.Args, countFlag) != "{{workflow.parameters.shards}}" {
		t.Errorf("commit template: %v", c)
	}
	if c := containers["shard"]; c == nil || c.Args[0] != shardCmd || !strings.HasSuffix(flag(c.Args, "--shard"), "/{{workflow.parameters.shards}}") {
		t.Errorf("shard template: %v", c)
	}
}

// flag returns the value after name in args ("" if absent).
func flag(args []string, name string) string {
	for i, a := range args {
		if a == name && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

// cronMinutes reads "M H * * *" as minutes after midnight.
func cronMinutes(t *testing.T, sched string) int {
	t.Helper()
	f := strings.Fields(sched)
	m, err1 := strconv.Atoi(f[0])
	h, err2 := strconv.Atoi(f[1])
	if len(f) != 5 || err1 != nil || err2 != nil {
		t.Fatalf("schedule %q: want a daily \"M H * * *\"", sched)
	}
	return h*60 + m
}

// rawS3 is the S3 settings of the spec's metrics.blocks section.
func rawS3(t *testing.T, p *runner.Plan) bucket.S3 {
	t.Helper()
	_, cfg, _, err := p.RawSource("")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.(*promblocks.Config).S3
}

// checkMemLimit: a container sets GOMEMLIMIT (the Go runtime's soft heap
// limit) between half and 80 % of its memory limit, so the collector works
// harder before the kernel's limit kills the run, with room left for the
// mapped TSDB pages and the non-heap memory.
func checkMemLimit(t *testing.T, name string, env []corev1.EnvVar, limit int64) {
	t.Helper()
	units := map[string]int64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	for _, e := range env {
		if e.Name != "GOMEMLIMIT" {
			continue
		}
		for u, f := range units {
			if n, err := strconv.ParseInt(strings.TrimSuffix(e.Value, u), 10, 64); err == nil && strings.HasSuffix(e.Value, u) {
				if v := n * f; v*100 > limit*80 || v*2 < limit {
					t.Errorf("%s: GOMEMLIMIT %s is not between 50 %% and 80 %% of the memory limit (%d bytes)", name, e.Value, limit)
				}
				return
			}
		}
		t.Errorf("%s: GOMEMLIMIT %q: want a number with B, KiB, MiB or GiB", name, e.Value)
		return
	}
	t.Errorf("%s: no GOMEMLIMIT: without a soft heap limit garbage can double the heap up to the container's limit", name)
}
