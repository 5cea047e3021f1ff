/*
 * Tests of subnet_json (the C SDK's JSON reader and writer), built for the host with
 * AddressSanitizer and UBSan by sdk/c/tests/run.sh, so a leak, an overrun or undefined
 * behaviour fails the run as surely as a wrong value.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../subnet_json.h"

static int failures;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                     \
    }                                                                 \
  } while (0)

static subnet_json_t *parse(const char *text) {
  char *error = NULL;
  subnet_json_t *root = subnet_json_parse(text, strlen(text), &error);
  if (!root) fprintf(stderr, "unexpected parse error for %s: %s\n", text, error);
  free(error);
  return root;
}

/* Parsing `text` fails with a message containing `want`. */
static void rejects(const char *text, size_t len, const char *want) {
  char *error = NULL;
  subnet_json_t *root = subnet_json_parse(text, len, &error);
  if (root || !error || !strstr(error, want)) {
    fprintf(stderr, "for %.*s: wanted an error with `%s`, got %s\n", (int)len, text, want, error ? error : "a value");
    failures++;
  }
  subnet_json_free(root);
  free(error);
}

static void reads_objects_arrays_and_scalars(void) {
  subnet_json_t *root = parse(" {\"text\": \"h\\u00e9llo \\\"w\\\"\\n\", \"n\": [1, -2, 3.5e2, 18446744073709551615],"
                              " \"ok\": true, \"none\": null, \"n\": 7} ");
  CHECK(root && subnet_json_kind(root) == SUBNET_JSON_OBJECT);
  CHECK(subnet_json_len(root) == 5);
  const char *s;
  size_t len;
  CHECK(subnet_json_string(subnet_json_get(root, "text"), &s, &len));
  CHECK(len == strlen("h\xc3\xa9llo \"w\"\n") && strcmp(s, "h\xc3\xa9llo \"w\"\n") == 0);
  /* The last duplicate wins, as in serde_json. */
  uint64_t u;
  CHECK(subnet_json_u64(subnet_json_get(root, "n"), &u) && u == 7);
  const subnet_json_t *list = subnet_json_at(root, 1);
  CHECK(subnet_json_kind(list) == SUBNET_JSON_ARRAY && subnet_json_len(list) == 4);
  int64_t i;
  CHECK(subnet_json_i64(subnet_json_at(list, 1), &i) && i == -2);
  CHECK(!subnet_json_u64(subnet_json_at(list, 1), &u));
  double d;
  CHECK(subnet_json_number(subnet_json_at(list, 2), &d) && d == 350.0);
  CHECK(!subnet_json_u64(subnet_json_at(list, 2), &u)); /* written with an exponent */
  CHECK(subnet_json_u64(subnet_json_at(list, 3), &u) && u == UINT64_MAX);
  CHECK(!subnet_json_i64(subnet_json_at(list, 3), &i));
  bool b;
  CHECK(subnet_json_bool(subnet_json_get(root, "ok"), &b) && b);
  CHECK(subnet_json_kind(subnet_json_get(root, "none")) == SUBNET_JSON_NULL && subnet_json_get(root, "none"));
  size_t klen;
  CHECK(strcmp(subnet_json_key_at(root, 0, &klen), "text") == 0 && klen == 4);
  /* Absent and wrong-kind lookups chain without crashing. */
  CHECK(subnet_json_get(root, "missing") == NULL);
  CHECK(!subnet_json_string(subnet_json_get(subnet_json_at(root, 9), "x"), &s, &len));
  CHECK(subnet_json_at(list, 4) == NULL && subnet_json_key_at(list, 0, NULL) == NULL);
  subnet_json_free(root);

  root = parse("\"\\ud83d\\ude00 \\u0000!\"");
  CHECK(subnet_json_string(root, &s, &len) && len == 7 && memcmp(s, "\xf0\x9f\x98\x80 \0!", 7) == 0);
  subnet_json_free(root);
  root = parse("[[], {}, \"\", -0, 0.5]");
  CHECK(root && subnet_json_len(subnet_json_at(root, 0)) == 0 && subnet_json_len(subnet_json_at(root, 1)) == 0);
  CHECK(subnet_json_string(subnet_json_at(root, 2), &s, &len) && len == 0 && s[0] == '\0');
  CHECK(subnet_json_i64(subnet_json_at(root, 3), &i) && i == 0);
  subnet_json_free(root);
  root = parse("-9223372036854775808");
  CHECK(subnet_json_i64(root, &i) && i == INT64_MIN);
  subnet_json_free(root);
}

