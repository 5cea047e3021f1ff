/* subnet_sdk.c: the C SDK's helpers; see subnet_sdk.h. Compiled into every C guest. */
#include "subnet_sdk.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Weights must be bit-identical to the Rust, Python and JS SDKs: no fused multiply-add. */
#pragma STDC FP_CONTRACT OFF

static subnet_string_t vformat(const char *fmt, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = vsnprintf(NULL, 0, fmt, copy);
  va_end(copy);
  subnet_string_t s = {NULL, 0};
  if (n < 0) return s;
  char *buf = malloc((size_t)n + 1);
  if (!buf) abort();
  vsnprintf(buf, (size_t)n + 1, fmt, args);
  s.ptr = (uint8_t *)buf;
  s.len = (size_t)n;
  return s;
}

subnet_string_t subnet_str(const char *s) {
  subnet_string_t out;
  subnet_string_dup(&out, s);
  return out;
}

subnet_string_t subnet_strf(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  subnet_string_t s = vformat(fmt, args);
  va_end(args);
  return s;
}

bool subnet_fail(subnet_string_t *err, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  *err = vformat(fmt, args);
  va_end(args);
  return false;
}

bool subnet_str_eq(const subnet_string_t *s, const char *c) {
  size_t n = strlen(c);
  return s->len == n && memcmp(s->ptr, c, n) == 0;
}

static void vlog(subnet_plugin_log_level_t level, const char *fmt, va_list args) {
  subnet_string_t message = vformat(fmt, args);
  subnet_plugin_log_log(level, &message);
  subnet_string_free(&message);
}

#define LOG_FN(name, level)                     \
  void name(const char *fmt, ...) {             \
    va_list args;                               \
    va_start(args, fmt);                        \
    vlog(level, fmt, args);                     \
    va_end(args);                               \
  }
LOG_FN(subnet_log_debug, SUBNET_PLUGIN_LOG_LEVEL_DEBUG)
LOG_FN(subnet_log_info, SUBNET_PLUGIN_LOG_LEVEL_INFO)
LOG_FN(subnet_log_warn, SUBNET_PLUGIN_LOG_LEVEL_WARN)
LOG_FN(subnet_log_error, SUBNET_PLUGIN_LOG_LEVEL_ERROR)

uint64_t subnet_random_u64(void) { return subnet_plugin_random_next_u64(); }

uint64_t subnet_random_below(uint64_t bound) {
  if (bound == 0) return 0;
  uint64_t zone = UINT64_MAX - UINT64_MAX % bound;
  for (;;) {
    uint64_t v = subnet_plugin_random_next_u64();
    if (v < zone) return v % bound;
  }
}

double subnet_random_unit(void) {
  return (double)(subnet_plugin_random_next_u64() >> 11) / (double)(UINT64_C(1) << 53);
}

bool subnet_payload_is_json(const subnet_plugin_types_payload_t *p) {
  size_t n = strlen(SUBNET_JSON);
  return p->content_type.len >= n && memcmp(p->content_type.ptr, SUBNET_JSON, n) == 0;
}

void subnet_payload_bytes(subnet_plugin_types_payload_t *out, const char *content_type,
                          const void *bytes, size_t len) {
  subnet_string_dup(&out->content_type, content_type);
  out->body.ptr = malloc(len ? len : 1);
  if (!out->body.ptr) abort();
  if (len) memcpy(out->body.ptr, bytes, len);
  out->body.len = len;
}

void subnet_payload_json_u64(subnet_plugin_types_payload_t *out, uint64_t value) {
  char digits[24];
  int n = snprintf(digits, sizeof digits, "%" PRIu64, value);
  subnet_payload_bytes(out, SUBNET_JSON, digits, (size_t)n);
}

static bool is_json_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool subnet_json_parse_u64(const subnet_plugin_types_payload_t *p, uint64_t *out) {
  if (!subnet_payload_is_json(p)) return false;
  const uint8_t *s = p->body.ptr, *end = p->body.ptr + p->body.len;
  while (s < end && is_json_space(*s)) s++;
  if (s == end || *s < '0' || *s > '9') return false;
  if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9') return false; /* leading zero */
  uint64_t value = 0;
  for (; s < end && *s >= '0' && *s <= '9'; s++) {
    uint64_t digit = (uint64_t)(*s - '0');
    if (value > (UINT64_MAX - digit) / 10) return false; /* overflow */
    value = value * 10 + digit;
  }
  while (s < end && is_json_space(*s)) s++;
  if (s != end) return false; /* a fraction, an exponent or trailing garbage */
  *out = value;
  return true;
}

