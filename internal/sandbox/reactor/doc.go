// Package reactor holds what makes a reactor tool's calls cheap without
// sharing state between them: the snapshot image of an initialised
// instance (Image), the pieces images share by content (Images), the
// reset of a used instance back to the image (Image.Reset) and the pool
// of idle instances a tool keeps between calls (Pool), bounded per tool
// and host-wide (Cap) and trimmed after a burst.
//
// It sits under internal/sandbox on the call path: sandbox.Module.Call →
// runReactor → Pool.Take, or a restore from the Image → the guest's
// moat_call → Image.Reset → Pool.Put. The sandbox owns the WebAssembly
// runtime and implements Instance over it; this package never imports
// wazero (only internal/sandbox and internal/rootfs do), so it sees an
// instance's linear memory as a []byte and its globals as uint64s.
//
// # Notes
//
//   - Image and its runs are immutable once NewImage returns: one Image,
//     and the pieces Images interns, are shared by every instance and
//     every module with equal bytes.
//   - Pool is safe for concurrent use; each struct here documents its one
//     locking scheme (immutable, one mutex, or atomics).
package reactor
