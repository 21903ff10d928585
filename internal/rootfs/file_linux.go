package rootfs

import (
	"os"
	"syscall"
	"unsafe"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
)

// platformFlag adds the open flags os.OpenFile has no name for, and the
// ones every open gets: O_NONBLOCK and O_NOCTTY (see toOSFlag).
func platformFlag(flag experimentalsys.Oflag) int {
	osFlag := syscall.O_NONBLOCK | syscall.O_NOCTTY
	if flag&experimentalsys.O_DIRECTORY != 0 {
		osFlag |= syscall.O_DIRECTORY
	}
	if flag&experimentalsys.O_DSYNC != 0 {
		osFlag |= syscall.O_DSYNC
	}
	if flag&experimentalsys.O_RSYNC != 0 {
		osFlag |= syscall.O_RSYNC
	}
	return osFlag
}

// control runs fn with the descriptor of f, without switching f to
// blocking mode as f.Fd() would.
func control(f *os.File, fn func(fd int) syscall.Errno) experimentalsys.Errno {
	rc, err := f.SyscallConn()
	if err != nil {
		return toErrno(err)
	}
	var e syscall.Errno
	if err := rc.Control(func(fd uintptr) { e = fn(int(fd)) }); err != nil {
		return toErrno(err)
	}
	if e != 0 {
		return toErrno(e)
	}
	return 0
}

func setAppend(f *os.File, enable bool) experimentalsys.Errno {
	return control(f, func(fd int) syscall.Errno {
		fl, _, e := syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_GETFL, 0)
		if e != 0 {
			return e
		}
		if enable {
			fl |= syscall.O_APPEND
		} else {
			fl &^= syscall.O_APPEND
		}
		_, _, e = syscall.Syscall(syscall.SYS_FCNTL, uintptr(fd), syscall.F_SETFL, fl)
		return e
	})
}

// pwrite writes all of buf at off with pwrite(2). os.File.WriteAt is not
// used because it refuses files opened with O_APPEND, which fd_pwrite allows
// (Linux then appends, as wazero's own files do).
func pwrite(f *os.File, buf []byte, off int64) (n int, errno experimentalsys.Errno) {
	errno = control(f, func(fd int) syscall.Errno {
		for n < len(buf) {
			m, err := syscall.Pwrite(fd, buf[n:], off+int64(n))
			if err == syscall.EINTR {
				continue
			}
			if err != nil {
				return err.(syscall.Errno)
			}
			if m == 0 {
				return syscall.EIO
			}
			n += m
		}
		return 0
	})
	return n, errno
}

func datasync(f *os.File) experimentalsys.Errno {
	return control(f, func(fd int) syscall.Errno {
		if err := syscall.Fdatasync(fd); err != nil {
			return err.(syscall.Errno)
		}
		return 0
	})
}

// utimeOmit is Linux's UTIME_OMIT.
const utimeOmit = (1 << 30) - 2

// futimens is utimensat(fd, NULL, times, 0): the times of the open file.
func futimens(f *os.File, atim, mtim int64) experimentalsys.Errno {
	var ts [2]syscall.Timespec
	for i, t := range [2]int64{atim, mtim} {
		if t == experimentalsys.UTIME_OMIT {
			ts[i] = syscall.Timespec{Nsec: utimeOmit}
		} else {
			ts[i] = syscall.NsecToTimespec(t)
		}
	}
	return control(f, func(fd int) syscall.Errno {
		_, _, e := syscall.Syscall6(syscall.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		return e
	})
}
