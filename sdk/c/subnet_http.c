/*
 * subnet_http.c: the C SDK's outbound HTTP client, over the wasi:http bindings that
 * `subnetd build` generates into subnet.h (the guest world of sdk/wit/ imports
 * wasi:http/outgoing-handler). One blocking request at a time; the whole response is read into
 * memory. Every resource this file opens it also drops, on every path.
 */
#include "subnet_sdk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* wasi:http's error-code cases, in the WIT's order (the generated tags follow it). */
static const char *const ERROR_CODE_NAMES[] = {
    "DNS-timeout", "DNS-error", "destination-not-found", "destination-unavailable",
    "destination-IP-prohibited", "destination-IP-unroutable", "connection-refused",
    "connection-terminated", "connection-timeout", "connection-read-timeout",
    "connection-write-timeout", "connection-limit-reached", "TLS-protocol-error",
    "TLS-certificate-error", "TLS-alert-received", "HTTP-request-denied",
    "HTTP-request-length-required", "HTTP-request-body-size", "HTTP-request-method-invalid",
    "HTTP-request-URI-invalid", "HTTP-request-URI-too-long", "HTTP-request-header-section-size",
    "HTTP-request-header-size", "HTTP-request-trailer-section-size", "HTTP-request-trailer-size",
    "HTTP-response-incomplete", "HTTP-response-header-section-size", "HTTP-response-header-size",
    "HTTP-response-body-size", "HTTP-response-trailer-section-size", "HTTP-response-trailer-size",
    "HTTP-response-transfer-coding", "HTTP-response-content-coding", "HTTP-response-timeout",
    "HTTP-upgrade-failed", "HTTP-protocol-error", "loop-detected", "configuration-error",
    "internal-error",
};

/* Sets *error from an error-code (the host's refusals carry their message, which names the
 * rule, in internal-error) and frees the code. */
static bool fail_with_code(subnet_string_t *error, wasi_http_types_error_code_t *code) {
  size_t count = sizeof ERROR_CODE_NAMES / sizeof ERROR_CODE_NAMES[0];
  const char *name = code->tag < count ? ERROR_CODE_NAMES[code->tag] : "unknown-error";
  if (code->tag == WASI_HTTP_TYPES_ERROR_CODE_INTERNAL_ERROR && code->val.internal_error.is_some) {
    const subnet_string_t *m = &code->val.internal_error.val;
    subnet_fail(error, "%.*s", (int)m->len, (const char *)m->ptr);
  } else {
    subnet_fail(error, "%s", name);
  }
  wasi_http_types_error_code_free(code);
  return false;
}

/* A WIT string borrowing `len` bytes of `s` (not freed: the callee copies). */
static subnet_string_t borrowed(const char *s, size_t len) {
  subnet_string_t out = {(uint8_t *)s, len};
  return out;
}

static bool set_method(wasi_http_types_borrow_outgoing_request_t request, const char *method) {
  static const struct {
    const char *name;
    uint8_t tag;
  } KNOWN[] = {
      {"GET", WASI_HTTP_TYPES_METHOD_GET},         {"HEAD", WASI_HTTP_TYPES_METHOD_HEAD},
      {"POST", WASI_HTTP_TYPES_METHOD_POST},       {"PUT", WASI_HTTP_TYPES_METHOD_PUT},
      {"DELETE", WASI_HTTP_TYPES_METHOD_DELETE},   {"PATCH", WASI_HTTP_TYPES_METHOD_PATCH},
      {"OPTIONS", WASI_HTTP_TYPES_METHOD_OPTIONS},
  };
  wasi_http_types_method_t m;
  memset(&m, 0, sizeof m);
  m.tag = WASI_HTTP_TYPES_METHOD_OTHER;
  m.val.other = borrowed(method, strlen(method));
  for (size_t i = 0; i < sizeof KNOWN / sizeof KNOWN[0]; i++) {
    if (strcmp(KNOWN[i].name, method) == 0) m.tag = KNOWN[i].tag;
  }
  return wasi_http_types_method_outgoing_request_set_method(request, &m);
}

