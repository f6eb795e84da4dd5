/*
 * zos-cli chain: helpers shared by the chain subcommands (chain_offline.c,
 * chain_sign.c, chain_online.c).
 */
#ifndef ZOS_CLI_CHAIN_H
#define ZOS_CLI_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "chainclient/meta.h"
#include "chainclient/scale.h"

/* Subcommands of chain_codec.c (the table is in chain_offline.c). */
int cli_chain_compact(int argc, char **argv);
int cli_chain_era(int argc, char **argv);
int cli_chain_encode_value(int argc, char **argv);
int cli_chain_decode_value(int argc, char **argv);

/* Loads metadata from a file (raw bytes or 0x-hex); prints the reason on
 * failure. The caller meta_free()s *m. */
int cli_chain_load_meta(const char *path, struct meta **m);
/* Prints p as 0x-hex and a newline on stdout. */
int cli_chain_print_hex(const uint8_t *p, size_t n);
/* Strict decimal parsers for option values: the whole string must be a
 * number that fits. Print "--NAME ..." on failure. */
int cli_chain_parse_u128(const char *name, const char *s, scale_u128 *v);
/* Decodes 0x-hex of any length up to max bytes; the caller frees *p. */
int cli_chain_parse_hex(const char *name, const char *s, size_t max, uint8_t **p, size_t *n);

#endif
