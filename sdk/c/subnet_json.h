/*
 * subnet_json.h: JSON for subnetd's C SDK, read into a tree and written through a writer.
 *
 * Standalone (no subnet.h): it builds and is tested on the host too. subnet_sdk.h adds the
 * bridges to payloads (subnet_json_parse_payload, subnet_json_writer_payload).
 *
 * Reading follows RFC 8259 as serde_json reads it: one value with optional surrounding
 * whitespace, strings with every escape (\uXXXX surrogate pairs become UTF-8; a lone surrogate,
 * a raw control character or invalid UTF-8 is an error), numbers in JSON's grammar only (no
 * NaN, no leading zeros, no `+`), nesting at most SUBNET_JSON_MAX_DEPTH deep. A duplicate key
 * is kept; subnet_json_get finds the last one, as serde_json's maps do. An error names what was
 * wrong and the byte offset.
 *
 * Ownership: subnet_json_parse returns one malloc'd tree, freed whole by subnet_json_free.
 * Every pointer an accessor returns (values, keys, string bytes) is borrowed from that tree
 * and lives until it is freed. Accessors take NULL and a value of the wrong kind and answer
 * "absent" (NULL, 0 or false), so lookups chain without checks in between:
 *   subnet_json_string(subnet_json_get(subnet_json_at(root, 0), "text"), &s, &n)
 *
 * Writing: a subnet_json_writer_t grows a malloc'd buffer and places commas and colons itself.
 * A writer that was misused (a value where a key is due, an end without a begin, nesting past
 * the limit, a non-finite number) remembers the first mistake: subnet_json_writer_finish then
 * fails with it instead of producing broken JSON. Strings are escaped as serde_json escapes
 * them (", \, control characters; non-ASCII UTF-8 is written as is).
 */
#ifndef SUBNET_JSON_H
#define SUBNET_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The deepest nesting of arrays and objects read or written (serde_json's limit is 128). */
#define SUBNET_JSON_MAX_DEPTH 128

typedef enum {
  SUBNET_JSON_NULL,
  SUBNET_JSON_BOOL,
  SUBNET_JSON_NUMBER,
  SUBNET_JSON_STRING,
  SUBNET_JSON_ARRAY,
  SUBNET_JSON_OBJECT,
} subnet_json_kind_t;

/** A JSON value inside a parsed tree (opaque; read it with the accessors). */
typedef struct subnet_json subnet_json_t;

/* ---- reading ----------------------------------------------------------------------------- */

/** Parses `len` bytes. Returns the tree (free it with subnet_json_free), or NULL with a malloc'd
 *  NUL-terminated message in `*error` (free it with free) when `error` is not NULL. */
subnet_json_t *subnet_json_parse(const void *bytes, size_t len, char **error);
/** Frees a tree returned by subnet_json_parse (NULL is fine). */
void subnet_json_free(subnet_json_t *root);

/** The value's kind; SUBNET_JSON_NULL for a NULL pointer too. */
subnet_json_kind_t subnet_json_kind(const subnet_json_t *value);
/** The member `key` of an object (the last one if repeated); NULL when absent or not an object. */
const subnet_json_t *subnet_json_get(const subnet_json_t *object, const char *key);
/** The number of items of an array or members of an object; 0 for anything else. */
size_t subnet_json_len(const subnet_json_t *value);
/** Item `index` of an array, or the value of member `index` of an object; NULL past the end. */
const subnet_json_t *subnet_json_at(const subnet_json_t *value, size_t index);
/** The key of member `index` of an object (NUL-terminated; its length in `*len` if not NULL);
 *  NULL past the end or when not an object. */
const char *subnet_json_key_at(const subnet_json_t *object, size_t index, size_t *len);

/** A string's decoded UTF-8 bytes, NUL-terminated, in `*out` and their count in `*len` (which
 *  may be NULL; a string may itself contain NUL, so `*len` is the true length). */
bool subnet_json_string(const subnet_json_t *value, const char **out, size_t *len);
/** A number as a double (the nearest one, as strtod rounds). */
bool subnet_json_number(const subnet_json_t *value, double *out);
/** A number written as a non-negative integer (no fraction or exponent) that fits 64 bits. */
bool subnet_json_u64(const subnet_json_t *value, uint64_t *out);
/** A number written as an integer (no fraction or exponent) that fits a signed 64 bits. */
bool subnet_json_i64(const subnet_json_t *value, int64_t *out);
/** A boolean. */
bool subnet_json_bool(const subnet_json_t *value, bool *out);

/* ---- writing ----------------------------------------------------------------------------- */

/** A JSON writer. Start it with SUBNET_JSON_WRITER_INIT (or zero it); its fields are private. */
typedef struct {
  char *buf;
  size_t len, cap;
  /* Per open container: whether it is an object, and whether it has an item yet. */
  uint8_t open[SUBNET_JSON_MAX_DEPTH];
  size_t depth;
  bool key_written, done;
  const char *mistake;
} subnet_json_writer_t;

#define SUBNET_JSON_WRITER_INIT {0}

void subnet_json_begin_object(subnet_json_writer_t *w);
void subnet_json_end_object(subnet_json_writer_t *w);
void subnet_json_begin_array(subnet_json_writer_t *w);
void subnet_json_end_array(subnet_json_writer_t *w);
/** The next member's key (in an object, before each value). */
void subnet_json_key(subnet_json_writer_t *w, const char *key);
/** A string value from a NUL-terminated C string. */
void subnet_json_write_string(subnet_json_writer_t *w, const char *s);
/** A string value from `len` bytes (which may contain NUL, written as \u0000). */
void subnet_json_write_string_n(subnet_json_writer_t *w, const char *s, size_t len);
/** A number; the shortest text that reads back as the same double. NaN and infinities are a
 *  mistake (JSON has none). */
void subnet_json_write_number(subnet_json_writer_t *w, double value);
void subnet_json_write_u64(subnet_json_writer_t *w, uint64_t value);
void subnet_json_write_i64(subnet_json_writer_t *w, int64_t value);
void subnet_json_write_bool(subnet_json_writer_t *w, bool value);
void subnet_json_write_null(subnet_json_writer_t *w);

/** Ends writing. True: `*out` holds the malloc'd text (NUL-terminated, free it with free) and
 *  `*len` its length. False: the writer was misused or is unfinished; `*error` (when not NULL)
 *  points to a static message naming the first mistake. Either way the writer's buffer is
 *  handed over or freed, and the writer is zeroed for reuse. */
bool subnet_json_writer_finish(subnet_json_writer_t *w, char **out, size_t *len, const char **error);
/** Frees an unfinished writer's buffer (finish does this itself). */
void subnet_json_writer_discard(subnet_json_writer_t *w);

#ifdef __cplusplus
}
#endif

#endif /* SUBNET_JSON_H */