/* The fields of `headers` ("name: value" strings), or false with *error set. */
static bool make_fields(const char *const *headers, size_t count, wasi_http_types_own_fields_t *out,
                        subnet_string_t *error) {
  wasi_http_types_own_fields_t fields = wasi_http_types_constructor_fields();
  for (size_t i = 0; i < count; i++) {
    const char *colon = strchr(headers[i], ':');
    if (!colon) {
      wasi_http_types_fields_drop_own(fields);
      return subnet_fail(error, "header `%s`: expected \"name: value\"", headers[i]);
    }
    const char *value = colon + 1;
    while (*value == ' ') value++;
    wasi_http_types_field_name_t name = borrowed(headers[i], (size_t)(colon - headers[i]));
    wasi_http_types_field_value_t bytes = {(uint8_t *)value, strlen(value)};
    wasi_http_types_header_error_t header_error;
    if (!wasi_http_types_method_fields_append(wasi_http_types_borrow_fields(fields), &name, &bytes, &header_error)) {
      wasi_http_types_fields_drop_own(fields);
      return subnet_fail(error, "header `%s` is not allowed or not valid", headers[i]);
    }
  }
  *out = fields;
  return true;
}

/* Writes `body` into the request's body stream (WASI streams take at most 4096 bytes per
 * blocking write) and finishes it. */
static bool send_body(wasi_http_types_own_outgoing_body_t body, const uint8_t *bytes, size_t len,
                      subnet_string_t *error) {
  wasi_http_types_own_output_stream_t stream;
  if (!wasi_http_types_method_outgoing_body_write(wasi_http_types_borrow_outgoing_body(body), &stream)) {
    wasi_http_types_outgoing_body_drop_own(body);
    return subnet_fail(error, "the request body stream was already taken");
  }
  bool ok = true;
  for (size_t at = 0; ok && at < len; at += 4096) {
    subnet_list_u8_t chunk = {(uint8_t *)bytes + at, len - at < 4096 ? len - at : 4096};
    wasi_io_streams_stream_error_t stream_error;
    if (!wasi_io_streams_method_output_stream_blocking_write_and_flush(wasi_io_streams_borrow_output_stream(stream),
                                                                        &chunk, &stream_error)) {
      if (stream_error.tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
        wasi_io_error_error_drop_own(stream_error.val.last_operation_failed);
      }
      ok = subnet_fail(error, "writing the request body failed");
    }
  }
  wasi_io_streams_output_stream_drop_own(stream);
  wasi_http_types_error_code_t code;
  if (!wasi_http_types_static_outgoing_body_finish(body, NULL, &code)) {
    if (!ok) {
      wasi_http_types_error_code_free(&code);
      return false;
    }
    return fail_with_code(error, &code);
  }
  return ok;
}

/* Reads the whole body of `response` into *out. */
static bool read_body(wasi_http_types_borrow_incoming_response_t response, subnet_http_response_t *out,
                      subnet_string_t *error) {
  wasi_http_types_own_incoming_body_t body;
  if (!wasi_http_types_method_incoming_response_consume(response, &body)) {
    return subnet_fail(error, "the response body was already taken");
  }
  wasi_http_types_own_input_stream_t stream;
  if (!wasi_http_types_method_incoming_body_stream(wasi_http_types_borrow_incoming_body(body), &stream)) {
    wasi_http_types_incoming_body_drop_own(body);
    return subnet_fail(error, "the response body stream was already taken");
  }
  size_t len = 0, cap = 4096;
  uint8_t *bytes = malloc(cap + 1);
  if (!bytes) abort();
  bool ok = true;
  for (;;) {
    subnet_list_u8_t chunk;
    wasi_io_streams_stream_error_t stream_error;
    if (!wasi_io_streams_method_input_stream_blocking_read(wasi_io_streams_borrow_input_stream(stream), 64 << 10,
                                                           &chunk, &stream_error)) {
      if (stream_error.tag == WASI_IO_STREAMS_STREAM_ERROR_LAST_OPERATION_FAILED) {
        wasi_io_error_own_error_t io_error = stream_error.val.last_operation_failed;
        wasi_http_types_error_code_t code;
        if (wasi_http_types_http_error_code(wasi_io_error_borrow_error(io_error), &code)) {
          ok = fail_with_code(error, &code);
        } else {
          ok = subnet_fail(error, "reading the response body failed");
        }
        wasi_io_error_error_drop_own(io_error);
      }
      break; /* closed: the whole body is here */
    }
    if (len + chunk.len > cap) {
      while (len + chunk.len > cap) cap *= 2;
      bytes = realloc(bytes, cap + 1);
      if (!bytes) abort();
    }
    if (chunk.len) memcpy(bytes + len, chunk.ptr, chunk.len);
    len += chunk.len;
    subnet_list_u8_free(&chunk);
  }
  wasi_io_streams_input_stream_drop_own(stream);
  wasi_http_types_future_trailers_drop_own(wasi_http_types_static_incoming_body_finish(body));
  if (!ok) {
    free(bytes);
    return false;
  }
  bytes[len] = 0;
  out->body = bytes;
  out->body_len = len;
  return true;
}

