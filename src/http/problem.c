/* problem.c — see problem.h. The README's problem-type table is this
 * table (tests/e2e/openapi.test.mjs compares them). */
#include "http/problem.h"

#include <string.h>

const struct pc_problem_kind pc_problem_kinds[PC_PROB__COUNT] = {
	[PC_PROB_MALFORMED_REQUEST] = {"malformed-request", 400, "Malformed request",
		"The HTTP request could not be parsed or breaks a rule of the strict parser (request line, header fields, target, Host, Content-Length); the connection is closed.",
		"Fix the client or proxy that sent it; do not retry it unchanged."},
	[PC_PROB_NOT_FOUND] = {"not-found", 404, "Not found",
		"No resource at this path, or no such user, session, API key or file (ids that cannot exist are answered the same way).",
		"Check the path or the id; a deleted resource stays gone."},
	[PC_PROB_METHOD_NOT_ALLOWED] = {"method-not-allowed", 405, "Method not allowed",
		"The resource exists but does not serve this method; the Allow header lists the ones it does.",
		"Use a method from Allow."},
	[PC_PROB_REQUEST_TIMEOUT] = {"request-timeout", 408, "Request timeout",
		"The request head or body was not received within PORTCULLIS_HEADER_TIMEOUT or PORTCULLIS_BODY_TIMEOUT; the connection is closed.",
		"Send the whole request promptly on a new connection."},
	[PC_PROB_LENGTH_REQUIRED] = {"length-required", 411, "Length required",
		"A chunked request body: portcullis accepts only bodies with a Content-Length.",
		"Send the body with Content-Length."},
	[PC_PROB_BODY_TOO_LARGE] = {"body-too-large", 413, "Body too large",
		"The request body is larger than PORTCULLIS_MAX_BODY_BYTES.",
		"Send a smaller body; every body the API accepts is a small JSON object."},
	[PC_PROB_URI_TOO_LONG] = {"uri-too-long", 414, "URI too long",
		"The request target or request line is longer than 4 KiB.",
		"Shorten the URL (for example a long rd= or query)."},
	[PC_PROB_UNSUPPORTED_MEDIA_TYPE] = {"unsupported-media-type", 415, "Unsupported media type",
		"The body is not declared as application/json (optionally with charset=utf-8), or, where the OpenAPI document allows it (revoke, introspect), application/x-www-form-urlencoded.",
		"Send Content-Type: application/json (or the form type where documented)."},
	[PC_PROB_EXPECTATION_FAILED] = {"expectation-failed", 417, "Expectation failed",
		"An Expect header other than 100-continue.",
		"Send no Expect header, or Expect: 100-continue."},
	[PC_PROB_HEADER_TOO_LARGE] = {"header-too-large", 431, "Request header fields too large",
		"The request head is larger than 16 KiB, or has too many header fields or cookies.",
		"Send fewer or smaller header fields (often: stale cookies for this host)."},
	[PC_PROB_INTERNAL_ERROR] = {"internal-error", 500, "Internal error",
		"portcullis failed in a way that is not the client's fault; nothing about the cause is disclosed (the server log has it, under the X-Request-Id).",
		"Retry later; report the X-Request-Id to the operator if it persists."},
	[PC_PROB_NOT_IMPLEMENTED] = {"not-implemented", 501, "Not implemented",
		"A method (TRACE, CONNECT, unknown ones) or transfer coding portcullis does not implement.",
		"Use a method and framing the API documents."},
	[PC_PROB_UNAVAILABLE] = {"unavailable", 503, "Service unavailable",
		"A backend (the store, Redis, the revocation list) cannot answer, or the server is overloaded; nothing was changed.",
		"Retry after the Retry-After seconds."},
	[PC_PROB_HTTP_VERSION] = {"http-version-not-supported", 505, "HTTP version not supported",
		"Only HTTP/1.0 and HTTP/1.1 are served.",
		"Speak HTTP/1.1."},
	[PC_PROB_INVALID_BODY] = {"invalid-body", 400, "Invalid request body",
		"The body is not valid JSON or not an object (or a malformed form body), has a duplicate, unknown or missing member, or a member of the wrong type, length or form; detail names it.",
		"Correct the body as the OpenAPI document describes; do not retry it unchanged."},
	[PC_PROB_INVALID_QUERY] = {"invalid-query", 400, "Invalid query",
		"A query parameter is unknown, repeated, empty or malformed; detail names it.",
		"Correct the query as the OpenAPI document describes."},
	[PC_PROB_WEAK_PASSWORD] = {"weak-password", 400, "Password not accepted",
		"A new password breaks the policy: at least 15 characters, at most 1,024 bytes of valid UTF-8, hard enough to guess (zxcvbn, with the user's email and the service's names as known words) and not in the breached-password list; detail says why in a sentence, reason in a word (too_short, too_long, invalid_utf8, too_common, contains_email, contains_site_name, breached).",
		"Ask the user for another password: a few unrelated words make a good one."},
	[PC_PROB_INVALID_RESET_TOKEN] = {"invalid-reset-token", 400, "Invalid reset token",
		"The password reset token is unknown, used or expired.",
		"Ask an administrator for a new reset token."},
	[PC_PROB_INVALID_CODE] = {"invalid-code", 400, "Invalid code",
		"The second-factor code is wrong, already used or out of its time step, or no authenticator waits for it.",
		"Enter the current code of your authenticator (or an unused recovery code)."},
	[PC_PROB_PASSKEY_REFUSED] = {"passkey-refused", 400, "Passkey refused",
		"The passkey answer was refused: its challenge is unknown, used or expired, or its origin, relying party, flags, signature, key or counter is wrong; the audit trail says which.",
		"Ask for new options and try again with a passkey registered here."},
	[PC_PROB_AUTHENTICATION_REQUIRED] = {"authentication-required", 401, "Authentication required",
		"No valid credential: none was sent, or the session cookie, bearer token or API key is invalid, expired or revoked; detail says which.",
		"Sign in again (or refresh the access token) and retry."},
	[PC_PROB_SECOND_FACTOR_REQUIRED] = {"second-factor-required", 401, "Second factor required",
		"The password was right; a second factor must complete the sign-in.",
		"POST {mfa_token, method, code} to /api/v1/auth/token within 5 minutes, or finish the login page's second step."},
	[PC_PROB_INVALID_CREDENTIALS] = {"invalid-credentials", 401, "Invalid email or password",
		"The email and password do not match a user; the answer does not say which was wrong.",
		"Let the user retry; repeated failures are throttled."},
	[PC_PROB_INVALID_REFRESH_TOKEN] = {"invalid-refresh-token", 401, "Invalid refresh token",
		"The refresh token is unknown, expired or already used; a reused one has revoked its whole family.",
		"Sign in again to get a new token pair."},
	[PC_PROB_CSRF_FAILED] = {"csrf-failed", 403, "CSRF check failed",
		"An unsafe request carrying (or setting) the session cookie lacked a valid X-CSRF-Token equal to the __Host-portcullis_csrf cookie, or came cross-site or from a foreign Origin.",
		"Fetch GET /api/v1/auth/csrf-token and send its token in X-CSRF-Token, from the same origin."},
	[PC_PROB_FORBIDDEN] = {"forbidden", 403, "Forbidden",
		"The credential is valid but may not do this: an API key on a user or API-key route (PORTCULLIS_API_KEYS_CAN_ADMIN), a password change by a non-user, or a forwarded request the access rules deny.",
		"Do not retry with the same credential; use one that is allowed."},
	[PC_PROB_ENROLMENT_REQUIRED] = {"second-factor-enrolment-required", 403, "Second factor enrolment required",
		"The password was right, but PORTCULLIS_REQUIRE_SECOND_FACTOR requires this user to have a second factor and they have none yet: the session can only set one up (or sign out), and no token pair is issued.",
		"Sign in on the login page and set up an authenticator (it asks right after the password); then retry."},
	[PC_PROB_WRONG_PASSWORD] = {"wrong-password", 403, "Current password incorrect",
		"The current password given to change it is not correct; repeated failures are throttled like logins.",
		"Ask the user for their current password again."},
	[PC_PROB_CONFLICT] = {"conflict", 409, "Conflict",
		"The resource already exists (a user with this email).",
		"Use another value, or the existing resource."},
	[PC_PROB_ALREADY_SET_UP] = {"already-set-up", 409, "Setup already done",
		"The first user exists already; setup happens once.",
		"Sign in instead."},
	[PC_PROB_LAST_USER] = {"last-user", 409, "Last user",
		"The last user cannot be deleted: nobody could sign in afterwards.",
		"Add another user first."},
	[PC_PROB_LAST_ADMIN] = {"last-admin", 409, "Last admin",
		"The last enabled admin can be neither demoted, disabled nor deleted: nobody could administer portcullis "
		"afterwards.",
		"Make another user an admin first."},
	[PC_PROB_THROTTLED] = {"throttled", 429, "Too many requests",
		"Too many failed sign-ins, password guesses or reset attempts for this account or address, or too many refreshes for this user.",
		"Wait the Retry-After seconds before trying again."},
	[PC_PROB_EMAIL_DISABLED] = {"email-disabled", 503, "Email not configured",
		"This server sends no mail (PORTCULLIS_SMTP_URL is not set), so it cannot mail a reset link.",
		"Ask an administrator for a reset link."},
	[PC_PROB_INVALID_EMAIL_TOKEN] = {"invalid-email-token", 400, "Invalid confirmation link",
		"The email-change confirmation token is unknown, used or expired.",
		"Ask for the change again from the console."},
};

