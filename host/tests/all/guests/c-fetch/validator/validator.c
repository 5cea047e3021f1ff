/*
 * Test validator for the C SDK's HTTP client. `generate-tasks` fetches the URL stored under
 * each kv key `url-0`, `url-1`, ... (until one is missing), in order, with subnet_http_get, and
 * returns one text task per URL: "status=<code> body=<body>" or "error=<message>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "subnet.h"
#include "subnet_sdk.h"

/* The value under `key` as a malloc'd C string, or NULL when there is none. */
static char *kv_string(const char *key) {
  subnet_string_t k = subnet_str(key);
  subnet_option_list_u8_t value;
  subnet_plugin_kv_kv_error_t error;
  char *out = NULL;
  if (subnet_plugin_kv_get(&k, &value, &error) && value.is_some) {
    out = malloc(value.val.len + 1);
    memcpy(out, value.val.ptr, value.val.len);
    out[value.val.len] = 0;
    subnet_option_list_u8_free(&value);
  }
  subnet_string_free(&k);
  return out;
}

bool exports_subnet_plugin_validator_api_generate_tasks(subnet_plugin_types_epoch_context_t *ctx,
                                                        exports_subnet_plugin_validator_api_list_task_t *ret,
                                                        subnet_string_t *err) {
  (void)err;
  size_t cap = 8, n = 0;
  ret->ptr = calloc(cap, sizeof *ret->ptr);
  for (;;) {
    char key[32];
    snprintf(key, sizeof key, "url-%zu", n);
    char *url = kv_string(key);
    if (!url || n == cap) {
      free(url);
      break;
    }
    subnet_http_response_t response;
    subnet_string_t error;
    subnet_string_t text;
    if (subnet_http_get(url, &response, &error)) {
      text = subnet_strf("status=%u body=%.*s", (unsigned)response.status, (int)response.body_len,
                         (const char *)response.body);
      subnet_http_response_free(&response);
    } else {
      text = subnet_strf("error=%.*s", (int)error.len, (const char *)error.ptr);
      subnet_string_free(&error);
    }
    free(url);
    subnet_plugin_types_task_t *task = &ret->ptr[n];
    task->id = subnet_strf("fetch-%zu", n);
    task->miners.ptr = malloc(sizeof *task->miners.ptr);
    task->miners.ptr[0] = 1;
    task->miners.len = 1;
    subnet_payload_bytes(&task->payload, "text/plain", text.ptr, text.len);
    subnet_string_free(&text);
    task->timeout_ms = 2000;
    n++;
  }
  ret->len = n;
  subnet_plugin_types_epoch_context_free(ctx);
  return true;
}

bool exports_subnet_plugin_validator_api_score(subnet_plugin_types_epoch_context_t *ctx,
                                               subnet_plugin_types_task_t *task,
                                               exports_subnet_plugin_validator_api_list_miner_response_t *responses,
                                               exports_subnet_plugin_validator_api_list_uid_score_t *ret,
                                               subnet_string_t *err) {
  (void)err;
  ret->ptr = calloc(responses->len ? responses->len : 1, sizeof *ret->ptr);
  ret->len = responses->len;
  for (size_t i = 0; i < responses->len; i++) ret->ptr[i].uid = responses->ptr[i].uid;
  subnet_plugin_types_epoch_context_free(ctx);
  subnet_plugin_types_task_free(task);
  exports_subnet_plugin_validator_api_list_miner_response_free(responses);
  return true;
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
