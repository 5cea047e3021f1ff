/*
 * subnet_sdk.h: helpers for writing a Bittensor subnet for subnetd in C.
 *
 * `subnetd build <dir>` generates the contract's bindings as "subnet.h" (wit-bindgen C, world
 * renamed `subnet`, so validator and miner share one header name and `subnet_string_t`),
 * compiles every .c file of the guest directory with this SDK for wasm32-wasi, and wraps the
 * result into a component. A validator defines the three `exports_subnet_plugin_validator_api_*`
 * functions of subnet.h, a miner `exports_subnet_plugin_miner_api_handle`.
 *
 * Ownership, as wit-bindgen C defines it: an export owns its arguments (free them with the
 * generated `*_free` functions when done); what it returns in `ret` / `err` must be allocated
 * with malloc (the generated post-return code frees it). Every call runs in a fresh instance,
 * so a leak lasts one call, but a trap (abort, out-of-bounds access) fails the call: the host
 * reports the trap with what the guest wrote to stderr.
 */
#ifndef SUBNET_SDK_H
#define SUBNET_SDK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "subnet.h"
#include "subnet_json.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Content type of JSON payloads. */
#define SUBNET_JSON "application/json"
/** Timeout of a task when the author has no better idea: 12 s, as the subnet template's. */
#define SUBNET_DEFAULT_TIMEOUT_MS 12000u
/** The smoothing of subnet_ema_reward, as the subnet template's moving_average_alpha. */
#define SUBNET_DEFAULT_ALPHA 0.1

/* ---- strings and errors ------------------------------------------------------------------ */

/** A malloc'd copy of a C string. */
subnet_string_t subnet_str(const char *s);
/** A malloc'd, printf-formatted string. */
subnet_string_t subnet_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Sets `*err` to a printf-formatted message and returns false, for `return subnet_fail(err, ...)`. */
bool subnet_fail(subnet_string_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Whether a WIT string equals a C string. */
bool subnet_str_eq(const subnet_string_t *s, const char *c);

/* ---- log --------------------------------------------------------------------------------- */

void subnet_log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void subnet_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void subnet_log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void subnet_log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- random (seeded by the host: the same sandbox seed replays the same values) ---------- */

/** 64 random bits. */
uint64_t subnet_random_u64(void);
/** A uniform value in [0, bound) (0 when bound is 0), without modulo bias: the same rejection
 *  sampling as the Rust SDK's random::below, so C draws what Rust draws. */
uint64_t subnet_random_below(uint64_t bound);
/** A uniform double in [0, 1). */
double subnet_random_unit(void);

/* ---- payloads ---------------------------------------------------------------------------- */

/** Whether the payload's content type is application/json (parameters allowed). */
bool subnet_payload_is_json(const subnet_plugin_types_payload_t *p);
/** Writes `value` as a JSON number payload (malloc'd). */
void subnet_payload_json_u64(subnet_plugin_types_payload_t *out, uint64_t value);
/** A payload with a copy of `len` bytes and the given content type (malloc'd). */
void subnet_payload_bytes(subnet_plugin_types_payload_t *out, const char *content_type,
                          const void *bytes, size_t len);
/** Reads a JSON payload that holds one unsigned 64-bit integer, as serde_json reads a u64:
 *  optional surrounding whitespace, digits without a leading zero, no sign, fraction or
 *  exponent, no overflow. Returns false (and leaves *out alone) for anything else. */
bool subnet_json_parse_u64(const subnet_plugin_types_payload_t *p, uint64_t *out);
/** Parses a JSON payload into a tree (subnet_json.h; free it with subnet_json_free). NULL when
 *  the content type is not application/json or the body is not JSON, with `*err` (when not
 *  NULL) set to a malloc'd message naming what and where, so an export can pass it on:
 *    subnet_json_t *task = subnet_json_parse_payload(&request->payload, err);
 *    if (!task) return false; */
subnet_json_t *subnet_json_parse_payload(const subnet_plugin_types_payload_t *p, subnet_string_t *err);
/** Finishes `w` (subnet_json.h) into a JSON payload: `out` takes over the writer's text. False
 *  when the writer was misused or left unfinished, with `*err` (when not NULL) naming the
 *  mistake; `out` is then untouched. */
bool subnet_json_writer_payload(subnet_json_writer_t *w, subnet_plugin_types_payload_t *out, subnet_string_t *err);

/* ---- metagraph --------------------------------------------------------------------------- */

/** Stake above which a neuron with a validator permit counts as a validator, not a miner (the
 *  subnet template's vpermit_tao_limit): on small subnets every staked neuron has a permit. */
#define SUBNET_VPERMIT_STAKE_LIMIT 4096.0

/** Whether to send tasks to `n`: it is not this validator, and it does not hold a validator
 *  permit with more than SUBNET_VPERMIT_STAKE_LIMIT stake (the subnet template's
 *  check_uid_availability, and the Rust SDK's miners()). */
bool subnet_is_miner(const subnet_plugin_types_epoch_context_t *ctx,
                     const subnet_plugin_types_neuron_t *n);
/** How many neurons of the context subnet_is_miner accepts. */
size_t subnet_count_miners(const subnet_plugin_types_epoch_context_t *ctx);

/* ---- reward ------------------------------------------------------------------------------ */

/** The default reward: each uid's running score becomes alpha * round + (1 - alpha) * old (a
 *  uid not scored this round keeps its score; a new uid is appended with alpha * round);
 *  weights are the running scores. Same float operations and entry order as the Rust SDK's
 *  ema_reward. Reads `state` and `round` (the caller still owns and frees them) and fills
 *  `ret` with newly malloc'd lists. */
void subnet_ema_reward(const subnet_plugin_types_uid_state_t *state, size_t state_len,
                       const subnet_plugin_types_uid_score_t *round, size_t round_len,
                       double alpha, subnet_plugin_types_reward_result_t *ret);

/* ---- outbound HTTP (wasi:http; only to the targets the operator listed) ------------------- */

/** A response read whole. `body` is malloc'd and NUL-terminated after `body_len` bytes (so text
 *  bodies print with %s); free it with subnet_http_response_free. */
typedef struct {
  uint16_t status;
  uint8_t *body;
  size_t body_len;
} subnet_http_response_t;

/** Sends one request and reads the whole response. `url` is http://host[:port]/path?query or
 *  https://...; `headers` are `header_count` "name: value" strings (NULL when 0); `body` may be
 *  NULL. True: `*response` is filled (the caller frees it). False: `*error` holds a malloc'd
 *  message and `*response` holds nothing; the host's refusals name the rule they hit
 *  (`outbound_hosts: http://10.0.0.1:80 is not allowed (allowed: ...)`,
 *  `outbound.max_requests_per_round: ...`), other failures are wasi:http's error-code names
 *  (`connection-read-timeout`, `HTTP-response-body-size`, ...). Since `*error` has the type of
 *  an export's `err`, `if (!subnet_http_get(url, &r, err)) return false;` passes it on. */
bool subnet_http_request(const char *method, const char *url, const char *const *headers, size_t header_count,
                         const void *body, size_t body_len, subnet_http_response_t *response,
                         subnet_string_t *error);
/** `GET url`; see subnet_http_request. */
bool subnet_http_get(const char *url, subnet_http_response_t *response, subnet_string_t *error);
/** Frees a response's body. */
void subnet_http_response_free(subnet_http_response_t *response);

#ifdef __cplusplus
}
#endif

#endif /* SUBNET_SDK_H */
