/* url.h — URLs shown to a person (messages, logs, config check). */
#ifndef PC_CORE_URL_H
#define PC_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Writes url into out[outlen] (always terminated, cut when too long) with
 * the password of its userinfo and the value of every parameter whose key
 * ends in "password=" replaced by "****". url NULL gives "". */
void pc_url_mask(char *out, size_t outlen, const char *url);

/* Whether p[0..len) is a path prefix portcullis may answer under and put
 * in the links it emits (PORTCULLIS_PATH_PREFIX, X-Forwarded-Prefix): "/"
 * then segments of letters, digits, '-', '.', '_', '~' separated by single
 * "/", no "." or ".." segment, no trailing "/", at most PC_PATH_PREFIX_MAX
 * bytes. Nothing to escape, and never "//" (a link to another host). */
bool pc_url_prefix_valid(const char *p, size_t len);

#endif
