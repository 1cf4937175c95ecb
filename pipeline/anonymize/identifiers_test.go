package anonymize

import (
	"strings"
	"testing"

	"github.com/opsdata/opsdata/spec"
)

// Identifiers in free text (issue 12): each raw value must be gone and
// replaced by a pseudonym of its type; the negative cases stay unchanged.
func TestTextIdentifiers(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		gone     []string // raw values that must not survive
		typ      string   // pseudonym type expected in the output ("" = unchanged line)
	}{
		{"replicaset pod", "OOMKilled checkout-7d9f8b6c5-x2x9z restarted", []string{"checkout-7d9f8b6c5-x2x9z"}, TypePod},
		{"replicaset pod in path", "evicted pod default/payments-api-5c8d7f9b4-qwz2x", []string{"payments-api-5c8d7f9b4-qwz2x"}, TypePod},
		{"statefulset of a known workload", "leader is redis-2 now", []string{"redis-2"}, TypePod},
		{"daemonset of a known workload", "fluentd-x2x9z lagging", []string{"fluentd-x2x9z"}, TypePod},
		{"gke node", "node gke-prod-default-pool-1a2b3c4d-x9z8 NotReady", []string{"gke-prod-default-pool-1a2b3c4d-x9z8"}, TypeHost},
		{"aks node", "aks-nodepool1-12345678-vmss000003 cordoned", []string{"aks-nodepool1-12345678-vmss000003"}, TypeHost},
		{"eks node", "kubelet on ip-10-0-1-23.ec2.internal stopped", []string{"ip-10-0-1-23"}, TypeHost},
		{"eks node short", "drain ip-10-0-1-23 done", []string{"ip-10-0-1-23"}, TypeHost},
		{"short name of a known fqdn", "failover from db1 to db2", []string{"db1"}, TypeHost},
		{"tilde home", "cannot read ~carol/.kube/config", []string{"carol"}, TypeUser},
		{"url tilde", "GET https://wiki.example.com/~dave/notes 404", []string{"dave"}, TypeUser},
		{"home path", "open /home/erin/.ssh/id_rsa: denied", []string{"erin"}, TypeUser},
		{"mac home", "wrote /Users/frank.lee/Library/x.plist", []string{"frank.lee"}, TypeUser},
		{"windows home", `C:\Users\grace\AppData\Local\Temp`, []string{"grace"}, TypeUser},
		{"url userinfo", "cloning https://heidi:s3cr3tpw@git.corp.local/repo.git", []string{"heidi", "s3cr3tpw"}, "<redacted>"},
		// negatives: shapes that must stay prose
		{"step number", "retry step-2 of 5", nil, ""},
		{"unknown statefulset-like", "api-v2 deprecated", nil, ""},
		{"word with vowels", "check-readiness-probes ok", nil, ""},
		{"short name inside a longer name", "db10 and mydb1x and db1-backup", nil, ""},
		{"tilde approx", "took ~5ms", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newTest(t, spec.Anonymize{HostDomains: []string{"corp.example.com"}})
			a.AddWorkloads("redis", "fluentd")
			a.Learn(TypeHost, "db1.corp.example.com")
			a.Learn(TypeHost, "db2.corp.example.com")
			out := a.Text(tc.in)
			for _, g := range tc.gone {
				if strings.Contains(out, g) {
					t.Errorf("Text(%q) = %q: %q survived", tc.in, out, g)
				}
			}
			switch {
			case tc.typ == "" && out != tc.in:
				t.Errorf("Text(%q) = %q, want unchanged", tc.in, out)
			case tc.typ == "<redacted>" && !strings.Contains(out, RedactedSecret):
				t.Errorf("Text(%q) = %q, want a redaction", tc.in, out)
			case tc.typ != "" && tc.typ != "<redacted>" && !strings.Contains(out, tc.typ+"-"):
				t.Errorf("Text(%q) = %q, want a %s pseudonym", tc.in, out, tc.typ)
			}
			if again := a.Text(out); again != out {
				t.Errorf("not idempotent: %q -> %q", out, again)
			}
		})
	}
}

// A ReplicaSet pod teaches its deployment: the same deployment's
// StatefulSet-like names are then recognised too.
func TestWorkloadLearnedFromReplicaSetPod(t *testing.T) {
	a := newTest(t, spec.Anonymize{})
	if out := a.Text("search-0 ready"); out != "search-0 ready" {
		t.Fatalf("unknown workload: %q", out)
	}
	a.Text("search-6b7c9d8f5-k2m4p started")
	if out := a.Text("search-0 ready"); strings.Contains(out, "search-0") {
		t.Fatalf("known workload: %q", out)
	}
}

// Hosts under a host domain are found by the host detector, not the text
// matcher; every spelling and gluing of a learned one must still go.
func TestHostsFoundByShapeEverywhere(t *testing.T) {
	a := newTest(t, spec.Anonymize{HostDomains: []string{"prod.acme.internal"}})
	a.Learn(TypeHost, "worker-2.prod.acme.internal") // from a label
	a.Text("dial worker-7.prod.acme.internal ok")    // from text
	for _, e := range a.matchItems {
		if !e.word { // short names (worker-2) are matched as whole names
			t.Fatalf("%q in the text matcher: found by shape, it needs no place there", e.raw)
		}
	}
	for _, in := range []string{
		"node=worker-2.prod.acme.internal", "x_worker-2.prod.acme.internal_y", "WORKER-7.PROD.ACME.INTERNAL.",
		"ping worker-7.prod.acme.internal-lb", "a.worker-2.prod.acme.internal", "(worker-7.prod.acme.internal)",
	} {
		out := a.Text(in)
		if strings.Contains(strings.ToLower(out), "worker-2.prod") || strings.Contains(strings.ToLower(out), "worker-7.prod") {
			t.Errorf("Text(%q) = %q", in, out)
		}
	}
}
