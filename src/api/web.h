/*
 * web.h — the login page and admin console, embedded at build time from
 * web/ (cmake/embed.cmake), served at /login, /admin and /static/<name>.
 */
#ifndef PC_API_WEB_H
#define PC_API_WEB_H

#include <stddef.h>

struct pc_web_asset {
	const char *name;         /* "login.html", "app.js", ... */
	const char *content_type;
	const char *etag;         /* quoted, from the content's SHA-256 */
	const unsigned char *data;
	size_t len;
};

extern const struct pc_web_asset pc_web_assets[];
extern const size_t pc_web_n_assets;

const struct pc_web_asset *pc_web_find(const char *name, size_t len);

#endif
