// net_fetch: sends its stdin (an http_request document) through
// moat.http_request with a 16-byte buffer, so that every real response
// takes the BUFFER_TOO_SMALL → moat_http_response path, then writes the
// response document to stdout, or "errno N" if the request failed.
// Uses sdk/c/moat.h, the header for tools written without the Go SDK.
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../sdk/c/moat.h"

static void out(const char *s) { write(1, s, strlen(s)); }

static void outn(const char *what, uint32_t n) {
	char b[12];
	int i = sizeof b;
	b[--i] = 0;
	do { b[--i] = (char)('0' + n % 10); n /= 10; } while (n);
	out(what);
	out(b + i);
}

int main(void) {
	static char req[1 << 16];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof req && (r = read(0, req + n, sizeof req - n)) > 0) n += (size_t)r;

	char small[16];
	uint32_t len = 12345;
	uint32_t rc = moat_http_request(req, (uint32_t)n, small, sizeof small, &len);
	if (rc == MOAT_HTTP_OK) {
		write(1, small, len);
		return 0;
	}
	if (rc != MOAT_HTTP_ERR_BUFFER_TOO_SMALL) {
		outn("errno ", rc);
		outn(" len ", len);
		return 0;
	}
	uint32_t need = len;
	char *buf = malloc(need);
	// One byte short first: still too small, and still kept.
	rc = moat_http_response(buf, need - 1, &len);
	if (rc != MOAT_HTTP_ERR_BUFFER_TOO_SMALL || len != need) {
		outn("short retry: errno ", rc);
		return 0;
	}
	rc = moat_http_response(buf, need, &len);
	if (rc != MOAT_HTTP_OK) {
		outn("retry: errno ", rc);
		return 0;
	}
	write(1, buf, len);
	// Delivered: nothing is kept any more.
	rc = moat_http_response(buf, need, &len);
	if (rc != MOAT_HTTP_ERR_NO_RESPONSE) outn("\nsecond fetch: errno ", rc);
	return 0;
}
