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
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/opsdata/opsdata/labelers/ticket"
	"github.com/opsdata/opsdata/pipeline"
	"github.com/opsdata/opsdata/pipeline/runner"
	"github.com/opsdata/opsdata/pipeline/sources/jira"
	"github.com/opsdata/opsdata/pipeline/sources/promapi"
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
