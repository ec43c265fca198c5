/*
 * qrsvg.h — a QR code as an SVG image, for TOTP enrolment (the otpauth URI).
 *
 * The one file of ours that uses libqrencode (qrsvg.c): it encodes the text
 * (8-bit mode, error correction M) and we draw the modules ourselves as one
 * SVG path, with the 4-module quiet zone ISO/IEC 18004 asks for. No script,
 * no external reference: the image is served same-origin with no-store.
 */
#ifndef PC_CORE_QRSVG_H
#define PC_CORE_QRSVG_H

#include <stddef.h>

#include "core/err.h"

/* The SVG of text's QR code in *out (malloc'd, NUL-terminated; the caller
 * wipes and frees it: it draws a secret), *len its length. 0, or -1 (text
 * too long for a QR code, out of memory). */
PC_MUST_USE int pc_qr_svg(char **out, size_t *len, const char *text);

#endif
