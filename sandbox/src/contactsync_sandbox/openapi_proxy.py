"""A validating reverse proxy built from an OpenAPI description (Prism's proxy mode, in Python).

:class:`SpecValidator` checks requests and responses against an OpenAPI file with
``openapi-core`` and keeps every :class:`Violation` (operation, direction, message).
Two ways to put it in a request path:

* :class:`ValidatingProxy`, an ASGI app that forwards every request to an upstream
  base URL, validating both directions; violations are listed at
  ``GET /_proxy/violations`` (``DELETE`` clears them) and each answer carries an
  ``X-OpenAPI-Violations`` count. Serve it on loopback (:func:`serving`, or
  ``python -m contactsync_sandbox.openapi_proxy --upstream URL``).
* :class:`ValidatingTransport`, an ``httpx`` transport wrapper for in-process tests.

The spec's ``servers`` are replaced by ``/`` so any host (loopback) matches. Nothing is
relaxed otherwise: a status the spec does not document for an operation (a 401, a
429) is a response violation, exactly as Prism reports it.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import httpx
import uvicorn
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.finders import APICallPathFinder
from starlette.applications import Starlette
from starlette.datastructures import Headers, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

Direction = Literal["request", "response"]
PROXY_PREFIX = "/_proxy"
VIOLATIONS_HEADER = "X-OpenAPI-Violations"
PYLON_SPEC = "pylon-openapi.json"
_HOP_BY_HOP = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade"}
    | {"accept-encoding", "te", "trailer", "proxy-authorization", "proxy-connection"}
)
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def bundled_spec(name: str = PYLON_SPEC) -> dict[str, Any]:
    """An OpenAPI description shipped in ``contactsync/sandbox/specs`` (package data)."""
    text = resources.files("contactsync_sandbox").joinpath("specs", name).read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@lru_cache(maxsize=4)
def _openapi(spec_json: str) -> OpenAPI:
    """Parsing and checking a large spec takes about a second: do it once per spec text."""
    data = json.loads(spec_json)
    data["servers"] = [{"url": "/"}]  # any host: simulators and proxies run on loopback
    return OpenAPI.from_dict(data)


@dataclass(frozen=True)
class Violation:
    """One disagreement between a message and the spec."""

    operation: str  # operationId, or "METHOD /path" when no documented operation matched
    direction: Direction
    message: str
    method: str
    path: str
    status: int | None = None  # the response status, for response violations

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RequestData:
    """A request as openapi-core reads it (its ``Request`` protocol)."""

    method: str
    host_url: str
    path: str
    query: QueryParams
    headers: Headers
    body: bytes | None
    parameters: RequestParameters = field(init=False)

    def __post_init__(self) -> None:
        self.method = self.method.lower()
        self.parameters = RequestParameters(query=self.query, header=self.headers)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type") or "application/octet-stream"

    @classmethod
    def from_httpx(cls, request: httpx.Request) -> RequestData:
        url = request.url
        host_url = f"{url.scheme}://{url.netloc.decode('ascii')}"
        headers = Headers(raw=[(k.lower(), v) for k, v in request.headers.raw])
        query = QueryParams(url.query.decode("ascii"))
        return cls(request.method, host_url, url.path, query, headers, request.content or None)


@dataclass
class ResponseData:
    """A response as openapi-core reads it (its ``Response`` protocol)."""

    status_code: int
    headers: Headers
    data: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type") or ""

    @classmethod
    def from_httpx(cls, response: httpx.Response) -> ResponseData:
        headers = Headers(raw=[(k.lower(), v) for k, v in response.headers.raw])
        return cls(response.status_code, headers, response.content)


class SpecValidator:
    """Validates messages against one OpenAPI description and logs the violations."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.api = _openapi(json.dumps(spec, sort_keys=True))
        self._finder = APICallPathFinder(self.api.spec)
        self._violations: list[Violation] = []
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path) -> SpecValidator:
        return cls(json.loads(Path(path).read_text("utf-8")))

    @classmethod
    def pylon(cls) -> SpecValidator:
        """Pylon's published OpenAPI description (bundled with the package)."""
        return cls(bundled_spec(PYLON_SPEC))

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    def clear(self) -> None:
        with self._lock:
            self._violations.clear()

    def check_request(self, request: RequestData) -> list[Violation]:
        operation = self.operation(request)
        found = [
            Violation(operation, "request", message, request.method.upper(), request.path)
            for error in self.api.iter_request_errors(request)
            for message in _messages(error)
        ]
        return self._log(found)

    def check_response(self, request: RequestData, response: ResponseData) -> list[Violation]:
        operation = self.operation(request)
        method, path, status = request.method.upper(), request.path, response.status_code
        found = [
            Violation(operation, "response", message, method, path, status)
            for error in self.api.iter_response_errors(request, response)
            for message in _messages(error)
        ]
        return self._log(found)

    def operation(self, request: RequestData) -> str:
        """The documented operation a request addresses (operationId when it has one)."""
        try:
            found = self._finder.find(request.method, request.host_url + request.path)
        except Exception:  # openapi-core's PathError family: no documented operation
            return f"{request.method.upper()} {request.path}"
        operation_id = found.operation.get("operationId")
        if isinstance(operation_id, str):
            return operation_id
        return f"{request.method.upper()} {found.path_result.pattern}"

    def _log(self, found: list[Violation]) -> list[Violation]:
        if found:
            with self._lock:
                self._violations.extend(found)
        return found


