/* The honest hello-subnet miner: answers each number with its double. */
#include "subnet.h"
#include "subnet_sdk.h"

bool exports_subnet_plugin_miner_api_handle(subnet_plugin_types_miner_request_t *request,
                                            subnet_plugin_types_payload_t *ret,
                                            subnet_string_t *err) {
  uint64_t number;
  bool ok = false;
  if (!subnet_json_parse_u64(&request->payload, &number)) {
    subnet_fail(err, "bad task: expected a JSON unsigned integer");
  } else if (number > UINT64_MAX / 2) {
    subnet_fail(err, "number too large");
  } else {
    subnet_payload_json_u64(ret, number * 2);
    ok = true;
  }
  subnet_plugin_types_miner_request_free(request);
  return ok;
}
