// Command goescape is a hostile Go guest (GOOS=wasip1 GOARCH=wasm) for the
// internal/rootfs tests. It tries to leave its mounts through the standard
// library (os.ReadFile, os.Symlink, os.Link, os.Rename,
// filepath.EvalSymlinks...) and does the legitimate work a tool does in a
// read-write mount.
//
// It reads commands from stdin, one per line, words separated by single
// spaces, and prints one line per command: "ok ..." or "err NAME", where
// NAME is the errno's name. File content is printed with '\n' as "\n".
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			fmt.Println(run(strings.Split(line, " ")))
		}
	}
}

func run(a []string) string {
	arg := func(i int) string {
		if i < len(a) {
			return a[i]
		}
		return ""
	}
	switch a[0] {
	case "read":
		b, err := os.ReadFile(arg(1))
		return result(strings.ReplaceAll(string(b), "\n", `\n`), err)
	case "write":
		return result("", os.WriteFile(arg(1), []byte(arg(2)), 0o666))
	case "append":
		f, err := os.OpenFile(arg(1), os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return result("", err)
		}
		_, err = f.WriteString(arg(2))
		f.Close()
		return result("", err)
	case "symlink":
		return result("", os.Symlink(arg(1), arg(2)))
	case "link":
		return result("", os.Link(arg(1), arg(2)))
	case "rename":
		return result("", os.Rename(arg(1), arg(2)))
	case "eval":
		p, err := filepath.EvalSymlinks(arg(1))
		return result(p, err)
	case "readlink":
		p, err := os.Readlink(arg(1))
		return result(p, err)
	case "mkdir":
		return result("", os.Mkdir(arg(1), 0o777))
	case "mkdirall":
		return result("", os.MkdirAll(arg(1), 0o777))
	case "remove":
		return result("", os.Remove(arg(1)))
	case "removeall":
		return result("", os.RemoveAll(arg(1)))
	case "truncate":
		n, _ := strconv.ParseInt(arg(2), 10, 64)
		return result("", os.Truncate(arg(1), n))
	case "chmod":
		return result("", os.Chmod(arg(1), 0o4777))
	case "chtimes":
		t := time.Unix(1_000_000_000, 0)
		return result("", os.Chtimes(arg(1), t, t))
	case "ls":
		es, err := os.ReadDir(arg(1))
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return result(strings.Join(names, " "), err)
	case "walk":
		var names []string
		err := filepath.WalkDir(arg(1), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			names = append(names, p)
			return nil
		})
		slices.Sort(names)
		return result(strings.Join(names, " "), err)
	case "stat", "lstat":
		stat := os.Stat
		if a[0] == "lstat" {
			stat = os.Lstat
		}
		fi, err := stat(arg(1))
		if err != nil {
			return result("", err)
		}
		return result(fmt.Sprintf("%v %d", fi.Mode(), fi.Size()), nil)
	}
	return "bad command " + a[0]
}

func result(s string, err error) string {
	if err == nil {
		return strings.TrimSpace("ok " + s)
	}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			return "err " + name
		}
		return fmt.Sprintf("err errno%d", int(errno))
	}
	return "err " + err.Error()
}

var errnoNames = map[syscall.Errno]string{
	syscall.EACCES: "EACCES", syscall.EBADF: "EBADF", syscall.EEXIST: "EEXIST",
	syscall.EINVAL: "EINVAL", syscall.EIO: "EIO", syscall.EISDIR: "EISDIR",
	syscall.ELOOP: "ELOOP", syscall.ENOENT: "ENOENT", syscall.ENOSYS: "ENOSYS",
	syscall.ENOTDIR: "ENOTDIR", syscall.ENOTEMPTY: "ENOTEMPTY", syscall.EPERM: "EPERM",
	syscall.EROFS: "EROFS", syscall.EXDEV: "EXDEV", syscall.ENOTCAPABLE: "ENOTCAPABLE",
	syscall.ENOTSUP: "ENOTSUP",
}
