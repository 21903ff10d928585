// lim_cmalloc allocates and touches 1 MiB blocks until malloc returns NULL,
// then exits 1, as a C program out of memory would.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
	for (;;) {
		char *p = malloc(1 << 20);
		if (p == NULL) {
			fputs("out of memory\n", stderr);
			return 1;
		}
		memset(p, 1, 1 << 20);
	}
}
