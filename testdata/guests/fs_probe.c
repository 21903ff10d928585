// fs_probe: a hostile, no-SDK guest for host/rootfs tests.
//
// It reads commands from stdin, one per line, words separated by single
// spaces ("%" stands for an empty word), and prints one result line per
// command: "ok ..." or "err NAME" (the WASI errno's name). Content read from
// files is printed with '\n' written as "\n".
//
// Raw WASI calls (MOUNT is a preopen's guest path, e.g. /data):
//   open MOUNT FOLLOW PATH          path_open read-only (FOLLOW: 1 = LOOKUP_SYMLINK_FOLLOW), fd_read
//   write MOUNT PATH DATA           path_open O_CREAT|O_TRUNC for writing, fd_write
//   stat MOUNT FOLLOW PATH          path_filestat_get -> "ok type=T size=S nlink=N"
//   readlink MOUNT PATH             path_readlink -> "ok TARGET"
//   symlink TARGET MOUNT PATH       path_symlink
//   link MOUNT OLD MOUNT2 NEW       path_link (follow)
//   rename MOUNT OLD MOUNT2 NEW     path_rename
//   mkdir MOUNT PATH                path_create_directory
//   rmdir MOUNT PATH                path_remove_directory
//   unlink MOUNT PATH               path_unlink_file
//   readdir MOUNT PATH              path_open O_DIRECTORY + fd_readdir with a
//                                   small buffer and cookies -> "ok a b c" (sorted, without . and ..)
//   opendirfd MOUNT PATH REL        open a directory, then path_open REL relative to it
// wasi-libc calls (absolute guest paths; libc picks the preopen):
//   cat PATH                        fopen + fread
//   lsymlink TARGET PATH            symlink(3)
//   llink OLD NEW                   link(3)
//   lrename OLD NEW                 rename(3)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wasi/api.h>

static const char *errname(int e) {
  switch (e) {
  case __WASI_ERRNO_ACCES: return "EACCES";
  case __WASI_ERRNO_BADF: return "EBADF";
  case __WASI_ERRNO_EXIST: return "EEXIST";
  case __WASI_ERRNO_INVAL: return "EINVAL";
  case __WASI_ERRNO_IO: return "EIO";
  case __WASI_ERRNO_ISDIR: return "EISDIR";
  case __WASI_ERRNO_LOOP: return "ELOOP";
  case __WASI_ERRNO_NOENT: return "ENOENT";
  case __WASI_ERRNO_NOSYS: return "ENOSYS";
  case __WASI_ERRNO_NOTDIR: return "ENOTDIR";
  case __WASI_ERRNO_NOTEMPTY: return "ENOTEMPTY";
  case __WASI_ERRNO_NOTSUP: return "ENOTSUP";
  case __WASI_ERRNO_PERM: return "EPERM";
  case __WASI_ERRNO_ROFS: return "EROFS";
  case __WASI_ERRNO_XDEV: return "EXDEV";
  case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
  case __WASI_ERRNO_RANGE: return "ERANGE";
  case __WASI_ERRNO_NAMETOOLONG: return "ENAMETOOLONG";
  }
  static char buf[32];
  snprintf(buf, sizeof buf, "E%d", e);
  return buf;
}

static int fail(int e) {
  printf("err %s\n", errname(e));
  return 0;
}

// mountfd finds the preopen whose guest path is exactly name.
static int mountfd(const char *name) {
  for (__wasi_fd_t fd = 3; fd < 64; fd++) {
    __wasi_prestat_t ps;
    if (__wasi_fd_prestat_get(fd, &ps) != 0) break;
    if (ps.tag != __WASI_PREOPENTYPE_DIR) continue;
    char buf[256];
    size_t n = ps.u.dir.pr_name_len;
    if (n >= sizeof buf) continue;
    if (__wasi_fd_prestat_dir_name(fd, (uint8_t *)buf, n) != 0) continue;
    buf[n] = 0;
    if (strcmp(buf, name) == 0) return (int)fd;
  }
  return -1;
}

static void printbytes(const char *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (b[i] == '\n') fputs("\\n", stdout);
    else putchar(b[i]);
  }
}

static int readfd(__wasi_fd_t fd) {
  char buf[4096];
  size_t total = 0;
  for (;;) {
    __wasi_iovec_t iov = {(uint8_t *)buf + total, sizeof buf - total};
    __wasi_size_t n;
    int e = __wasi_fd_read(fd, &iov, 1, &n);
    if (e) {
      (void)__wasi_fd_close(fd);
      return fail(e);
    }
    if (n == 0 || total + n >= sizeof buf) { total += n; break; }
    total += n;
  }
  (void)__wasi_fd_close(fd);
  fputs("ok ", stdout);
  printbytes(buf, total);
  putchar('\n');
  return 0;
}

