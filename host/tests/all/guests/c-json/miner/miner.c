/* Joins the task's words with its separator: {"words": [...], "sep": "-"} -> {"joined", "count"}. */
#include <stdlib.h>
#include <string.h>

#include "subnet.h"
#include "subnet_sdk.h"

bool exports_subnet_plugin_miner_api_handle(subnet_plugin_types_miner_request_t *request,
                                            subnet_plugin_types_payload_t *ret,
                                            subnet_string_t *err) {
  subnet_json_t *task = subnet_json_parse_payload(&request->payload, err);
  subnet_plugin_types_miner_request_free(request);
  if (!task) return false;
  const subnet_json_t *words = subnet_json_get(task, "words");
  const char *sep;
  size_t sep_len;
  if (subnet_json_kind(words) != SUBNET_JSON_ARRAY || !subnet_json_string(subnet_json_get(task, "sep"), &sep, &sep_len)) {
    subnet_json_free(task);
    return subnet_fail(err, "bad task: expected {\"words\": [strings], \"sep\": string}");
  }
  size_t total = 0;
  for (size_t i = 0; i < subnet_json_len(words); i++) {
    const char *w;
    size_t n;
    if (!subnet_json_string(subnet_json_at(words, i), &w, &n)) {
      subnet_json_free(task);
      return subnet_fail(err, "bad task: word %zu is not a string", i);
    }
    total += n + sep_len;
  }
  char *joined = malloc(total + 1);
  size_t len = 0;
  for (size_t i = 0; i < subnet_json_len(words); i++) {
    const char *w;
    size_t n;
    subnet_json_string(subnet_json_at(words, i), &w, &n);
    if (i) {
      memcpy(joined + len, sep, sep_len);
      len += sep_len;
    }
    memcpy(joined + len, w, n);
    len += n;
  }
  subnet_json_writer_t out = SUBNET_JSON_WRITER_INIT;
  subnet_json_begin_object(&out);
  subnet_json_key(&out, "joined");
  subnet_json_write_string_n(&out, joined, len);
  subnet_json_key(&out, "count");
  subnet_json_write_u64(&out, subnet_json_len(words));
  subnet_json_end_object(&out);
  free(joined);
  subnet_json_free(task);
  return subnet_json_writer_payload(&out, ret, err);
}
