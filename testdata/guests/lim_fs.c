// lim_fs reads a command from stdin and touches the filesystem:
//
//	r PATH   print the file's contents
//	w PATH   create or truncate the file and write "hi"
//
// On failure it prints "error: MESSAGE" to stdout and exits 1.
#include <errno.h>
#include <stdio.h>
#include <string.h>

int main(void) {
	char cmd[512];
	size_t n = fread(cmd, 1, sizeof cmd - 1, stdin);
	cmd[n] = 0;
	if (n < 3 || cmd[1] != ' ') return 2;
	const char *path = cmd + 2;
	FILE *f = fopen(path, cmd[0] == 'w' ? "w" : "r");
	if (f == NULL) {
		printf("error: %s\n", strerror(errno));
		return 1;
	}
	if (cmd[0] == 'w') {
		fputs("hi", f);
	} else {
		char buf[4096];
		size_t got;
		while ((got = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, got, stdout);
	}
	fclose(f);
	return 0;
}
