"""Outbound HTTP: a small blocking client over WASI HTTP's ``outgoing-handler``.

The host lets a module reach only the targets its operator listed in the subnet's
``[subnet.capabilities] outbound_hosts`` (``scheme://host[:port]``) and bounds the requests of
one call and of one round (count, response bytes, time). Every refusal raises
:class:`HttpError` whose message names the rule (``outbound_hosts: http://x:80 is not
allowed (allowed: ...)``); a subnet with no list gets that refusal for every request.
Responses are read whole into memory.

Example::

    from subnet_sdk import http
    price = http.get("http://127.0.0.1:8080/price").json()["price"]
"""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok

# Imported at load time (componentize-py bundles only what is imported while it builds), but
# optional: guests built without WASI HTTP in their world (the SDK's stub bindings) still load.
try:
    from wit_world.imports import outgoing_handler as _outgoing
    from wit_world.imports import wasi_http_types as _h
except ImportError:
    _outgoing = None
    _h = None

# Bytes per write into a request body (WASI streams accept at most 4096 per blocking write).
_WRITE_CHUNK = 4096
# Bytes asked for per read of a response body.
_READ_CHUNK = 64 * 1024


class HttpError(Exception):
    """A request that failed or was refused; ``code`` is WASI HTTP's error-code name
    (``internal-error`` for the host's refusals, ``connection-read-timeout``, ...)."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message


@dataclass
class Response:
    """A response, read whole: ``status``, ``headers`` (lowercase names, bytes values) and
    ``body``."""

    status: int
    headers: List[Tuple[str, bytes]] = field(default_factory=list)
    body: bytes = b""

    def text(self) -> str:
        """The body as UTF-8 text (invalid sequences replaced)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)

    def header(self, name: str) -> Optional[bytes]:
        """The first value of header ``name`` (case-insensitive), if any."""
        lower = name.lower()
        return next((v for k, v in self.headers if k == lower), None)


def _bindings():
    if _outgoing is None:
        raise HttpError("unsupported", "this module was built without WASI HTTP in its world")
    return _outgoing, _h


def _code(error: Any) -> HttpError:
    name = type(error).__name__.split("_", 1)[-1]
    # ErrorCode_ConnectionReadTimeout -> connection-read-timeout
    kebab = "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
    detail = getattr(error, "value", None)
    return HttpError(kebab, detail if isinstance(detail, str) else ("" if detail is None else repr(detail)))


def _body_error(h: Any, stream_error: Any) -> HttpError:
    """The error-code behind a failed body read: a host limit that cut the body names its
    rule (``outbound.max_bytes_per_round: ...``)."""
    try:
        code = h.http_error_code(stream_error.value)
    except Exception:  # an io-error without an HTTP error-code
        code = None
    if code is None:
        return HttpError("connection-terminated", "reading the response body failed")
    return _code(code)


def request(
    method: str,
    url: str,
    body: Optional[bytes] = None,
    headers: Optional[Dict[str, str]] = None,
) -> Response:
    """Sends one request to ``url`` (``http://`` or ``https://``) and reads the whole response.
    Raises :class:`HttpError` on a refusal (the message names the rule) or a failure."""
    outgoing_handler, h = _bindings()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError("invalid-url", f"{url!r}: expected http://host[:port]/path or https://...")
    methods = {
        "GET": h.Method_Get(),
        "HEAD": h.Method_Head(),
        "POST": h.Method_Post(),
        "PUT": h.Method_Put(),
        "DELETE": h.Method_Delete(),
        "PATCH": h.Method_Patch(),
        "OPTIONS": h.Method_Options(),
    }
    upper = method.upper()
    fields = h.Fields.from_list([(k.lower(), v.encode()) for k, v in (headers or {}).items()])
    req = h.OutgoingRequest(fields)
    req.set_method(methods.get(upper, h.Method_Other(upper)))
    req.set_scheme(h.Scheme_Https() if parts.scheme == "https" else h.Scheme_Http())
    req.set_authority(parts.netloc)
    req.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    out_body = req.body()
    try:
        future = outgoing_handler.handle(req, None)
    except Err as e:
        raise _code(e.value) from None
    if body:
        with out_body.write() as stream:
            for i in range(0, len(body), _WRITE_CHUNK):
                stream.blocking_write_and_flush(body[i : i + _WRITE_CHUNK])
    h.OutgoingBody.finish(out_body, None)
    with future:
        with future.subscribe() as pollable:
            pollable.block()
        got = future.get()
    if got is None:
        raise HttpError("internal-error", "the response future was not ready after it was signalled")
    if isinstance(got, Err):
        raise HttpError("internal-error", "the response was already taken")
    inner = got.value if isinstance(got, Ok) else got
    if isinstance(inner, Err):
        raise _code(inner.value)
    response = inner.value if isinstance(inner, Ok) else inner
    with response:
        status = response.status()
        with response.headers() as fields_in:
            got_headers = [(k.lower(), v) for k, v in fields_in.entries()]
        incoming = response.consume()
        chunks: List[bytes] = []
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(_READ_CHUNK)
                except Err as e:
                    if type(e.value).__name__.endswith("Closed"):
                        break
                    raise _body_error(h, e.value) from None
                chunks.append(chunk)
        h.IncomingBody.finish(incoming)
    return Response(status=status, headers=got_headers, body=b"".join(chunks))


def get(url: str, headers: Optional[Dict[str, str]] = None) -> Response:
    """``GET url``; see :func:`request`."""
    return request("GET", url, None, headers)


def post(url: str, body: bytes, headers: Optional[Dict[str, str]] = None) -> Response:
    """``POST url`` with ``body``; see :func:`request`."""
    return request("POST", url, body, headers)