enum pc_problem pc_problem_for_status(int status)
{
	switch (status) {
	case 400: return PC_PROB_MALFORMED_REQUEST;
	case 401: return PC_PROB_AUTHENTICATION_REQUIRED;
	case 403: return PC_PROB_FORBIDDEN;
	case 404: return PC_PROB_NOT_FOUND;
	case 405: return PC_PROB_METHOD_NOT_ALLOWED;
	case 408: return PC_PROB_REQUEST_TIMEOUT;
	case 409: return PC_PROB_CONFLICT;
	case 411: return PC_PROB_LENGTH_REQUIRED;
	case 413: return PC_PROB_BODY_TOO_LARGE;
	case 414: return PC_PROB_URI_TOO_LONG;
	case 415: return PC_PROB_UNSUPPORTED_MEDIA_TYPE;
	case 417: return PC_PROB_EXPECTATION_FAILED;
	case 429: return PC_PROB_THROTTLED;
	case 431: return PC_PROB_HEADER_TOO_LARGE;
	case 500: return PC_PROB_INTERNAL_ERROR;
	case 501: return PC_PROB_NOT_IMPLEMENTED;
	case 503: return PC_PROB_UNAVAILABLE;
	case 505: return PC_PROB_HTTP_VERSION;
	default: return PC_PROB__COUNT;
	}
}

enum pc_problem pc_problem_find(const char *s, size_t len)
{
	for (int k = 0; k < PC_PROB__COUNT; k++)
		if (strlen(pc_problem_kinds[k].slug) == len && memcmp(pc_problem_kinds[k].slug, s, len) == 0)
			return (enum pc_problem)k;
	return PC_PROB__COUNT;
}
