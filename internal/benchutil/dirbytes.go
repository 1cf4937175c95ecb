package benchutil

import (
	"os"
	"path/filepath"
)

// DirBytes is the total size of the regular files under dir (0 if absent).
func DirBytes(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
