// Package k8sname knows the shapes of the names Kubernetes generates for
// the pods of a controller: its suffix alphabet, the 5-character suffix
// of every generated pod name and a ReplicaSet's pod-template-hash. The
// anonymizer finds pod names in free text by them; the log reader strips
// them from a pod's name to name its workload.
package k8sname

import "strings"

// Safe is the alphabet of Kubernetes' generated suffixes
// (k8s.io/apimachinery/pkg/util/rand): no vowels, no 0, 1 or 3.
const Safe = "bcdfghjklmnpqrstvwxz2456789"

// AllIn reports whether s is not empty and every byte of s is in set.
func AllIn(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return s != ""
}

// IsSuffix reports whether s is the random suffix a ReplicaSet, DaemonSet
// or Job adds to its pods' names (x2x9z of checkout-7d9f8b6c5-x2x9z).
func IsSuffix(s string) bool { return len(s) == 5 && AllIn(s, Safe) }

// IsTemplateHash reports whether s is a ReplicaSet's pod-template-hash
// (7d9f8b6c5 of checkout-7d9f8b6c5-x2x9z).
func IsTemplateHash(s string) bool { return len(s) >= 6 && len(s) <= 10 && AllIn(s, Safe) }
