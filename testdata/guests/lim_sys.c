// lim_sys prints what the sandbox shows it: its arguments, its whole
// environment, the wall clock and 16 random bytes, one item a line:
//
//	arg NAME
//	env NAME=value
//	time NANOSECONDS
//	rand HEX
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	for (int i = 0; i < argc; i++) printf("arg %s\n", argv[i]);
	for (char **e = environ; e && *e; e++) printf("env %s\n", *e);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	printf("time %lld\n", (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	unsigned char buf[16];
	if (getentropy(buf, sizeof buf) != 0) return 1;
	printf("rand ");
	for (int i = 0; i < 16; i++) printf("%02x", buf[i]);
	printf("\n");
	return 0;
}
