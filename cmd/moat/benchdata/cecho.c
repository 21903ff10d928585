// cecho copies stdin to stdout, byte for byte: the C row of `moat bench`
// (build.sh; the same program as testdata/guests/lim_cecho.c).
#include <unistd.h>

int main(void) {
	char buf[32768];
	ssize_t n;
	while ((n = read(0, buf, sizeof buf)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, n - off);
			if (w <= 0) return 1;
			off += w;
		}
	}
	return n < 0 ? 1 : 0;
}
