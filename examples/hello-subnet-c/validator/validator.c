/*
 * The smallest validator, as the subnet template's dummy: each miner gets a number and must
 * answer with its double. Right answers score 1, anything else 0.
 *
 * The same subnet as examples/hello-subnet (Rust): same draws from the host's random stream,
 * same scores, same reward, so the same seed gives the same weights.
 */
#include <stdlib.h>

#include "subnet.h"
#include "subnet_sdk.h"

bool exports_subnet_plugin_validator_api_generate_tasks(subnet_plugin_types_epoch_context_t *ctx,
                                                        exports_subnet_plugin_validator_api_list_task_t *ret,
                                                        subnet_string_t *err) {
  (void)err;
  /* One task per miner, each with its own number, so miners cannot copy each other. */
  size_t n = subnet_count_miners(ctx);
  ret->ptr = calloc(n ? n : 1, sizeof *ret->ptr);
  ret->len = n;
  size_t k = 0;
  for (size_t i = 0; i < ctx->neurons.len; i++) {
    const subnet_plugin_types_neuron_t *neuron = &ctx->neurons.ptr[i];
    if (!subnet_is_miner(ctx, neuron)) continue;
    subnet_plugin_types_task_t *task = &ret->ptr[k++];
    task->id = subnet_strf("double-%u", (unsigned)neuron->uid);
    task->miners.ptr = malloc(sizeof *task->miners.ptr);
    task->miners.ptr[0] = neuron->uid;
    task->miners.len = 1;
    subnet_payload_json_u64(&task->payload, subnet_random_below(1000000));
    task->timeout_ms = 2000;
  }
  subnet_plugin_types_epoch_context_free(ctx);
  return true;
}

bool exports_subnet_plugin_validator_api_score(subnet_plugin_types_epoch_context_t *ctx,
                                               subnet_plugin_types_task_t *task,
                                               exports_subnet_plugin_validator_api_list_miner_response_t *responses,
                                               exports_subnet_plugin_validator_api_list_uid_score_t *ret,
                                               subnet_string_t *err) {
  uint64_t number;
  bool ok = subnet_json_parse_u64(&task->payload, &number);
  if (!ok) {
    subnet_fail(err, "task `%.*s` does not decode", (int)task->id.len, (const char *)task->id.ptr);
  } else {
    ret->ptr = calloc(responses->len ? responses->len : 1, sizeof *ret->ptr);
    ret->len = responses->len;
    for (size_t i = 0; i < responses->len; i++) {
      const subnet_plugin_types_miner_response_t *r = &responses->ptr[i];
      uint64_t answer;
      bool right = r->status == SUBNET_PLUGIN_TYPES_RESPONSE_STATUS_OK && r->payload.is_some &&
                   subnet_json_parse_u64(&r->payload.val, &answer) && answer == number * 2;
      ret->ptr[i].uid = r->uid;
      ret->ptr[i].score = right ? 1.0 : 0.0;
      /* No metrics: an empty list. */
      ret->ptr[i].metrics.ptr = NULL;
      ret->ptr[i].metrics.len = 0;
    }
  }
  subnet_plugin_types_epoch_context_free(ctx);
  subnet_plugin_types_task_free(task);
  exports_subnet_plugin_validator_api_list_miner_response_free(responses);
  return ok;
}

bool exports_subnet_plugin_validator_api_reward(subnet_plugin_types_epoch_context_t *ctx,
                                                exports_subnet_plugin_validator_api_list_uid_state_t *state,
                                                exports_subnet_plugin_validator_api_list_uid_score_t *round,
                                                subnet_plugin_types_reward_result_t *ret,
                                                subnet_string_t *err) {
  (void)err;
  subnet_ema_reward(state->ptr, state->len, round->ptr, round->len, SUBNET_DEFAULT_ALPHA, ret);
  subnet_plugin_types_epoch_context_free(ctx);
  exports_subnet_plugin_validator_api_list_uid_state_free(state);
  exports_subnet_plugin_validator_api_list_uid_score_free(round);
  return true;
}
