/* url.h — URLs shown to a person (messages, logs, config check). */
#ifndef PC_CORE_URL_H
#define PC_CORE_URL_H

#include <stddef.h>

/* Writes url into out[outlen] (always terminated, cut when too long) with
 * the password of its userinfo and the value of every parameter whose key
 * ends in "password=" replaced by "****". url NULL gives "". */
void pc_url_mask(char *out, size_t outlen, const char *url);

#endif
