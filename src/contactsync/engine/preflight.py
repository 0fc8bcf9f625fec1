"""Before a run touches anything: can every chosen system's host be reached at all?

A base URL that points nowhere (a typo, a closed port, a name that does not
resolve) is a configuration error, not something to half-sync around: the run stops
with one line naming the system, the address and the config line, and no state is
changed. Only the TCP connection is tried (through the proxy the environment
configures for that URL, if any); whatever the server then answers is the
adapters' business.
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterable
from urllib.parse import urlsplit

from contactsync.config.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_WAIT = 5.0


def connect_target(url: str) -> tuple[str, int] | None:
    """The host and port a request to ``url`` connects to first (its proxy, if any)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        proxied = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if proxied.hostname:
            return proxied.hostname, proxied.port or DEFAULT_PORTS.get(proxied.scheme, 80)
    return parts.hostname, parts.port or DEFAULT_PORTS.get(parts.scheme, 80)


def unreachable(settings: Settings, systems: Iterable[str] | None = None) -> str | None:
    """One line for the first chosen, enabled system whose host cannot be reached
    (``FILE:LINE: systems.NAME.base_url: cannot reach HOST:PORT (why)``), else None."""
    wanted = None if systems is None else set(systems)
    for name, system in settings.enabled_systems().items():
        if (wanted is not None and name not in wanted) or not system.base_url:
            continue
        target = connect_target(system.base_url)
        if target is None:
            continue
        try:
            socket.create_connection(target, timeout=min(MAX_WAIT, system.timeout)).close()
        except OSError as exc:
            why = exc.strerror or str(exc) or type(exc).__name__
            where = f"{target[0]}:{target[1]}"
            return str(
                settings.error(("systems", name, "base_url"), f"cannot reach {where} ({why})")
            )
    return None