bool subnet_http_request(const char *method, const char *url, const char *const *headers, size_t header_count,
                         const void *body, size_t body_len, subnet_http_response_t *response,
                         subnet_string_t *error) {
  memset(response, 0, sizeof *response);
  wasi_http_types_scheme_t scheme;
  memset(&scheme, 0, sizeof scheme);
  const char *rest;
  if (strncmp(url, "https://", 8) == 0) {
    scheme.tag = WASI_HTTP_TYPES_SCHEME_HTTPS;
    rest = url + 8;
  } else if (strncmp(url, "http://", 7) == 0) {
    scheme.tag = WASI_HTTP_TYPES_SCHEME_HTTP;
    rest = url + 7;
  } else {
    return subnet_fail(error, "`%s`: expected http://host[:port]/path or https://...", url);
  }
  size_t authority_len = strcspn(rest, "/?#");
  if (authority_len == 0) return subnet_fail(error, "`%s`: no host", url);
  const char *path = rest + authority_len;
  size_t path_len = strcspn(path, "#");

  wasi_http_types_own_fields_t fields;
  if (!make_fields(headers, header_count, &fields, error)) return false;
  wasi_http_types_own_outgoing_request_t request = wasi_http_types_constructor_outgoing_request(fields);
  wasi_http_types_borrow_outgoing_request_t borrow = wasi_http_types_borrow_outgoing_request(request);
  subnet_string_t authority = borrowed(rest, authority_len);
  subnet_string_t path_with_query = path_len ? borrowed(path, path_len) : borrowed("/", 1);
  if (!set_method(borrow, method) || !wasi_http_types_method_outgoing_request_set_scheme(borrow, &scheme) ||
      !wasi_http_types_method_outgoing_request_set_authority(borrow, &authority) ||
      !wasi_http_types_method_outgoing_request_set_path_with_query(borrow, &path_with_query)) {
    wasi_http_types_outgoing_request_drop_own(request);
    return subnet_fail(error, "`%s %s`: the method, host or path is not valid", method, url);
  }
  wasi_http_types_own_outgoing_body_t out_body;
  if (!wasi_http_types_method_outgoing_request_body(borrow, &out_body)) {
    wasi_http_types_outgoing_request_drop_own(request);
    return subnet_fail(error, "the request body was already taken");
  }

  wasi_http_types_own_future_incoming_response_t future;
  wasi_http_outgoing_handler_error_code_t code;
  if (!wasi_http_outgoing_handler_handle(request, NULL, &future, &code)) {
    wasi_http_types_outgoing_body_drop_own(out_body);
    return fail_with_code(error, &code);
  }
  bool ok = send_body(out_body, body, body ? body_len : 0, error);
  wasi_http_types_borrow_future_incoming_response_t borrowed_future = wasi_http_types_borrow_future_incoming_response(future);
  wasi_http_types_own_pollable_t pollable = wasi_http_types_method_future_incoming_response_subscribe(borrowed_future);
  wasi_io_poll_method_pollable_block(wasi_io_poll_borrow_pollable(pollable));
  wasi_io_poll_pollable_drop_own(pollable);
  wasi_http_types_result_result_own_incoming_response_error_code_void_t got;
  if (!wasi_http_types_method_future_incoming_response_get(borrowed_future, &got)) {
    wasi_http_types_future_incoming_response_drop_own(future);
    return ok ? subnet_fail(error, "the response was not ready after it was signalled") : false;
  }
  wasi_http_types_future_incoming_response_drop_own(future);
  if (got.is_err) return ok ? subnet_fail(error, "the response was already taken") : false;
  if (got.val.ok.is_err) {
    if (!ok) {
      wasi_http_types_error_code_free(&got.val.ok.val.err);
      return false;
    }
    return fail_with_code(error, &got.val.ok.val.err);
  }
  wasi_http_types_own_incoming_response_t incoming = got.val.ok.val.ok;
  if (ok) {
    wasi_http_types_borrow_incoming_response_t r = wasi_http_types_borrow_incoming_response(incoming);
    response->status = wasi_http_types_method_incoming_response_status(r);
    ok = read_body(r, response, error);
  }
  wasi_http_types_incoming_response_drop_own(incoming);
  return ok;
}

bool subnet_http_get(const char *url, subnet_http_response_t *response, subnet_string_t *error) {
  return subnet_http_request("GET", url, NULL, 0, NULL, 0, response, error);
}

void subnet_http_response_free(subnet_http_response_t *response) {
  free(response->body);
  response->body = NULL;
  response->body_len = 0;
}