static void refuses_what_serde_json_refuses(void) {
  rejects("", 0, "found the end");
  rejects("01", 2, "leading zero");
  rejects("+1", 2, "expected a value");
  rejects("1.", 2, "fraction needs a digit");
  rejects("1e", 2, "exponent needs a digit");
  rejects("NaN", 3, "expected a value");
  rejects("[1,]", 4, "expected a value at byte 3");
  rejects("[1 2]", 5, "expected ',' or ']' at byte 3");
  rejects("{\"a\" 1}", 7, "expected ':'");
  rejects("{1: 2}", 6, "expected a key");
  rejects("\"abc", 4, "unterminated string at byte 0");
  rejects("\"a\tb\"", 5, "raw control character");
  rejects("\"\\x\"", 4, "unknown escape");
  rejects("\"\\ud800\"", 8, "without its low half");
  rejects("\"\\udc00\"", 8, "lone low surrogate");
  rejects("\"\\u12\"", 6, "four hex digits");
  rejects("\"\xc3\x28\"", 4, "invalid UTF-8");
  rejects("\"\xed\xa0\x80\"", 5, "invalid UTF-8"); /* an encoded surrogate */
  rejects("\"\xc0\xaf\"", 4, "invalid UTF-8");     /* overlong */
  rejects("tru", 3, "expected a value");
  rejects("{} {}", 5, "trailing characters");
  rejects("[1, 2", 5, "unterminated array");
  rejects("1\0", 2, "trailing characters");
  /* Nesting: 128 levels read, 129 are refused, and a deep refusal frees what it built. */
  char deep[300];
  for (int n = 128; n <= 129; n++) {
    memset(deep, '[', (size_t)n);
    memset(deep + n, ']', (size_t)n);
    char *error = NULL;
    subnet_json_t *root = subnet_json_parse(deep, (size_t)(2 * n), &error);
    CHECK((n == 128) == (root != NULL));
    CHECK(n == 128 || strstr(error, "nesting deeper than 128"));
    subnet_json_free(root);
    free(error);
  }
  const char *prefix = "[1, {\"a\": [true, ";
  size_t plen = strlen(prefix);
  memcpy(deep, prefix, plen);
  memset(deep + plen, '[', 200);
  rejects(deep, plen + 200, "nesting deeper than 128");
}

static char *finish(subnet_json_writer_t *w) {
  char *out = NULL;
  size_t len = 0;
  const char *error = NULL;
  if (!subnet_json_writer_finish(w, &out, &len, &error)) {
    fprintf(stderr, "writer failed: %s\n", error);
    failures++;
    return NULL;
  }
  CHECK(strlen(out) == len);
  return out;
}

