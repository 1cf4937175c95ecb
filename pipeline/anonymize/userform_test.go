package anonymize

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// TestFindUserAssignmentsEqualsRegexp: the hand-written scanner must find
// exactly what the `user=NAME` regexp finds, on adversarial random text.
func TestFindUserAssignmentsEqualsRegexp(t *testing.T) {
	pieces := []string{"user", "USER", "User", "name", "Name", "=", " = ", "\t", "\n", "_", "-", "db", "x1", "a", "\"", "'", "jdoe42", ",", ";", "&", ")", "<", ".", ":", " ", "é", "my"}
	rng := rand.New(rand.NewPCG(1, 2))
	re := userRes[userAssignForm]
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		want := re.FindAllStringSubmatchIndex(s, -1)
		got := findUserAssignments(s, strings.ToLower(s))
		// compare the NAME spans (group 1), which is all scrubUsers uses
		var w, g [][2]int
		for _, m := range want {
			w = append(w, [2]int{m[2], m[3]})
		}
		for _, m := range got {
			g = append(g, [2]int{m[2], m[3]})
		}
		if !reflect.DeepEqual(w, g) {
			t.Fatalf("%q: regexp finds %v, scanner %v", s, w, g)
		}
	}
}

// TestUserPrecheckNeverSkipsAMatch: the cheap condition in front of each
// username form is true of every text its regexp matches.
func TestUserPrecheckNeverSkipsAMatch(t *testing.T) {
	parts := []string{"user", "USER", "username", "UserName", "for user", " ", "\t", ":", "=", `"`, "'", "bob", "x_", "-", "<", ",", "name", "u", `"user":`, `"bob"`}
	rng := rand.New(rand.NewPCG(3, 4))
	matched := make([]int, len(userRes))
	for n := 0; n < 50000; n++ {
		var b strings.Builder
		for k := rng.IntN(10); k > 0; k-- {
			b.WriteString(parts[rng.IntN(len(parts))])
		}
		s := b.String()
		lower := strings.ToLower(s)
		for i, re := range userRes {
			if re.MatchString(s) {
				matched[i]++
				if !userMayMatch[i](lower) {
					t.Fatalf("form %d matches %q but its precheck says no", i, s)
				}
			}
		}
	}
	for i, m := range matched {
		if m == 0 {
			t.Errorf("form %d never matched: the test shows nothing about it", i)
		}
	}
}
