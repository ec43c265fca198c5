/*
 * qrsvg.c — see qrsvg.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>
#include <sodium.h>

#include "core/qrsvg.h"

#define QUIET 4

int pc_qr_svg(char **out, size_t *len, const char *text)
{
	*out = NULL;
	*len = 0;
	QRcode *qr = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
	if (qr == NULL)
		return -1;
	size_t w = (size_t)qr->width, size = w + 2 * QUIET;
	/* at most one "M%zu %zuh1v1h-1z" (<= 20 bytes) per module, and the frame */
	size_t cap = w * w * 20 + 512;
	char *s = malloc(cap);
	if (s == NULL) {
		QRcode_free(qr);
		return -1;
	}
	size_t n = (size_t)snprintf(s, cap,
	                            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %zu %zu\" "
	                            "width=\"%zu\" height=\"%zu\" shape-rendering=\"crispEdges\" role=\"img\" "
	                            "aria-label=\"QR code of the authenticator setup link\">"
	                            "<rect width=\"%zu\" height=\"%zu\" fill=\"#fff\"/><path fill=\"#000\" d=\"",
	                            size, size, size * 6, size * 6, size, size);
	for (size_t y = 0; y < w; y++)
		for (size_t x = 0; x < w; x++)
			if (qr->data[y * w + x] & 1)
				n += (size_t)snprintf(s + n, cap - n, "M%zu %zuh1v1h-1z", x + QUIET, y + QUIET);
	n += (size_t)snprintf(s + n, cap - n, "\"/></svg>");
	sodium_memzero(qr->data, w * w);
	QRcode_free(qr);
	*out = s;
	*len = n;
	return 0;
}
