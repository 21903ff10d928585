//go:build !linux

package rootfs

import (
	"os"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// moat serves from Linux; elsewhere (a developer's laptop) these fall back
// to what the os package offers. Opens are not made non-blocking there: a
// FIFO swapped onto a name after OpenFile's stat can block the call.

func platformFlag(experimentalsys.Oflag) int { return 0 }

func setAppend(*os.File, bool) experimentalsys.Errno { return experimentalsys.ENOSYS }

func pwrite(f *os.File, buf []byte, off int64) (int, experimentalsys.Errno) {
	n, err := f.WriteAt(buf, off)
	return n, toErrno(err)
}

func datasync(f *os.File) experimentalsys.Errno { return toErrno(f.Sync()) }

func futimens(*os.File, int64, int64) experimentalsys.Errno { return experimentalsys.ENOSYS }