subnet_json_t *subnet_json_parse_payload(const subnet_plugin_types_payload_t *p, subnet_string_t *err) {
  if (!subnet_payload_is_json(p)) {
    if (err) {
      subnet_fail(err, "expected an application/json payload, got `%.*s`", (int)p->content_type.len,
                  (const char *)p->content_type.ptr);
    }
    return NULL;
  }
  char *why = NULL;
  subnet_json_t *root = subnet_json_parse(p->body.ptr, p->body.len, &why);
  if (!root) {
    if (err) subnet_fail(err, "invalid JSON payload: %s", why ? why : "unknown error");
    free(why);
  }
  return root;
}

bool subnet_json_writer_payload(subnet_json_writer_t *w, subnet_plugin_types_payload_t *out, subnet_string_t *err) {
  char *text;
  size_t len;
  const char *why = NULL;
  if (!subnet_json_writer_finish(w, &text, &len, &why)) {
    if (err) subnet_fail(err, "JSON writer: %s", why);
    return false;
  }
  subnet_string_dup(&out->content_type, SUBNET_JSON);
  out->body.ptr = (uint8_t *)text;
  out->body.len = len;
  return true;
}

bool subnet_is_miner(const subnet_plugin_types_epoch_context_t *ctx,
                     const subnet_plugin_types_neuron_t *n) {
  if (ctx->validator_uid.is_some && ctx->validator_uid.val == n->uid) return false;
  return !(n->validator_permit && n->stake > SUBNET_VPERMIT_STAKE_LIMIT);
}

size_t subnet_count_miners(const subnet_plugin_types_epoch_context_t *ctx) {
  size_t n = 0;
  for (size_t i = 0; i < ctx->neurons.len; i++) n += subnet_is_miner(ctx, &ctx->neurons.ptr[i]);
  return n;
}

void subnet_ema_reward(const subnet_plugin_types_uid_state_t *state, size_t state_len,
                       const subnet_plugin_types_uid_score_t *round, size_t round_len,
                       double alpha, subnet_plugin_types_reward_result_t *ret) {
  size_t cap = state_len + round_len;
  subnet_plugin_types_uid_state_t *out = calloc(cap ? cap : 1, sizeof *out);
  if (!out) abort();
  size_t len = 0;
  for (; len < state_len; len++) {
    out[len] = state[len];
    /* The caller keeps its strings; the result needs its own. */
    out[len].hotkey.ptr = malloc(state[len].hotkey.len ? state[len].hotkey.len : 1);
    if (!out[len].hotkey.ptr) abort();
    memcpy(out[len].hotkey.ptr, state[len].hotkey.ptr, state[len].hotkey.len);
  }
  for (size_t r = 0; r < round_len; r++) {
    double value = isfinite(round[r].score) ? round[r].score : 0.0;
    size_t i = 0;
    while (i < len && out[i].uid != round[r].uid) i++;
    if (i < len) {
      out[i].score = alpha * value + (1.0 - alpha) * out[i].score;
      if (out[i].rounds < UINT32_MAX) out[i].rounds++;
    } else {
      out[len].uid = round[r].uid;
      out[len].hotkey.ptr = NULL;
      out[len].hotkey.len = 0;
      out[len].score = alpha * value;
      out[len].rounds = 1;
      len++;
    }
  }
  subnet_plugin_types_weight_t *weights = calloc(len ? len : 1, sizeof *weights);
  if (!weights) abort();
  for (size_t i = 0; i < len; i++) {
    weights[i].uid = out[i].uid;
    weights[i].value = out[i].score > 0.0 ? out[i].score : 0.0;
  }
  ret->state.ptr = out;
  ret->state.len = len;
  ret->weights.ptr = weights;
  ret->weights.len = len;
}
