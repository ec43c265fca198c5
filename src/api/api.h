/*
 * api.h — the HTTP handlers of every resource, and the one route table.
 *
 * Each src/api/<resource>.c parses and validates its input, calls the
 * feature modules, and maps their errors to HTTP. The route table in
 * routes.c is the only place a path, a method and its access rule meet.
 */
#ifndef PC_API_API_H
#define PC_API_API_H

#include "http/request.h"

extern struct pc_route pc_routes[];
extern const size_t pc_n_routes;

void pc_api_health(struct pc_req *r);
void pc_api_ready(struct pc_req *r);
void pc_api_metrics(struct pc_req *r);

void pc_api_setup_get(struct pc_req *r);
void pc_api_setup_post(struct pc_req *r);
void pc_api_login(struct pc_req *r);
void pc_api_logout(struct pc_req *r);
void pc_api_me(struct pc_req *r);
void pc_api_csrf_token(struct pc_req *r);
void pc_api_openapi(struct pc_req *r);
void pc_api_problems_list(struct pc_req *r);
void pc_api_problems_get(struct pc_req *r);
void pc_api_password_reset(struct pc_req *r);
void pc_api_password_reset_request(struct pc_req *r);
void pc_api_email_change(struct pc_req *r);
void pc_api_email_change_confirm(struct pc_req *r);

void pc_api_sessions_list(struct pc_req *r);
void pc_api_sessions_delete_all(struct pc_req *r);
void pc_api_sessions_delete(struct pc_req *r);
/* devices.c: the signed-in user's token families */
void pc_api_devices_list(struct pc_req *r);
void pc_api_devices_revoke(struct pc_req *r);

void pc_api_users_list(struct pc_req *r);
void pc_api_users_create(struct pc_req *r);
void pc_api_users_delete(struct pc_req *r);
void pc_api_users_factors_reset(struct pc_req *r);
void pc_api_users_get(struct pc_req *r);
void pc_api_users_patch(struct pc_req *r);
void pc_api_users_sessions(struct pc_req *r);
void pc_api_users_password(struct pc_req *r);
void pc_api_users_password_put(struct pc_req *r); /* the same, under PUT (its own OpenAPI operation) */
void pc_api_users_reset_issue(struct pc_req *r);

void pc_api_keys_list(struct pc_req *r);
void pc_api_keys_create(struct pc_req *r);
void pc_api_keys_get(struct pc_req *r);
void pc_api_keys_rename(struct pc_req *r);
void pc_api_keys_delete(struct pc_req *r);

void pc_api_token(struct pc_req *r);
void pc_api_refresh(struct pc_req *r);
void pc_api_revoke(struct pc_req *r);
void pc_api_introspect(struct pc_req *r);
void pc_api_jwks(struct pc_req *r);

void pc_api_audit_list(struct pc_req *r);
void pc_api_verify(struct pc_req *r);
void pc_api_access_rules(struct pc_req *r);
void pc_api_access_check(struct pc_req *r);
void pc_api_continue(struct pc_req *r);
void pc_api_totp_enrol(struct pc_req *r);
void pc_api_totp_confirm(struct pc_req *r);
void pc_api_totp_qr(struct pc_req *r);
void pc_api_totp_delete(struct pc_req *r);
void pc_api_recovery_regenerate(struct pc_req *r);
void pc_api_factors_list(struct pc_req *r);
void pc_api_second_factor(struct pc_req *r);
/* passkeys.c */
void pc_api_passkeys_options(struct pc_req *r);
void pc_api_passkeys_register(struct pc_req *r);
void pc_api_passkeys_list(struct pc_req *r);
void pc_api_passkeys_rename(struct pc_req *r);
void pc_api_passkeys_delete(struct pc_req *r);
void pc_api_passkey_second_options(struct pc_req *r);
void pc_api_passkey_second(struct pc_req *r);
void pc_api_passkey_signin_options(struct pc_req *r);
void pc_api_passkey_signin(struct pc_req *r);

void pc_api_oidc_discovery(struct pc_req *r);
void pc_api_oidc_jwks(struct pc_req *r);
void pc_api_oidc_authorize(struct pc_req *r);
void pc_api_oidc_consent(struct pc_req *r);
void pc_api_oidc_token(struct pc_req *r);
void pc_api_oidc_userinfo(struct pc_req *r);
void pc_api_oidc_userinfo_post(struct pc_req *r);
void pc_api_oidc_logout(struct pc_req *r);
void pc_api_oidc_logout_post(struct pc_req *r);
void pc_api_oidc_clients_list(struct pc_req *r);
void pc_api_oidc_clients_create(struct pc_req *r);
void pc_api_oidc_clients_get(struct pc_req *r);
void pc_api_oidc_clients_patch(struct pc_req *r);
void pc_api_oidc_clients_delete(struct pc_req *r);
void pc_api_oidc_consents_list(struct pc_req *r);
void pc_api_oidc_consents_delete(struct pc_req *r);

void pc_web_root(struct pc_req *r);
void pc_web_login(struct pc_req *r);
void pc_web_admin(struct pc_req *r);
void pc_web_logout(struct pc_req *r);
void pc_web_reset(struct pc_req *r);
void pc_web_logout_post(struct pc_req *r);
void pc_web_static(struct pc_req *r);

#endif
