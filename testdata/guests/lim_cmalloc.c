// lim_cmalloc allocates and touches 1 MiB blocks, keeping each in a list
// so that the compiler cannot drop them, until malloc returns NULL; then
// it exits 1, as a C program out of memory would.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct block {
	struct block *next;
	char data[(1 << 20) - sizeof(struct block *)];
};

struct block *volatile head;

int main(void) {
	for (;;) {
		struct block *b = malloc(sizeof *b);
		if (b == NULL) {
			fputs("out of memory\n", stderr);
			return 1;
		}
		memset(b->data, 1, sizeof b->data);
		b->next = head;
		head = b;
	}
}
