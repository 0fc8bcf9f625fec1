"""Serve the five simulators over real HTTP, in one process, on five loopback ports.

One asyncio loop in a background thread runs five ``uvicorn.Server.serve()``
coroutines, one per system, on port ``port_base + offset`` (trackops 0, growcrm 1,
rhythm 2, pylon 3, xurrent 4); ``port_base=0`` lets the OS pick five free ports.
The sockets are bound before the loop starts, so a busy port fails ``start()``
at once with a message naming the system and the port.

The simulator classes are imported lazily by name from :data:`SIMULATORS`, so this
module imports (and can serve other simulators) before every vendor module exists.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from types import FrameType, TracebackType
from typing import Any, cast

import uvicorn

from contactsync_sandbox.common import (
    ADMIN_PREFIX,
    DroppedConnection,
    SandboxOptions,
    VendorSimulator,
    build_app,
)
from contactsync_sandbox.people import SeedData, generate

# System name -> "module:Class", in port order.
SIMULATORS: dict[str, str] = {
    "trackops": "contactsync_sandbox.trackops:TrackopsSimulator",
    "growcrm": "contactsync_sandbox.growcrm:GrowcrmSimulator",
    "rhythm": "contactsync_sandbox.rhythm:RhythmSimulator",
    "pylon": "contactsync_sandbox.pylon:PylonSimulator",
    "xurrent": "contactsync_sandbox.xurrent:XurrentSimulator",
}
PORT_OFFSETS: dict[str, int] = {name: offset for offset, name in enumerate(SIMULATORS)}
# Where each vendor's API lives under its host (the simulators route these full paths).
BASE_PATHS: dict[str, str] = {
    "trackops": "/api/v1",
    "growcrm": "/api",
    "rhythm": "",
    "pylon": "",
    "xurrent": "/v1",
}
DEFAULT_PORT_BASE = 8700
STARTUP_TIMEOUT = 15.0
GRACEFUL_SHUTDOWN_SECONDS = 1

SimulatorFactory = Callable[[SandboxOptions, SeedData], VendorSimulator]


class SandboxError(Exception):
    """The sandbox cannot start: an unknown system, a busy port, a missing simulator."""


def simulator_class(system: str, registry: Mapping[str, str] = SIMULATORS) -> SimulatorFactory:
    """Import the simulator class registered for ``system``."""
    if system not in registry:
        raise SandboxError(f"unknown system {system!r}; expected one of {', '.join(registry)}")
    module_name, _, class_name = registry[system].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SandboxError(
            f"{system}: simulator module {module_name} not importable: {exc}"
        ) from exc
    found = getattr(module, class_name, None)
    if not isinstance(found, type) or not issubclass(found, VendorSimulator):
        raise SandboxError(f"{system}: {module_name} has no simulator class {class_name}")
    return cast(SimulatorFactory, found)


def missing_simulators(registry: Mapping[str, str] = SIMULATORS) -> dict[str, str]:
    """System -> why its simulator cannot be imported (empty when all five are there)."""
    missing: dict[str, str] = {}
    for system in registry:
        try:
            simulator_class(system, registry)
        except SandboxError as exc:
            missing[system] = str(exc)
    return missing


def build_simulators(
    options: SandboxOptions,
    systems: Iterable[str] | None = None,
    registry: Mapping[str, str] = SIMULATORS,
) -> dict[str, VendorSimulator]:
    """One simulator per system, all filled from the same seed data (generated once)."""
    wanted = list(registry) if systems is None else list(dict.fromkeys(systems))
    factories = {system: simulator_class(system, registry) for system in wanted}
    seed = generate(options.people, options.seed)
    return {system: factory(options, seed) for system, factory in factories.items()}


class _QuietDroppedConnections(logging.Filter):
    """A ``drop_after`` fault is a deliberate dropped connection, not a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