static int cmpstr(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int do_readdir(__wasi_fd_t dir) {
  // A tiny buffer forces many fd_readdir calls, each resuming at a cookie.
  uint8_t buf[48];
  __wasi_dircookie_t cookie = 0;
  char *names[256];
  int count = 0;
  for (;;) {
    __wasi_size_t used;
    int e = __wasi_fd_readdir(dir, buf, sizeof buf, cookie, &used);
    if (e) return fail(e);
    size_t off = 0, progressed = 0;
    while (off + sizeof(__wasi_dirent_t) <= used) {
      __wasi_dirent_t d;
      memcpy(&d, buf + off, sizeof d);
      if (off + sizeof d + d.d_namlen > used) break; // truncated: re-read from this cookie
      char *name = strndup((char *)buf + off + sizeof d, d.d_namlen);
      if (strcmp(name, ".") && strcmp(name, "..") && count < 256) names[count++] = name;
      else free(name);
      cookie = d.d_next;
      off += sizeof d + d.d_namlen;
      progressed = 1;
    }
    if (used < sizeof buf) break;
    if (!progressed) return fail(__WASI_ERRNO_NOBUFS);
  }
  qsort(names, count, sizeof names[0], cmpstr);
  fputs("ok", stdout);
  for (int i = 0; i < count; i++) printf(" %s", names[i]);
  putchar('\n');
  return 0;
}

static const __wasi_rights_t R = __WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_READDIR | __WASI_RIGHTS_FD_SEEK;
static const __wasi_rights_t W = __WASI_RIGHTS_FD_WRITE;

static int run(int argc, char **a) {
  const char *c = a[0];
#define NEED(n) if (argc != (n)) { printf("bad command\n"); return 0; }
#define FD(i) int fd##i = mountfd(a[i]); if (fd##i < 0) { printf("no mount %s\n", a[i]); return 0; }
  if (!strcmp(c, "open")) {
    NEED(4) FD(1)
    __wasi_fd_t f;
    int e = __wasi_path_open(fd1, atoi(a[2]) ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, a[3], 0, R, R, 0, &f);
    return e ? fail(e) : readfd(f);
  }
  if (!strcmp(c, "write")) {
    NEED(4) FD(1)
    __wasi_fd_t f;
    int e = __wasi_path_open(fd1, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a[2], __WASI_OFLAGS_CREAT | __WASI_OFLAGS_TRUNC, R | W, R | W, 0, &f);
    if (e) return fail(e);
    __wasi_ciovec_t iov = {(const uint8_t *)a[3], strlen(a[3])};
    __wasi_size_t n;
    e = __wasi_fd_write(f, &iov, 1, &n);
    (void)__wasi_fd_close(f);
    if (e) return fail(e);
    printf("ok %u\n", (unsigned)n);
    return 0;
  }
  if (!strcmp(c, "stat")) {
    NEED(4) FD(1)
    __wasi_filestat_t st;
    int e = __wasi_path_filestat_get(fd1, atoi(a[2]) ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0, a[3], &st);
    if (e) return fail(e);
    printf("ok type=%u size=%llu nlink=%llu\n", st.filetype, (unsigned long long)st.size, (unsigned long long)st.nlink);
    return 0;
  }
  if (!strcmp(c, "readlink")) {
    NEED(3) FD(1)
    char buf[512];
    __wasi_size_t n;
    int e = __wasi_path_readlink(fd1, a[2], (uint8_t *)buf, sizeof buf, &n);
    if (e) return fail(e);
    printf("ok %.*s\n", (int)n, buf);
    return 0;
  }
  if (!strcmp(c, "symlink")) {
    NEED(4) FD(2)
    int e = __wasi_path_symlink(a[1], fd2, a[3]);
    return e ? fail(e) : (printf("ok\n"), 0);
  }
  if (!strcmp(c, "link") || !strcmp(c, "rename")) {
    NEED(5) FD(1) FD(3)
    int e = !strcmp(c, "link")
                ? __wasi_path_link(fd1, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a[2], fd3, a[4])
                : __wasi_path_rename(fd1, a[2], fd3, a[4]);
    return e ? fail(e) : (printf("ok\n"), 0);
  }
  if (!strcmp(c, "mkdir") || !strcmp(c, "rmdir") || !strcmp(c, "unlink")) {
    NEED(3) FD(1)
    int e = !strcmp(c, "mkdir")   ? __wasi_path_create_directory(fd1, a[2])
            : !strcmp(c, "rmdir") ? __wasi_path_remove_directory(fd1, a[2])
                                  : __wasi_path_unlink_file(fd1, a[2]);
    return e ? fail(e) : (printf("ok\n"), 0);
  }
  if (!strcmp(c, "readdir")) {
    NEED(3) FD(1)
    __wasi_fd_t d;
    int e = __wasi_path_open(fd1, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a[2], __WASI_OFLAGS_DIRECTORY, R, R, 0, &d);
    if (e) return fail(e);
    do_readdir(d);
    (void)__wasi_fd_close(d);
    return 0;
  }
  if (!strcmp(c, "opendirfd")) {
    NEED(4) FD(1)
    __wasi_fd_t d, f;
    int e = __wasi_path_open(fd1, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a[2], __WASI_OFLAGS_DIRECTORY, R, R, 0, &d);
    if (e) return fail(e);
    e = __wasi_path_open(d, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, a[3], 0, R, R, 0, &f);
    (void)__wasi_fd_close(d);
    return e ? fail(e) : readfd(f);
  }
  if (!strcmp(c, "cat")) {
    NEED(2)
    FILE *fp = fopen(a[1], "r");
    if (!fp) return fail(errno);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    fputs("ok ", stdout);
    printbytes(buf, n);
    putchar('\n');
    return 0;
  }
  if (!strcmp(c, "lsymlink") || !strcmp(c, "llink") || !strcmp(c, "lrename")) {
    NEED(3)
    int r = !strcmp(c, "lsymlink") ? symlink(a[1], a[2])
            : !strcmp(c, "llink")  ? link(a[1], a[2])
                                   : rename(a[1], a[2]);
    return r ? fail(errno) : (printf("ok\n"), 0);
  }
  printf("bad command %s\n", c);
  return 0;
}

int main(void) {
  char line[2048];
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    char *argv[8];
    int argc = 0;
    for (char *tok = strtok(line, " "); tok && argc < 8; tok = strtok(NULL, " "))
      argv[argc++] = strcmp(tok, "%") ? tok : "";
    run(argc, argv);
    fflush(stdout);
  }
  return 0;
}
