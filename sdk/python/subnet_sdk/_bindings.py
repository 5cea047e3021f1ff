"""The contract's shared ``types`` interface, under whichever name componentize-py gave it.

Guests are built in a world that also imports WASI HTTP, whose own ``types`` interface makes
componentize-py name the two ``subnet_plugin_types`` and ``wasi_http_types``; without WASI HTTP
(the SDK's unit tests' stub bindings) the contract's is plain ``types``."""

try:
    from wit_world.imports import subnet_plugin_types as types
except ImportError:
    from wit_world.imports import types  # type: ignore[no-redef]

__all__ = ["types"]
