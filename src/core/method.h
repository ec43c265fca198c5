/*
 * method.h — the request methods portcullis serves (RFC 9110 9.3), shared by
 * the HTTP parser, the router and the metrics, which must not depend on
 * src/http/ for a label.
 */
#ifndef PC_CORE_METHOD_H
#define PC_CORE_METHOD_H

#include <stddef.h>

enum pc_method {
	PC_METHOD_GET = 0,
	PC_METHOD_HEAD,
	PC_METHOD_POST,
	PC_METHOD_PUT,
	PC_METHOD_PATCH,
	PC_METHOD_DELETE,
	PC_METHOD_OPTIONS,
	PC_METHOD__COUNT
};

/* "GET", ...; "UNKNOWN" for a value not below PC_METHOD__COUNT. Static storage. */
const char *pc_method_name(enum pc_method m);

/* The method spelled exactly (case-sensitive, RFC 9110 9.1) by s[0..len),
 * or PC_METHOD__COUNT when it is none of ours. */
enum pc_method pc_method_lookup(const char *s, size_t len);

#endif
