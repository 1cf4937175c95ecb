//go:build !linux

package raw

// releaseMapped does nothing where /proc/self/maps and madvise are not
// available (mapped_linux.go).
func releaseMapped() (int, error) { return 0, nil }

// blockPages is releaseMapped for repeated use.
type blockPages struct{}

func (*blockPages) release() (int, error) { return 0, nil }
