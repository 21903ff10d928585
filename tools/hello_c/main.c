// hello_c: a moat tool in plain C, built with clang and wasi-libc.
//
// It reads the call's arguments (one JSON object) from stdin and writes
// "hello, NAME!" to stdout. The manifest's input schema only admits a
// short name without quotes or backslashes, and the host validates every
// call against it before this program starts, so a small scanner is enough
// here: no JSON library, no SDK, just the ABI (docs/abi.md).
#include <stdio.h>
#include <string.h>

// moat.log sends a log message to the MCP client (ABI v1). Without a
// header, declare it yourself; sdk/c/moat.h has the same declarations.
__attribute__((import_module("moat"), import_name("log")))
void moat_log(int level, const char *msg, int len);

#define MAX_INPUT 4096

// find_name copies the string value of the "name" key into out.
static int find_name(const char *in, char *out, size_t cap) {
	const char *p = strstr(in, "\"name\"");
	if (!p) return -1;
	p += 6;
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == ':') p++;
	if (*p++ != '"') return -1;
	size_t n = 0;
	while (*p && *p != '"') {
		if (n + 1 >= cap) return -1;
		out[n++] = *p++;
	}
	out[n] = 0;
	return *p == '"' ? 0 : -1;
}

int main(void) {
	static char in[MAX_INPUT + 1];
	size_t n = fread(in, 1, MAX_INPUT, stdin);
	in[n] = 0;

	char name[128];
	if (find_name(in, name, sizeof name) != 0) {
		// stderr's tail becomes the error the agent reads; exit non-zero.
		fputs("missing \"name\"\n", stderr);
		return 1;
	}
	const char msg[] = "greeting someone";
	moat_log(1, msg, (int)strlen(msg));
	fputs("hello, ", stdout);
	fputs(name, stdout);
	fputs("!\n", stdout);
	return 0;
}
