/* subnet_json.c: the C SDK's JSON reader and writer; see subnet_json.h for the rules. */
#include "subnet_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct subnet_json {
  subnet_json_kind_t kind;
  union {
    bool boolean;
    struct {
      double value;
      /* Written without fraction or exponent, and its magnitude fits 64 bits. */
      bool integral;
      bool negative;
      uint64_t magnitude;
    } number;
    struct {
      char *ptr;
      size_t len;
    } string;
    struct {
      subnet_json_t *items;
      /* Objects only: the key of each item. */
      char **keys;
      size_t *key_lens;
      size_t len, cap;
    } list;
  } u;
};

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) abort();
  return q;
}

/* ---- a growable byte buffer -------------------------------------------------------------- */

typedef struct {
  char *ptr;
  size_t len, cap;
} buffer_t;

static void buf_reserve(buffer_t *b, size_t more) {
  if (b->cap - b->len > more) return;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len <= more) {
    if (cap > SIZE_MAX / 2) abort();
    cap *= 2;
  }
  b->ptr = xrealloc(b->ptr, cap);
  b->cap = cap;
}

static void buf_push(buffer_t *b, const void *bytes, size_t n) {
  buf_reserve(b, n);
  memcpy(b->ptr + b->len, bytes, n);
  b->len += n;
  b->ptr[b->len] = '\0';
}

static void buf_byte(buffer_t *b, char c) { buf_push(b, &c, 1); }

/* ---- UTF-8 ------------------------------------------------------------------------------- */

/* The length of the well-formed UTF-8 sequence at s (Unicode's table 3-7: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when it is not one. */
static size_t utf8_sequence(const uint8_t *s, const uint8_t *end) {
  size_t avail = (size_t)(end - s);
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  size_t n;
  uint8_t lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (avail < n) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return n;
}