def _messages(error: Exception) -> list[str]:
    """One readable line per schema error (with its JSON path), else the error itself."""
    kind = type(error).__name__
    cause = error.__cause__
    schema_errors = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    if schema_errors:
        return [f"{kind} at {e.json_path}: {e.message}" for e in schema_errors]
    text = str(error)
    return [text if text.startswith(kind) else f"{kind}: {text}"]


class ValidatingProxy:
    """ASGI reverse proxy: validate the request, forward it, validate the answer, pass it on.

    ``transport`` lets the upstream be an in-process app (``httpx.ASGITransport``);
    ``reject_invalid`` answers 422 instead of forwarding a request with violations.
    """

    def __init__(
        self,
        validator: SpecValidator,
        upstream: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        reject_invalid: bool = False,
        timeout: float = 30.0,
    ) -> None:
        self.validator = validator
        self.upstream = upstream.rstrip("/")
        self.transport = transport
        self.reject_invalid = reject_invalid
        self.timeout = timeout
        self.app = Starlette(
            routes=[
                Route(f"{PROXY_PREFIX}/violations", self._list, methods=["GET"]),
                Route(f"{PROXY_PREFIX}/violations", self._clear, methods=["DELETE"]),
                Route("/{path:path}", self._forward, methods=_ALL_METHODS),
            ]
        )

    @property
    def violations(self) -> list[Violation]:
        return self.validator.violations

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    async def _list(self, _: Request) -> Response:
        rows = [v.as_dict() for v in self.validator.violations]
        return JSONResponse({"count": len(rows), "violations": rows})

    async def _clear(self, _: Request) -> Response:
        self.validator.clear()
        return JSONResponse({"count": 0, "violations": []})

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        host_url = f"{request.url.scheme}://{request.url.netloc}"
        data = RequestData(
            request.method, host_url, request.url.path, request.query_params, request.headers, body
        )
        violations = self.validator.check_request(data)
        if violations and self.reject_invalid:
            rows = [v.as_dict() for v in violations]
            return JSONResponse(
                {"errors": [v.message for v in violations], "violations": rows}, 422
            )
        url = (
            self.upstream
            + request.url.path
            + (f"?{request.url.query}" if request.url.query else "")
        )
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        try:
            async with httpx.AsyncClient(transport=self.transport, timeout=self.timeout) as client:
                answer = await client.request(request.method, url, content=body, headers=headers)
        except Exception as exc:  # an unreachable or broken upstream is the proxy's 502
            return JSONResponse({"errors": [f"upstream failed: {type(exc).__name__}"]}, 502)
        violations += self.validator.check_response(data, ResponseData.from_httpx(answer))
        response = Response(answer.content, status_code=answer.status_code)
        skip = _HOP_BY_HOP | {"content-encoding"}
        response.raw_headers.extend(
            (k.lower(), v) for k, v in answer.headers.raw if k.decode("latin-1").lower() not in skip
        )
        response.raw_headers.append((VIOLATIONS_HEADER.lower().encode(), b"%d" % len(violations)))
        return response


class ValidatingTransport(httpx.BaseTransport):
    """An ``httpx`` transport that validates every exchange passing through ``inner``."""

    def __init__(self, validator: SpecValidator, inner: httpx.BaseTransport | None = None) -> None:
        self.validator = validator
        self.inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        data = RequestData.from_httpx(request)
        self.validator.check_request(data)
        response = self.inner.handle_request(request)
        response.read()
        self.validator.check_response(data, ResponseData.from_httpx(response))
        return response

    def close(self) -> None:
        self.inner.close()


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a thread; yields its base URL (port 0 = any free)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"serve-{host}:{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"could not serve on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def main(argv: list[str] | None = None) -> None:
    """``python -m contactsync_sandbox.openapi_proxy --upstream http://127.0.0.1:8003``."""
    parser = argparse.ArgumentParser(description="Validating OpenAPI reverse proxy")
    parser.add_argument("--upstream", required=True, help="base URL to forward to")
    parser.add_argument("--spec", help="OpenAPI JSON file (default: the bundled Pylon spec)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8013)
    parser.add_argument("--reject-invalid", action="store_true", help="422 invalid requests")
    args = parser.parse_args(argv)
    validator = SpecValidator.from_file(args.spec) if args.spec else SpecValidator.pylon()
    proxy = ValidatingProxy(validator, args.upstream, reject_invalid=args.reject_invalid)
    uvicorn.run(proxy, host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
