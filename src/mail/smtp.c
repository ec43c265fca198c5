/*
 * smtp.c — one message to the mail server through libcurl's SMTP client
 * (see smtp.h for the transport rules). libcurl does the SMTP dialogue,
 * AUTH, STARTTLS and the dot-stuffing of "\r\n." in the data; the message
 * itself was built strictly by core/mail.c.
 *
 * libcurl is loaded with dlopen when email is configured (as store/pq.c
 * loads libpq): Debian's libcurl brings libssl, GnuTLS, Kerberos and LDAP
 * with it, which a server without email must not map (ops.test.mjs). Its
 * header gives the types; the functions come from the loaded library.
 */
#include "mail/smtp.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_perform)(CURL *);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	void (*easy_cleanup)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
} C;

int pc_smtp_global_init(void)
{
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return -1;
#define LOAD(field, name)                       \
	*(void **)&C.field = dlsym(h, #name);   \
	if (C.field == NULL)                    \
		return -1;
	LOAD(global_init, curl_global_init)
	LOAD(global_cleanup, curl_global_cleanup)
	LOAD(easy_init, curl_easy_init)
	LOAD(easy_setopt, curl_easy_setopt)
	LOAD(easy_perform, curl_easy_perform)
	LOAD(easy_getinfo, curl_easy_getinfo)
	LOAD(easy_cleanup, curl_easy_cleanup)
	LOAD(easy_strerror, curl_easy_strerror)
	LOAD(slist_append, curl_slist_append)
	LOAD(slist_free_all, curl_slist_free_all)
#undef LOAD
	return C.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void pc_smtp_global_cleanup(void)
{
	if (C.global_cleanup != NULL)
		C.global_cleanup();
}

struct upload {
	const char *p;
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct upload *u = userdata;
	size_t room = size * nitems, n = u->left < room ? u->left : room;
	memcpy(buf, u->p, n);
	u->p += n;
	u->left -= n;
	return n;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	const atomic_bool *stop = clientp;
	return stop != NULL && atomic_load(stop) ? 1 : 0;
}

enum pc_smtp_result pc_smtp_send(const struct pc_config *cfg, const char *to, const char *msg, size_t len,
                                 const atomic_bool *stop, char *err, size_t errlen)
{
	char from[300], rcpt[300], ebuf[CURL_ERROR_SIZE] = "";
	enum pc_smtp_result r = PC_SMTP_TRANSIENT;
	struct curl_slist *rcpts = NULL;
	struct upload up = {msg, len};
	snprintf(err, errlen, "not sent");
	if (C.easy_init == NULL) {
		snprintf(err, errlen, "libcurl is not loaded");
		return PC_SMTP_TRANSIENT;
	}
	CURL *c = C.easy_init();
	if (c == NULL) {
		snprintf(err, errlen, "cannot start a mail transfer (out of memory)");
		return PC_SMTP_TRANSIENT;
	}
	snprintf(from, sizeof(from), "<%s>", cfg->smtp_from);
	snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	rcpts = C.slist_append(NULL, rcpt);
	if (rcpts == NULL)
		goto out;
	bool ok = C.easy_setopt(c, CURLOPT_URL, cfg->smtp_url) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_USE_SSL, (long)(cfg->smtp_insecure ? CURLUSESSL_NONE : CURLUSESSL_ALL)) ==
	                  CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_MAIL_FROM, from) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_READDATA, &up) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)PC_SMTP_CONNECT_TIMEOUT_S) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_TIMEOUT, (long)PC_SMTP_TIMEOUT_S) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_XFERINFODATA, (void *)stop) == CURLE_OK &&
	          C.easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) == CURLE_OK;
	if (ok && cfg->smtp_ca_file[0] != '\0')
		ok = C.easy_setopt(c, CURLOPT_CAINFO, cfg->smtp_ca_file) == CURLE_OK;
	if (ok && cfg->smtp_user[0] != '\0')
		ok = C.easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user) == CURLE_OK &&
		     C.easy_setopt(c, CURLOPT_PASSWORD, cfg->keys ? cfg->keys->smtp_password : "") == CURLE_OK;
	if (!ok) {
		snprintf(err, errlen, "this libcurl lacks an option SMTP needs");
		goto out;
	}
	CURLcode rc = C.easy_perform(c);
	long code = 0;
	(void)C.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		r = PC_SMTP_SENT;
		snprintf(err, errlen, "accepted (%ld)", code);
	} else {
		/* a 5xx refusal of the recipient or the data is final; anything
		 * else (no STARTTLS, certificate, network, 4xx) may pass later */
		r = code >= 500 && code < 600 && (rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR ||
		                                  rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_UPLOAD_FAILED)
		        ? PC_SMTP_PERMANENT
		        : PC_SMTP_TRANSIENT;
		snprintf(err, errlen, "%s%s%s (server reply %ld)", C.easy_strerror(rc), ebuf[0] ? ": " : "", ebuf,
		         code);
	}
out:
	C.slist_free_all(rcpts);
	C.easy_cleanup(c);
	return r;
}
