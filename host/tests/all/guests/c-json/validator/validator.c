/*
 * Sends each miner a few words (with quotes, backslashes, control characters and non-ASCII
 * text) and a separator as a JSON object; an answer scores 1 when its "joined" string and
 * "count" are exactly right. Each score carries the metric `chars`: the answer's length in
 * bytes (0 for a wrong one).
 */
#include <stdlib.h>
#include <string.h>

#include "subnet.h"
#include "subnet_sdk.h"

static const char *const WORDS[] = {
    "h\xc3\xa9llo", "w\xc3\xb6rld", "say \"hi\"", "tab\there", "back\\slash", "emoji \xf0\x9f\x98\x80", "line\nbreak", "plain",
};
#define WORD_COUNT (sizeof WORDS / sizeof WORDS[0])

bool exports_subnet_plugin_validator_api_generate_tasks(subnet_plugin_types_epoch_context_t *ctx,
                                                        exports_subnet_plugin_validator_api_list_task_t *ret,
                                                        subnet_string_t *err) {
  size_t n = subnet_count_miners(ctx);
  ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr);
  ret->len = 0;
  for (size_t i = 0; i < ctx->neurons.len; i++) {
    const subnet_plugin_types_neuron_t *neuron = &ctx->neurons.ptr[i];
    if (!subnet_is_miner(ctx, neuron)) continue;
    subnet_plugin_types_task_t *task = &ret->ptr[ret->len++];
    task->id = subnet_strf("join-%u", (unsigned)neuron->uid);
    task->miners.ptr = malloc(sizeof *task->miners.ptr);
    task->miners.ptr[0] = neuron->uid;
    task->miners.len = 1;
    subnet_json_writer_t w = SUBNET_JSON_WRITER_INIT;
    subnet_json_begin_object(&w);
    subnet_json_key(&w, "words");
    subnet_json_begin_array(&w);
    size_t words = 2 + subnet_random_below(3);
    for (size_t k = 0; k < words; k++) subnet_json_write_string(&w, WORDS[subnet_random_below(WORD_COUNT)]);
    subnet_json_end_array(&w);
    subnet_json_key(&w, "sep");
    subnet_json_write_string(&w, subnet_random_below(2) ? " \xc2\xb7 " : "/");
    subnet_json_end_object(&w);
    if (!subnet_json_writer_payload(&w, &task->payload, err)) return false;
    task->timeout_ms = 2000;
  }
  subnet_plugin_types_epoch_context_free(ctx);
  return true;
}

/* The right "joined" string for `task`, malloc'd, its length in *len; NULL if it is not ours. */
static char *expected(const subnet_json_t *task, size_t *len) {
  const subnet_json_t *words = subnet_json_get(task, "words");
  const char *sep;
  size_t sep_len;
  if (!subnet_json_string(subnet_json_get(task, "sep"), &sep, &sep_len)) return NULL;
  size_t cap = 1;
  for (size_t i = 0; i < subnet_json_len(words); i++) {
    const char *w;
    size_t n;
    if (!subnet_json_string(subnet_json_at(words, i), &w, &n)) return NULL;
    cap += n + sep_len;
  }
  char *out = malloc(cap);
  *len = 0;
  for (size_t i = 0; i < subnet_json_len(words); i++) {
    const char *w;
    size_t n;
    subnet_json_string(subnet_json_at(words, i), &w, &n);
    if (i) memcpy(out + *len, sep, sep_len), *len += sep_len;
    memcpy(out + *len, w, n), *len += n;
  }
  return out;
}

bool exports_subnet_plugin_validator_api_score(subnet_plugin_types_epoch_context_t *ctx,
                                               subnet_plugin_types_task_t *task,
                                               exports_subnet_plugin_validator_api_list_miner_response_t *responses,
                                               exports_subnet_plugin_validator_api_list_uid_score_t *ret,
                                               subnet_string_t *err) {
  bool ok = false;
  subnet_json_t *sent = subnet_json_parse_payload(&task->payload, err);
  size_t want_len = 0;
  char *want = sent ? expected(sent, &want_len) : NULL;
  if (sent && !want) subnet_fail(err, "task is not ours");
  if (want) {
    uint64_t want_count = subnet_json_len(subnet_json_get(sent, "words"));
    ret->ptr = calloc(responses->len ? responses->len : 1, sizeof *ret->ptr);
    ret->len = responses->len;
    for (size_t i = 0; i < responses->len; i++) {
      const subnet_plugin_types_miner_response_t *r = &responses->ptr[i];
      subnet_json_t *answer = r->status == SUBNET_PLUGIN_TYPES_RESPONSE_STATUS_OK && r->payload.is_some
                                  ? subnet_json_parse_payload(&r->payload.val, NULL)
                                  : NULL;
      const char *joined;
      size_t len = 0;
      uint64_t count = 0;
      bool right = subnet_json_string(subnet_json_get(answer, "joined"), &joined, &len) && len == want_len &&
                   memcmp(joined, want, len) == 0 && subnet_json_u64(subnet_json_get(answer, "count"), &count) &&
                   count == want_count;
      subnet_json_free(answer);
      ret->ptr[i].uid = r->uid;
      ret->ptr[i].score = right ? 1.0 : 0.0;
      ret->ptr[i].metrics.ptr = malloc(sizeof *ret->ptr[i].metrics.ptr);
      ret->ptr[i].metrics.len = 1;
      ret->ptr[i].metrics.ptr[0].name = subnet_str("chars");
      ret->ptr[i].metrics.ptr[0].value = right ? (double)len : 0.0;
    }
    ok = true;
  }
  free(want);
  subnet_json_free(sent);
  subnet_plugin_types_epoch_context_free(ctx);
  subnet_plugin_types_task_free(task);
  exports_subnet_plugin_validator_api_list_miner_response_free(responses);
  return ok;
}

bool exports_subnet_plugin_validator_api_reward(subnet_plugin_types_epoch_context_t *ctx,
                                                exports_subnet_plugin_validator_api_list_uid_state_t *state,
                                                exports_subnet_plugin_validator_api_list_uid_score_t *round,
                                                subnet_plugin_types_reward_result_t *ret, subnet_string_t *err) {
  (void)err;
  subnet_plugin_types_epoch_context_free(ctx);
  subnet_ema_reward(state->ptr, state->len, round->ptr, round->len, SUBNET_DEFAULT_ALPHA, ret);
  exports_subnet_plugin_validator_api_list_uid_state_free(state);
  exports_subnet_plugin_validator_api_list_uid_score_free(round);
  return true;
}