_DROP_FILTER = _QuietDroppedConnections()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _bind(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class SandboxServer:
    """The simulators served over HTTP, one port each, from one background thread."""

    def __init__(
        self,
        options: SandboxOptions,
        host: str = "127.0.0.1",
        port_base: int = DEFAULT_PORT_BASE,
        *,
        systems: Iterable[str] | None = None,
        simulators: Mapping[str, VendorSimulator] | None = None,
        access_log: bool = False,
        log_config: dict[str, Any] | None = None,
    ) -> None:
        if simulators is None:
            simulators = build_simulators(options, systems)
        self.options = options
        self.host = host
        self.port_base = port_base
        self.simulators: dict[str, VendorSimulator] = dict(simulators)
        self._access_log = access_log
        self._log_config = log_config
        self._ports: dict[str, int] = {}
        self._servers: dict[str, uvicorn.Server] = {}
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    # --- addresses -------------------------------------------------------------------

    @property
    def ports(self) -> dict[str, int]:
        if self._ports:
            return dict(self._ports)
        if self.port_base == 0:
            raise SandboxError("ports are chosen by the OS when the server starts: call start()")
        return {name: self.port_base + PORT_OFFSETS.get(name, 0) for name in self.simulators}

    @property
    def admin_urls(self) -> dict[str, str]:
        """Root URL of each system (``/_sandbox/...`` lives here)."""
        return {name: f"http://{_url_host(self.host)}:{port}" for name, port in self.ports.items()}

    @property
    def urls(self) -> dict[str, str]:
        """Base URL of each vendor API, its base path included (what a config's base_url is)."""
        return {name: root + BASE_PATHS.get(name, "") for name, root in self.admin_urls.items()}

    def admin_url(self, system: str, what: str) -> str:
        return f"{self.admin_urls[system]}{ADMIN_PREFIX}/{what}"

    # --- lifecycle ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Bind the ports and serve in a background thread; returns once all accept."""
        if self.running:
            return
        sockets = self._bind_all()
        self._failure = None
        self._servers = {name: uvicorn.Server(self._config(name)) for name in self.simulators}
        logging.getLogger("uvicorn.error").addFilter(_DROP_FILTER)
        self._thread = threading.Thread(
            target=self._run, args=(sockets,), name="contactsync-sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not all(server.started for server in self._servers.values()):
            if self._failure is not None or not self._thread.is_alive():
                self.stop()
                raise SandboxError(f"the sandbox failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise SandboxError(f"the sandbox did not start within {timeout:.0f}s")
            time.sleep(0.005)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask every server to exit and wait for the thread; safe to call twice."""
        for server in self._servers.values():
            server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._ports = {}

    def serve_forever(self, on_ready: Callable[[SandboxServer], None] | None = None) -> None:
        """Start, call ``on_ready``, then serve until SIGINT or SIGTERM (main thread) or stop."""
        stopping = threading.Event()
        previous: dict[signal.Signals, Any] = {}

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                previous[signum] = signal.signal(signum, request_stop)
        try:
            self.start()
            if on_ready is not None:
                on_ready(self)
            while not stopping.wait(0.2):
                if not self.running:
                    break
        finally:
            self.stop()
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # --- internals ---------------------------------------------------------------------

    def _bind_all(self) -> dict[str, socket.socket]:
        sockets: dict[str, socket.socket] = {}
        for name in self.simulators:
            port = 0 if self.port_base == 0 else self.port_base + PORT_OFFSETS.get(name, 0)
            try:
                sockets[name] = _bind(self.host, port)
            except OSError as exc:
                for sock in sockets.values():
                    sock.close()
                reason = exc.strerror or str(exc)
                raise SandboxError(
                    f"{name}: cannot listen on {self.host}:{port} ({reason}); "
                    "is another sandbox running? pick another --port-base"
                ) from None
            self._ports[name] = int(sockets[name].getsockname()[1])
        return sockets

    def _config(self, name: str) -> uvicorn.Config:
        return uvicorn.Config(
            build_app(self.simulators[name]),
            lifespan="off",
            access_log=self._access_log,
            log_config=self._log_config,
            log_level="info" if self._access_log else "warning",
            ws="none",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )

    def _run(self, sockets: dict[str, socket.socket]) -> None:
        try:
            asyncio.run(self._serve_all(sockets))
        except BaseException as exc:  # reported by start(), never lost
            self._failure = exc
        finally:
            for sock in sockets.values():
                sock.close()

    async def _serve_all(self, sockets: dict[str, socket.socket]) -> None:
        await asyncio.gather(
            *(server.serve(sockets=[sockets[name]]) for name, server in self._servers.items())
        )


def record_counts(simulators: Mapping[str, VendorSimulator]) -> dict[str, int]:
    """Live (not deleted) records per system, for the CLI's table."""
    counts: dict[str, int] = {}
    for name, sim in simulators.items():
        with sim.store.lock:
            counts[name] = len(sim.store.records) - len(sim.store.deleted & set(sim.store.records))
    return counts
