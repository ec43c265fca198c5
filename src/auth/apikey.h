/*
 * apikey.h — the API key format.
 *
 *   pc_<prefix>_<secret><check>
 *     prefix: 12 characters [a-z0-9], random, public: the lookup key
 *     secret: 64 lowercase hex characters (256 random bits)
 *     check:  8 lowercase hex characters, the first 4 bytes of
 *             BLAKE2b-256("pc_<prefix>_<secret>") — unkeyed, so a secret
 *             scanner can tell a real leaked key from a look-alike without
 *             asking us (the habit of GitHub's token checksums)
 *
 * 88 characters. The store keeps BLAKE2b-256 keyed with the api-key subkey
 * over the whole key; a presented key is parsed strictly, its checksum
 * checked (a typo costs no store lookup), looked up by prefix and compared
 * in constant time.
 */
#ifndef PC_AUTH_APIKEY_H
#define PC_AUTH_APIKEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

#define PC_APIKEY_SECRET_HEX 64
#define PC_APIKEY_CHECK_HEX 8
#define PC_APIKEY_LEN (3 + PC_APIKEY_PREFIX_LEN + 1 + PC_APIKEY_SECRET_HEX + PC_APIKEY_CHECK_HEX)

/* A fresh key into out (PC_APIKEY_LEN + 1), its prefix (PC_APIKEY_PREFIX_LEN
 * + 1) and its keyed hash. */
void pc_apikey_generate(char *out, char *prefix, uint8_t hash[32], const uint8_t subkey[32]);

/* Whether text has the exact shape and a valid checksum; fills prefix. */
PC_MUST_USE bool pc_apikey_parse(const char *text, size_t len, char *prefix);

/* The keyed hash of a (parsed) key. */
void pc_apikey_hash(uint8_t hash[32], const char *text, size_t len, const uint8_t subkey[32]);

#endif