static void writes_what_it_reads(void) {
  subnet_json_writer_t w = SUBNET_JSON_WRITER_INIT;
  subnet_json_begin_object(&w);
  subnet_json_key(&w, "text");
  subnet_json_write_string(&w, "h\xc3\xa9 \"q\" \\ \n\t\x01");
  subnet_json_key(&w, "nums");
  subnet_json_begin_array(&w);
  subnet_json_write_number(&w, 0.1);
  subnet_json_write_number(&w, -2.5e-300);
  subnet_json_write_number(&w, 3.0);
  subnet_json_write_u64(&w, UINT64_MAX);
  subnet_json_write_i64(&w, INT64_MIN);
  subnet_json_end_array(&w);
  subnet_json_key(&w, "nested");
  subnet_json_begin_object(&w);
  subnet_json_end_object(&w);
  subnet_json_key(&w, "flags");
  subnet_json_begin_array(&w);
  subnet_json_write_bool(&w, false);
  subnet_json_write_null(&w);
  subnet_json_write_string_n(&w, "a\0b", 3);
  subnet_json_end_array(&w);
  subnet_json_end_object(&w);
  char *text = finish(&w);
  const char *want = "{\"text\":\"h\xc3\xa9 \\\"q\\\" \\\\ \\n\\t\\u0001\",\"nums\":[0.1,-2.5e-300,3,"
                     "18446744073709551615,-9223372036854775808],\"nested\":{},\"flags\":[false,null,\"a\\u0000b\"]}";
  CHECK(text && strcmp(text, want) == 0);
  if (text && strcmp(text, want) != 0) fprintf(stderr, "got  %s\nwant %s\n", text, want);
  /* And it reads back to the same values. */
  subnet_json_t *root = text ? parse(text) : NULL;
  const char *s;
  size_t len;
  CHECK(subnet_json_string(subnet_json_get(root, "text"), &s, &len) && strcmp(s, "h\xc3\xa9 \"q\" \\ \n\t\x01") == 0);
  double d;
  CHECK(subnet_json_number(subnet_json_at(subnet_json_get(root, "nums"), 0), &d) && d == 0.1);
  CHECK(subnet_json_number(subnet_json_at(subnet_json_get(root, "nums"), 1), &d) && d == -2.5e-300);
  subnet_json_free(root);
  free(text);

  /* Every double that is not round reads back exactly from the shortest text. */
  for (int k = 1; k < 2000; k++) {
    double value = 1.0 / k * (k % 2 ? 1e-7 : 3e12);
    subnet_json_write_number(&w, value);
    char *t = finish(&w);
    CHECK(t && strtod(t, NULL) == value);
    free(t);
  }
  subnet_json_write_string(&w, "top-level string");
  text = finish(&w);
  CHECK(text && strcmp(text, "\"top-level string\"") == 0);
  free(text);
}

/* Each misuse makes finish fail with a message naming it, and frees the buffer. */
static void misuse(void (*steps)(subnet_json_writer_t *), const char *want) {
  subnet_json_writer_t w = SUBNET_JSON_WRITER_INIT;
  steps(&w);
  char *out = NULL;
  size_t len;
  const char *error = NULL;
  bool ok = subnet_json_writer_finish(&w, &out, &len, &error);
  if (ok || !error || !strstr(error, want)) {
    fprintf(stderr, "wanted a writer error with `%s`, got %s\n", want, ok ? out : error);
    failures++;
  }
  if (ok) free(out);
  CHECK(w.buf == NULL && w.depth == 0);
}

static void value_without_key(subnet_json_writer_t *w) {
  subnet_json_begin_object(w);
  subnet_json_write_u64(w, 1);
}
static void key_in_array(subnet_json_writer_t *w) {
  subnet_json_begin_array(w);
  subnet_json_key(w, "k");
}
static void unbalanced(subnet_json_writer_t *w) {
  subnet_json_begin_array(w);
  subnet_json_end_object(w);
}
static void left_open(subnet_json_writer_t *w) {
  subnet_json_begin_array(w);
  subnet_json_write_u64(w, 1);
}
static void nan_number(subnet_json_writer_t *w) {
  subnet_json_begin_array(w);
  subnet_json_write_number(w, NAN);
  subnet_json_end_array(w);
}
static void two_values(subnet_json_writer_t *w) {
  subnet_json_write_u64(w, 1);
  subnet_json_write_u64(w, 2);
}
static void bad_utf8(subnet_json_writer_t *w) { subnet_json_write_string(w, "\xff"); }
static void dangling_key(subnet_json_writer_t *w) {
  subnet_json_begin_object(w);
  subnet_json_key(w, "k");
  subnet_json_end_object(w);
}
static void too_deep(subnet_json_writer_t *w) {
  for (int i = 0; i < 130; i++) subnet_json_begin_array(w);
}
static void nothing(subnet_json_writer_t *w) { (void)w; }

int main(void) {
  reads_objects_arrays_and_scalars();
  refuses_what_serde_json_refuses();
  writes_what_it_reads();
  misuse(value_without_key, "where a key is due");
  misuse(key_in_array, "a key outside an object");
  misuse(unbalanced, "end_object without its begin_object");
  misuse(left_open, "still open");
  misuse(nan_number, "NaN or infinite");
  misuse(two_values, "a second value");
  misuse(bad_utf8, "not UTF-8");
  misuse(dangling_key, "after a key, before its value");
  misuse(too_deep, "nesting deeper");
  misuse(nothing, "nothing was written");
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  printf("subnet_json: all checks passed\n");
  return 0;
}
