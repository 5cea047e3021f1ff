"""Log lines to the host, shown with the subnet and module names."""

from wit_world.imports import log as _host

Level = _host.Level


def trace(message: str) -> None:
    """Logs at trace level."""
    _host.log(Level.TRACE, str(message))


def debug(message: str) -> None:
    """Logs at debug level."""
    _host.log(Level.DEBUG, str(message))


def info(message: str) -> None:
    """Logs at info level."""
    _host.log(Level.INFO, str(message))


def warn(message: str) -> None:
    """Logs at warn level."""
    _host.log(Level.WARN, str(message))


def error(message: str) -> None:
    """Logs at error level."""
    _host.log(Level.ERROR, str(message))
