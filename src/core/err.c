/* err.c — pc_errf, the one way a function writes its error line. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

int pc_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}
