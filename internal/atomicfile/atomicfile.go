// Package atomicfile writes a file so that a reader never sees half of it.
//
// The commands that rewrite a user's files (moat build editing a manifest
// or refreshing a tool's SDK copy, moat client-config merging a client's
// settings) write through here: the new bytes go to a temporary file in
// the same folder, which is then renamed over the old one.
package atomicfile

import (
	"os"
	"path/filepath"
)

// WriteFile writes data to a temporary file beside path and renames it over
// path with mode, so that a reader sees the old file or the new, never a
// mix. On error the temporary file is removed and path is untouched.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