static void utf8_encode(buffer_t *b, uint32_t cp) {
  char out[4];
  size_t n;
  if (cp < 0x80) {
    out[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  buf_push(b, out, n);
}

/* ---- reading ----------------------------------------------------------------------------- */

typedef struct {
  const uint8_t *start, *s, *end;
  char *error;
} parser_t;

static bool fail_at(parser_t *p, const uint8_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool fail_at(parser_t *p, const uint8_t *at, const char *fmt, ...) {
  if (p->error) return false;
  char what[160];
  va_list args;
  va_start(args, fmt);
  vsnprintf(what, sizeof what, fmt, args);
  va_end(args);
  size_t n = strlen(what) + 48;
  p->error = xrealloc(NULL, n);
  snprintf(p->error, n, "%s at byte %zu", what, (size_t)(at - p->start));
  return false;
}

static void skip_space(parser_t *p) {
  while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static void free_value(subnet_json_t *v) {
  switch (v->kind) {
    case SUBNET_JSON_STRING:
      free(v->u.string.ptr);
      break;
    case SUBNET_JSON_ARRAY:
    case SUBNET_JSON_OBJECT:
      for (size_t i = 0; i < v->u.list.len; i++) {
        free_value(&v->u.list.items[i]);
        if (v->u.list.keys) free(v->u.list.keys[i]);
      }
      free(v->u.list.items);
      free(v->u.list.keys);
      free(v->u.list.key_lens);
      break;
    default:
      break;
  }
  v->kind = SUBNET_JSON_NULL;
}

static int hex_digit(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Four hex digits after "\u" at p->s. */
static bool parse_hex4(parser_t *p, uint32_t *out) {
  if (p->end - p->s < 4) return fail_at(p, p->s, "a \\u escape needs four hex digits");
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int d = hex_digit(p->s[i]);
    if (d < 0) return fail_at(p, p->s + i, "a \\u escape needs four hex digits");
    v = v << 4 | (uint32_t)d;
  }
  p->s += 4;
  *out = v;
  return true;
}

/* A string whose opening quote is at p->s; its decoded bytes go to `out`. */
static bool parse_string_bytes(parser_t *p, buffer_t *out) {
  const uint8_t *open = p->s++;
  buf_reserve(out, 0);
  out->ptr[out->len] = '\0';
  for (;;) {
    if (p->s >= p->end) return fail_at(p, open, "unterminated string");
    uint8_t c = *p->s;
    if (c == '"') {
      p->s++;
      return true;
    }
    if (c < 0x20) return fail_at(p, p->s, "a raw control character (0x%02x) in a string", c);
    if (c != '\\') {
      size_t n = utf8_sequence(p->s, p->end);
      if (n == 0) return fail_at(p, p->s, "invalid UTF-8 in a string");
      buf_push(out, p->s, n);
      p->s += n;
      continue;
    }
    const uint8_t *escape = p->s++;
    if (p->s >= p->end) return fail_at(p, open, "unterminated string");
    char e = (char)*p->s++;
    switch (e) {
      case '"': buf_byte(out, '"'); break;
      case '\\': buf_byte(out, '\\'); break;
      case '/': buf_byte(out, '/'); break;
      case 'b': buf_byte(out, '\b'); break;
      case 'f': buf_byte(out, '\f'); break;
      case 'n': buf_byte(out, '\n'); break;
      case 'r': buf_byte(out, '\r'); break;
      case 't': buf_byte(out, '\t'); break;
      case 'u': {
        uint32_t cp;
        if (!parse_hex4(p, &cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail_at(p, escape, "a lone low surrogate \\u%04" PRIX32, cp);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t low;
          if (p->end - p->s < 2 || p->s[0] != '\\' || p->s[1] != 'u')
            return fail_at(p, escape, "a high surrogate \\u%04" PRIX32 " without its low half", cp);
          p->s += 2;
          if (!parse_hex4(p, &low)) return false;
          if (low < 0xDC00 || low > 0xDFFF)
            return fail_at(p, escape, "a high surrogate \\u%04" PRIX32 " without its low half", cp);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        utf8_encode(out, cp);
        break;
      }
      default:
        return fail_at(p, escape, "an unknown escape \\%c", e);
    }
  }
}

static bool parse_number(parser_t *p, subnet_json_t *v) {
  const uint8_t *begin = p->s;
  bool negative = false;
  if (p->s < p->end && *p->s == '-') {
    negative = true;
    p->s++;
  }
  if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail_at(p, begin, "a number needs a digit");
  bool fits = true;
  uint64_t magnitude = 0;
  if (*p->s == '0') {
    p->s++;
    if (p->s < p->end && *p->s >= '0' && *p->s <= '9') return fail_at(p, begin, "a number with a leading zero");
  } else {
    for (; p->s < p->end && *p->s >= '0' && *p->s <= '9'; p->s++) {
      uint64_t digit = (uint64_t)(*p->s - '0');
      if (magnitude > (UINT64_MAX - digit) / 10) fits = false;
      if (fits) magnitude = magnitude * 10 + digit;
    }
  }
  bool integral = true;
  if (p->s < p->end && *p->s == '.') {
    integral = false;
    p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail_at(p, p->s, "a fraction needs a digit");
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
  }
  if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
    integral = false;
    p->s++;
    if (p->s < p->end && (*p->s == '+' || *p->s == '-')) p->s++;
    if (p->s >= p->end || *p->s < '0' || *p->s > '9') return fail_at(p, p->s, "an exponent needs a digit");
    while (p->s < p->end && *p->s >= '0' && *p->s <= '9') p->s++;
  }
  /* strtod needs a NUL-terminated copy; numbers are short, the rare long one is malloc'd. */
  size_t n = (size_t)(p->s - begin);
  char small[64];
  char *text = n < sizeof small ? small : xrealloc(NULL, n + 1);
  memcpy(text, begin, n);
  text[n] = '\0';
  v->kind = SUBNET_JSON_NUMBER;
  v->u.number.value = strtod(text, NULL);
  if (text != small) free(text);
  v->u.number.integral = integral && fits;
  v->u.number.negative = negative;
  v->u.number.magnitude = magnitude;
  return true;
}

static bool parse_value(parser_t *p, subnet_json_t *v, size_t depth);

static void list_push(subnet_json_t *list, const subnet_json_t *item, char *key, size_t key_len) {
  if (list->u.list.len == list->u.list.cap) {
    size_t cap = list->u.list.cap ? list->u.list.cap * 2 : 4;
    list->u.list.items = xrealloc(list->u.list.items, cap * sizeof *list->u.list.items);
    if (list->kind == SUBNET_JSON_OBJECT) {
      list->u.list.keys = xrealloc(list->u.list.keys, cap * sizeof *list->u.list.keys);
      list->u.list.key_lens = xrealloc(list->u.list.key_lens, cap * sizeof *list->u.list.key_lens);
    }
    list->u.list.cap = cap;
  }
  list->u.list.items[list->u.list.len] = *item;
  if (list->kind == SUBNET_JSON_OBJECT) {
    list->u.list.keys[list->u.list.len] = key;
    list->u.list.key_lens[list->u.list.len] = key_len;
  }
  list->u.list.len++;
}

/* An array or object whose opening bracket is at p->s. */
static bool parse_container(parser_t *p, subnet_json_t *v, size_t depth) {
  bool object = *p->s == '{';
  char close = object ? '}' : ']';
  const uint8_t *open = p->s++;
  if (depth >= SUBNET_JSON_MAX_DEPTH) return fail_at(p, open, "nesting deeper than %d", SUBNET_JSON_MAX_DEPTH);
  memset(v, 0, sizeof *v);
  v->kind = object ? SUBNET_JSON_OBJECT : SUBNET_JSON_ARRAY;
  skip_space(p);
  if (p->s < p->end && *p->s == close) {
    p->s++;
    return true;
  }
  for (;;) {
    buffer_t key = {0};
    if (object) {
      skip_space(p);
      if (p->s >= p->end || *p->s != '"') return fail_at(p, p->s, "expected a key (a string)");
      if (!parse_string_bytes(p, &key)) {
        free(key.ptr);
        return false;
      }
      skip_space(p);
      if (p->s >= p->end || *p->s != ':') {
        free(key.ptr);
        return fail_at(p, p->s, "expected ':' after a key");
      }
      p->s++;
    }
    subnet_json_t item = {0};
    if (!parse_value(p, &item, depth + 1)) {
      free(key.ptr);
      free_value(&item);
      return false;
    }
    list_push(v, &item, key.ptr, key.len);
    skip_space(p);
    if (p->s < p->end && *p->s == ',') {
      p->s++;
      continue;
    }
    if (p->s < p->end && *p->s == (uint8_t)close) {
      p->s++;
      return true;
    }
    if (p->s >= p->end) return fail_at(p, open, "unterminated %s", object ? "object" : "array");
    return fail_at(p, p->s, "expected ',' or '%c'", close);
  }
}

static bool parse_literal(parser_t *p, const char *word) {
  size_t n = strlen(word);
  if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n) != 0) return fail_at(p, p->s, "expected a value");
  p->s += n;
  return true;
}

static bool parse_value(parser_t *p, subnet_json_t *v, size_t depth) {
  skip_space(p);
  memset(v, 0, sizeof *v);
  if (p->s >= p->end) return fail_at(p, p->s, "expected a value, found the end");
  switch (*p->s) {
    case '{':
    case '[':
      return parse_container(p, v, depth);
    case '"': {
      buffer_t b = {0};
      if (!parse_string_bytes(p, &b)) {
        free(b.ptr);
        return false;
      }
      v->kind = SUBNET_JSON_STRING;
      v->u.string.ptr = b.ptr;
      v->u.string.len = b.len;
      return true;
    }
    case 't':
      v->kind = SUBNET_JSON_BOOL;
      v->u.boolean = true;
      return parse_literal(p, "true");
    case 'f':
      v->kind = SUBNET_JSON_BOOL;
      return parse_literal(p, "false");
    case 'n':
      return parse_literal(p, "null");
    default:
      if (*p->s == '-' || (*p->s >= '0' && *p->s <= '9')) return parse_number(p, v);
      return fail_at(p, p->s, "expected a value");
  }
}

subnet_json_t *subnet_json_parse(const void *bytes, size_t len, char **error) {
  const uint8_t *s = bytes ? bytes : (const uint8_t *)"";
  parser_t p = {s, s, s + len, NULL};
  subnet_json_t *root = xrealloc(NULL, sizeof *root);
  bool ok = parse_value(&p, root, 0);
  if (ok) {
    skip_space(&p);
    if (p.s != p.end) ok = fail_at(&p, p.s, "trailing characters after the value");
  }
  if (!ok) {
    free_value(root);
    free(root);
    if (error) *error = p.error;
    else free(p.error);
    return NULL;
  }
  if (error) *error = NULL;
  return root;
}

void subnet_json_free(subnet_json_t *root) {
  if (!root) return;
  free_value(root);
  free(root);
}

subnet_json_kind_t subnet_json_kind(const subnet_json_t *value) { return value ? value->kind : SUBNET_JSON_NULL; }

const subnet_json_t *subnet_json_get(const subnet_json_t *object, const char *key) {
  if (!object || object->kind != SUBNET_JSON_OBJECT || !key) return NULL;
  size_t n = strlen(key);
  for (size_t i = object->u.list.len; i-- > 0;) {
    if (object->u.list.key_lens[i] == n && memcmp(object->u.list.keys[i], key, n) == 0) return &object->u.list.items[i];
  }
  return NULL;
}

size_t subnet_json_len(const subnet_json_t *value) {
  if (!value || (value->kind != SUBNET_JSON_ARRAY && value->kind != SUBNET_JSON_OBJECT)) return 0;
  return value->u.list.len;
}

const subnet_json_t *subnet_json_at(const subnet_json_t *value, size_t index) {
  if (index >= subnet_json_len(value)) return NULL;
  return &value->u.list.items[index];
}

const char *subnet_json_key_at(const subnet_json_t *object, size_t index, size_t *len) {
  if (!object || object->kind != SUBNET_JSON_OBJECT || index >= object->u.list.len) return NULL;
  if (len) *len = object->u.list.key_lens[index];
  /* An empty key was never allocated. */
  return object->u.list.keys[index] ? object->u.list.keys[index] : "";
}

bool subnet_json_string(const subnet_json_t *value, const char **out, size_t *len) {
  if (!value || value->kind != SUBNET_JSON_STRING) return false;
  *out = value->u.string.ptr ? value->u.string.ptr : "";
  if (len) *len = value->u.string.len;
  return true;
}

bool subnet_json_number(const subnet_json_t *value, double *out) {
  if (!value || value->kind != SUBNET_JSON_NUMBER) return false;
  *out = value->u.number.value;
  return true;
}

bool subnet_json_u64(const subnet_json_t *value, uint64_t *out) {
  if (!value || value->kind != SUBNET_JSON_NUMBER || !value->u.number.integral) return false;
  if (value->u.number.negative && value->u.number.magnitude != 0) return false;
  *out = value->u.number.magnitude;
  return true;
}

bool subnet_json_i64(const subnet_json_t *value, int64_t *out) {
  if (!value || value->kind != SUBNET_JSON_NUMBER || !value->u.number.integral) return false;
  uint64_t m = value->u.number.magnitude;
  if (value->u.number.negative) {
    if (m > (uint64_t)INT64_MAX + 1) return false;
    *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
  } else {
    if (m > (uint64_t)INT64_MAX) return false;
    *out = (int64_t)m;
  }
  return true;
}

bool subnet_json_bool(const subnet_json_t *value, bool *out) {
  if (!value || value->kind != SUBNET_JSON_BOOL) return false;
  *out = value->u.boolean;
  return true;
}

/* ---- writing ----------------------------------------------------------------------------- */

enum { OPEN_OBJECT = 1, OPEN_HAS_ITEM = 2 };

static bool mistake(subnet_json_writer_t *w, const char *what) {
  if (!w->mistake) w->mistake = what;
  return false;
}

static void raw(subnet_json_writer_t *w, const char *bytes, size_t n) {
  buffer_t b = {w->buf, w->len, w->cap};
  buf_push(&b, bytes, n);
  w->buf = b.ptr;
  w->len = b.len;
  w->cap = b.cap;
}

/* Before any value: checks it is due here and writes the comma it needs. */
static bool before_value(subnet_json_writer_t *w) {
  if (w->mistake) return false;
  if (w->done) return mistake(w, "a second value after the top-level value was complete");
  if (w->depth == 0) return true;
  uint8_t *top = &w->open[w->depth - 1];
  if (*top & OPEN_OBJECT) {
    if (!w->key_written) return mistake(w, "a value in an object where a key is due (call subnet_json_key first)");
    w->key_written = false;
    return true;
  }
  if (*top & OPEN_HAS_ITEM) raw(w, ",", 1);
  *top |= OPEN_HAS_ITEM;
  return true;
}

static void after_value(subnet_json_writer_t *w) {
  if (w->depth == 0) w->done = true;
}

static void begin(subnet_json_writer_t *w, bool object) {
  if (!before_value(w)) return;
  if (w->depth >= SUBNET_JSON_MAX_DEPTH) {
    mistake(w, "nesting deeper than SUBNET_JSON_MAX_DEPTH");
    return;
  }
  w->open[w->depth++] = object ? OPEN_OBJECT : 0;
  raw(w, object ? "{" : "[", 1);
}

static void end(subnet_json_writer_t *w, bool object) {
  if (w->mistake) return;
  if (w->depth == 0 || ((w->open[w->depth - 1] & OPEN_OBJECT) != 0) != object) {
    mistake(w, object ? "an end_object without its begin_object" : "an end_array without its begin_array");
    return;
  }
  if (w->key_written) {
    mistake(w, "an object ended after a key, before its value");
    return;
  }
  w->depth--;
  raw(w, object ? "}" : "]", 1);
  after_value(w);
}

void subnet_json_begin_object(subnet_json_writer_t *w) { begin(w, true); }
void subnet_json_end_object(subnet_json_writer_t *w) { end(w, true); }
void subnet_json_begin_array(subnet_json_writer_t *w) { begin(w, false); }
void subnet_json_end_array(subnet_json_writer_t *w) { end(w, false); }

static void quoted(subnet_json_writer_t *w, const char *s, size_t len) {
  const uint8_t *p = (const uint8_t *)s, *stop = p + len;
  for (const uint8_t *q = p; q < stop;) {
    size_t n = utf8_sequence(q, stop);
    if (n == 0) {
      mistake(w, "a string that is not UTF-8");
      return;
    }
    q += n;
  }
  raw(w, "\"", 1);
  const uint8_t *run = p;
  for (; p < stop; p++) {
    uint8_t c = *p;
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    raw(w, (const char *)run, (size_t)(p - run));
    run = p + 1;
    char esc[8];
    switch (c) {
      case '"': raw(w, "\\\"", 2); break;
      case '\\': raw(w, "\\\\", 2); break;
      case '\b': raw(w, "\\b", 2); break;
      case '\f': raw(w, "\\f", 2); break;
      case '\n': raw(w, "\\n", 2); break;
      case '\r': raw(w, "\\r", 2); break;
      case '\t': raw(w, "\\t", 2); break;
      default:
        snprintf(esc, sizeof esc, "\\u%04x", c);
        raw(w, esc, 6);
    }
  }
  raw(w, (const char *)run, (size_t)(p - run));
  raw(w, "\"", 1);
}

void subnet_json_key(subnet_json_writer_t *w, const char *key) {
  if (w->mistake) return;
  if (w->depth == 0 || !(w->open[w->depth - 1] & OPEN_OBJECT)) {
    mistake(w, "a key outside an object");
    return;
  }
  if (w->key_written) {
    mistake(w, "a key after a key, before its value");
    return;
  }
  uint8_t *top = &w->open[w->depth - 1];
  if (*top & OPEN_HAS_ITEM) raw(w, ",", 1);
  *top |= OPEN_HAS_ITEM;
  quoted(w, key ? key : "", key ? strlen(key) : 0);
  raw(w, ":", 1);
  w->key_written = true;
}

void subnet_json_write_string_n(subnet_json_writer_t *w, const char *s, size_t len) {
  if (!before_value(w)) return;
  quoted(w, s ? s : "", s ? len : 0);
  after_value(w);
}

void subnet_json_write_string(subnet_json_writer_t *w, const char *s) {
  subnet_json_write_string_n(w, s, s ? strlen(s) : 0);
}

void subnet_json_write_number(subnet_json_writer_t *w, double value) {
  if (w->mistake) return;
  if (!isfinite(value)) {
    mistake(w, "a NaN or infinite number (JSON has none)");
    return;
  }
  if (!before_value(w)) return;
  /* The shortest %g text that strtod reads back as the same double (17 digits always do). */
  char text[32];
  for (int precision = 1; precision <= 17; precision++) {
    snprintf(text, sizeof text, "%.*g", precision, value);
    if (strtod(text, NULL) == value) break;
  }
  raw(w, text, strlen(text));
  after_value(w);
}

void subnet_json_write_u64(subnet_json_writer_t *w, uint64_t value) {
  if (!before_value(w)) return;
  char text[24];
  int n = snprintf(text, sizeof text, "%" PRIu64, value);
  raw(w, text, (size_t)n);
  after_value(w);
}

void subnet_json_write_i64(subnet_json_writer_t *w, int64_t value) {
  if (!before_value(w)) return;
  char text[24];
  int n = snprintf(text, sizeof text, "%" PRId64, value);
  raw(w, text, (size_t)n);
  after_value(w);
}

void subnet_json_write_bool(subnet_json_writer_t *w, bool value) {
  if (!before_value(w)) return;
  raw(w, value ? "true" : "false", value ? 4 : 5);
  after_value(w);
}

void subnet_json_write_null(subnet_json_writer_t *w) {
  if (!before_value(w)) return;
  raw(w, "null", 4);
  after_value(w);
}

void subnet_json_writer_discard(subnet_json_writer_t *w) {
  free(w->buf);
  memset(w, 0, sizeof *w);
}

bool subnet_json_writer_finish(subnet_json_writer_t *w, char **out, size_t *len, const char **error) {
  const char *why = w->mistake;
  if (!why && !w->done) why = w->depth ? "unfinished: an array or object is still open" : "nothing was written";
  if (why) {
    if (error) *error = why;
    subnet_json_writer_discard(w);
    return false;
  }
  *out = w->buf;
  if (len) *len = w->len;
  memset(w, 0, sizeof *w);
  return true;
}
