package sandbox

import "github.com/moatmcp/moat/internal/rootfs"

// openMount opens a mount's host directory as a filesystem confined to it
// (internal/rootfs, on os.Root): never wazero's WithDirMount, which follows
// symlinks out of the mount.
func openMount(hostDir string, readOnly bool) (mountFS, error) {
	fs, err := rootfs.Open(hostDir, readOnly)
	if err != nil {
		return nil, err
	}
	return fs, nil
}

var _ mountFS = (*rootfs.FS)(nil)
