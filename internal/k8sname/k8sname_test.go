package k8sname

import "testing"

func TestShapes(t *testing.T) {
	for _, tc := range []struct {
		s              string
		suffix, hashed bool
	}{
		{"x2x9z", true, false}, {"7d9f8b6c5", false, true}, {"bcdfgh", false, true},
		{"x2x9a", false, false}, {"x2x93", false, false}, {"", false, false},
		{"7d9f8b6c5x2x9z", false, false}, {"X2X9Z", false, false},
	} {
		if IsSuffix(tc.s) != tc.suffix || IsTemplateHash(tc.s) != tc.hashed {
			t.Errorf("%q: suffix %v, hash %v; want %v, %v", tc.s, IsSuffix(tc.s), IsTemplateHash(tc.s), tc.suffix, tc.hashed)
		}
	}
}
