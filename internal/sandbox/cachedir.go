package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/moatmcp/moat/internal/privatedir"
)

// prepareCacheDir creates dir (mode 0700) if it is missing, and otherwise
// checks that only we can write to it. The cache holds native code that
// the host maps executable, so a directory someone else can write to would
// let them run code as us.
func prepareCacheDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("compile cache: create %s: %w", dir, err)
	}
	return checkPrivateDir(dir)
}

// checkCacheSubdirs applies checkPrivateDir to the directories inside dir
// (wazero keeps its files in one per wazero version and platform).
func checkCacheSubdirs(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("compile cache: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || e.Type()&fs.ModeSymlink != 0 {
			if err := checkPrivateDir(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// errCompileCache prefixes the failures of the compile cache's folder
// checks that are not about who may write it.
var errCompileCache = errors.New("compile cache")

// checkPrivateDir refuses dir unless it is private to us
// (internal/privatedir owns the rule).
func checkPrivateDir(dir string) error {
	return privatedir.CheckAs(dir, ErrInsecureCacheDir, errCompileCache)
}
