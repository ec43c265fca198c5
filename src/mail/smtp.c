/*
 * smtp.c — one message to the mail server through libcurl's SMTP client
 * (see smtp.h for the transport rules). libcurl does the SMTP dialogue,
 * AUTH, STARTTLS and the dot-stuffing of "\r\n." in the data; the message
 * itself was built strictly by core/mail.c.
 */
#include "mail/smtp.h"

#include <stdio.h>
#include <string.h>

#include <curl/curl.h>

int pc_smtp_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void pc_smtp_global_cleanup(void)
{
	curl_global_cleanup();
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
	CURL *c = curl_easy_init();
	if (c == NULL) {
		snprintf(err, errlen, "cannot start a mail transfer (out of memory)");
		return PC_SMTP_TRANSIENT;
	}
	snprintf(from, sizeof(from), "<%s>", cfg->smtp_from);
	snprintf(rcpt, sizeof(rcpt), "<%s>", to);
	rcpts = curl_slist_append(NULL, rcpt);
	if (rcpts == NULL)
		goto out;
	bool ok = curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps") == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(cfg->smtp_insecure ? CURLUSESSL_NONE : CURLUSESSL_ALL)) ==
	                  CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_MAIL_FROM, from) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_UPLOAD, 1L) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_READDATA, &up) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)PC_SMTP_CONNECT_TIMEOUT_S) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PC_SMTP_TIMEOUT_S) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)stop) == CURLE_OK &&
	          curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf) == CURLE_OK;
	if (ok && cfg->smtp_ca_file[0] != '\0')
		ok = curl_easy_setopt(c, CURLOPT_CAINFO, cfg->smtp_ca_file) == CURLE_OK;
	if (ok && cfg->smtp_user[0] != '\0')
		ok = curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user) == CURLE_OK &&
		     curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->keys ? cfg->keys->smtp_password : "") == CURLE_OK;
	if (!ok) {
		snprintf(err, errlen, "this libcurl lacks an option SMTP needs");
		goto out;
	}
	CURLcode rc = curl_easy_perform(c);
	long code = 0;
	(void)curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
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
		snprintf(err, errlen, "%s%s%s (server reply %ld)", curl_easy_strerror(rc), ebuf[0] ? ": " : "", ebuf,
		         code);
	}
out:
	curl_slist_free_all(rcpts);
	curl_easy_cleanup(c);
	return r;
}
