"""The client of the process contract: read calls, one JSON object a line, make each, write its outcome as one JSON
line, in order; exit 0 at the end of the input, 2 (one line on stderr) for a line that is not a JSON object.

gRPC calls are dynamic: the method is looked up by name in the default descriptor pool (every generated `*_pb2`
module imported first), the request parsed from proto3 JSON into a message class made from its descriptor, the
response printed back as proto3 JSON. Failed calls report the status details (`grpc-status-details-bin`) decoded
through grpc_status, as grpcio's users decode them, and everything grpcio said in `error`.

Channels are kept per (address, server name, TLS files' contents), so a long-lived client does not handshake per
call. A channel whose call ended UNAVAILABLE is closed and dropped (grpcio would otherwise answer the next calls from
its reconnect backoff), and a call with `"fresh": true` gets a channel of its own, closed after the call. Every
channel has its own subchannel pool, so a new channel means a new connection.

HTTP calls get a connection of their own each (aiohttp, no pooling, no proxy from the environment).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sys
from dataclasses import dataclass
from typing import Callable, NoReturn

import aiohttp
import grpc
import yarl
from google.protobuf import descriptor, descriptor_pool, json_format, message_factory
from google.protobuf.message import Message
from google.rpc import error_details_pb2  # noqa: F401 -- registers the google.rpc detail types for decoding

from interop_services import cli, proto, rpc, tls
from interop_services.catalog.client import describe

PROG = "interop_services.call"
DEFAULT_TIMEOUT_MS = 10_000
# The TLS fields of a call, named as the call names them in error messages.
TLS_FIELDS = ("tls.ca", "tls.cert", "tls.key")
# Every channel its own connections: a fresh (or replaced) channel must not reuse another channel's connection.
CHANNEL_OPTIONS = [("grpc.use_local_subchannel_pool", 1)]

log = logging.getLogger("interop.call")

Outcome = dict[str, object]


class CallError(Exception):
    """A call that cannot be made (a bad field, an unknown method): outcome CLIENT_ERROR with this message."""


class BadInput(Exception):
    """A line that is not a call at all: the client stops with exit code 2."""


@dataclass(frozen=True)
class Target:
    """Where a call goes and how it is secured."""

    addr: cli.HostPort
    server_name: str
    tls: tls.ClientTls | None

    @property
    def key(self) -> tuple[object, ...]:
        """What makes two calls share a channel: the same address, name and TLS files (their contents)."""
        if self.tls is None:
            return (str(self.addr), self.server_name, None)
        files = (self.tls.ca, self.tls.cert, self.tls.key)
        return (str(self.addr), self.server_name, *((f.path, f.data) if f else None for f in files))


class Channels:
    """The open gRPC channels, one per target key."""

    def __init__(self) -> None:
        self._open: dict[tuple[object, ...], grpc.aio.Channel] = {}

    def get(self, target: Target) -> grpc.aio.Channel:
        channel = self._open.get(target.key)
        if channel is None:
            channel = self._open[target.key] = new_channel(target)
        return channel

    async def drop(self, target: Target, channel: grpc.aio.Channel) -> None:
        if self._open.get(target.key) is channel:
            del self._open[target.key]
        await channel.close()

    async def close(self) -> None:
        for channel in self._open.values():
            await channel.close()
        self._open.clear()


def new_channel(target: Target) -> grpc.aio.Channel:
    return rpc.upstream_channel(target.server_name, target.addr, target.server_name, target.tls,
                                options=CHANNEL_OPTIONS)


# --- reading a call ---


def parse_line(number: int, line: bytes) -> dict[str, object]:
    """The call on input line `number`; BadInput if it is not a JSON object."""
    try:
        value = json.loads(line)
    except ValueError as err:  # json.JSONDecodeError and UnicodeDecodeError
        raise BadInput(f"line {number}: not JSON: {err}") from err
    if not isinstance(value, dict):
        raise BadInput(f"line {number}: not a JSON object: {line.decode(errors='replace').strip()[:80]}")
    return value


def _get(obj: dict[str, object], name: str, kind: type | tuple[type, ...], where: str = "",
         default: object = None, required: bool = False) -> object:
    """Field `name` of `obj`, checked to be a `kind` (null counts as absent)."""
    value = obj.get(name)
    if value is None:
        if required:
            raise CallError(f"{where}{name} is required")
        return default
    # bool is an int to Python, never to JSON.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise CallError(f"{where}{name}: expected {_json_kind(names)}, got {json.dumps(value)[:80]}")
    return value


def _json_kind(python: str) -> str:
    return {"str": "a string", "int": "an integer", "dict": "an object", "list": "an array", "bool": "true or false"
            }.get(python, python)


def target_of(call: dict[str, object]) -> Target:
    addr_text = _get(call, "addr", str, required=True)
    assert isinstance(addr_text, str)
    try:
        addr = cli.parse_host_port("addr", addr_text, allow_port_zero=False)
    except cli.ConfigError as err:
        raise CallError(str(err)) from err
    server_name = _get(call, "server_name", str, default=addr.host)
    assert isinstance(server_name, str)
    security = _get(call, "tls", dict)
    client_tls = None
    if isinstance(security, dict):
        ca = _get(security, "ca", str, "tls.", required=True)
        cert = _get(security, "cert", str, "tls.")
        key = _get(security, "key", str, "tls.")
        try:
            client_tls = tls.client_tls(ca, cert, key, TLS_FIELDS)  # type: ignore[arg-type]
        except cli.ConfigError as err:
            raise CallError(str(err)) from err
    return Target(addr, server_name, client_tls)


def timeout_of(call: dict[str, object]) -> float:
    timeout_ms = _get(call, "timeout_ms", int, default=DEFAULT_TIMEOUT_MS)
    assert isinstance(timeout_ms, int)
    if timeout_ms <= 0:
        raise CallError(f"timeout_ms: expected a positive integer, got {timeout_ms}")
    return timeout_ms / 1000


# --- gRPC ---


def find_method(name: str) -> descriptor.MethodDescriptor:
    """`package.Service/Method` (a leading `/` allowed, as in an HTTP/2 path) in the default descriptor pool."""
    service_name, sep, method_name = name.lstrip("/").partition("/")
    if not sep or not service_name or not method_name or "/" in method_name:
        raise CallError(f"grpc.method {name}: expected package.Service/Method")
    pool = descriptor_pool.Default()
    try:
        service = pool.FindServiceByName(service_name)
    except KeyError:
        raise CallError(f"grpc.method {name}: unknown service {service_name}") from None
    method = service.methods_by_name.get(method_name)
    if method is None:
        raise CallError(f"grpc.method {name}: {service_name} has no method {method_name}")
    return method


def metadata_of(spec: dict[str, object]) -> list[tuple[str, str]]:
    metadata = _get(spec, "metadata", dict, "grpc.", default={})
    assert isinstance(metadata, dict)
    pairs = []
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise CallError(f"grpc.metadata.{key}: expected a string, got {json.dumps(value)[:80]}")
        pairs.append((key, value))
    return pairs


async def grpc_call(channels: Channels, target: Target, timeout: float, spec: dict[str, object],
                    fresh: bool) -> Outcome:
    name = _get(spec, "method", str, "grpc.", required=True)
    assert isinstance(name, str)
    method = find_method(name)
    if method.client_streaming:
        raise CallError(f"grpc.method {name}: client-streaming and bidirectional methods are not supported yet")
    request_class = message_factory.GetMessageClass(method.input_type)
    response_class = message_factory.GetMessageClass(method.output_type)
    request_json = _get(spec, "request", dict, "grpc.", default={})
    try:
        request = json_format.ParseDict(request_json, request_class())
    except json_format.ParseError as err:
        raise CallError(f"grpc.request: not a {method.input_type.full_name} in proto3 JSON: {err}") from err
    metadata = metadata_of(spec)
    path = f"/{method.containing_service.full_name}/{method.name}"
    channel = new_channel(target) if fresh else channels.get(target)
    responses: list[object] = []
    try:
        if method.server_streaming:
            stream = channel.unary_stream(path, request_serializer=_serialize,
                                          response_deserializer=response_class.FromString)
            async for response in stream(request, timeout=timeout, metadata=metadata):
                responses.append(_to_json(response))
            return {"code": "OK", "message": "", "response": None, "responses": responses, "details": []}
        unary = channel.unary_unary(path, request_serializer=_serialize,
                                    response_deserializer=response_class.FromString)
        response = await unary(request, timeout=timeout, metadata=metadata)
        return {"code": "OK", "message": "", "response": _to_json(response), "details": []}
    except grpc.aio.AioRpcError as err:
        if err.code() == grpc.StatusCode.UNAVAILABLE and not fresh:
            # Its next calls would fail fast from grpcio's reconnect backoff; the next call gets a new channel.
            await channels.drop(target, channel)
        failed: Outcome = {"code": err.code().name, "message": err.details() or "", "response": None}
        if method.server_streaming:
            failed["responses"] = responses
        return {**failed, "details": details_of(err), "error": error_text(err)}
    finally:
        if fresh:
            await channel.close()


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


def _to_json(message: Message) -> object:
    return json_format.MessageToDict(message)


def details_of(err: grpc.aio.AioRpcError) -> list[object]:
    """The status details as proto3 JSON `Any`s (`@type` first), in order; a type no descriptor here knows is kept as
    `{"@type": ..., "value": base64}` rather than dropped."""
    status = rpc.details_of(err)
    if status is None:
        return []
    decoded: list[object] = []
    for detail in status.details:
        try:
            decoded.append(json_format.MessageToDict(detail))
        except (TypeError, KeyError, json_format.Error):
            decoded.append({"@type": detail.type_url, "value": base64.b64encode(detail.value).decode()})
    return decoded


def error_text(err: grpc.aio.AioRpcError) -> str:
    """Everything grpcio says about a failed call, on one line: code, details, and its debug error string (where
    a refused handshake is described)."""
    parts = [f"status = {err.code().name}", f"details = {json.dumps(err.details() or '')}"]
    debug = err.debug_error_string()
    if debug:
        parts.append(f"debug_error_string = {debug}")
    return ", ".join(parts)


# --- HTTP ---

# aiohttp's own additions are left out, so the request is what the call asked for (plus Host and Content-Length).
_SKIP_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")


def headers_of(spec: dict[str, object]) -> list[tuple[str, str]]:
    headers = _get(spec, "headers", list, "http.", default=[])
    assert isinstance(headers, list)
    pairs = []
    for index, pair in enumerate(headers):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise CallError(f"http.headers[{index}]: expected [name, value], got {json.dumps(pair)[:80]}")
        pairs.append((pair[0], pair[1]))
    return pairs


async def http_call(target: Target, timeout: float, spec: dict[str, object]) -> Outcome:
    method = _get(spec, "method", str, "http.", default="GET")
    path = _get(spec, "path", str, "http.", required=True)
    body = _get(spec, "body", str, "http.", default="")
    assert isinstance(method, str) and isinstance(path, str) and isinstance(body, str)
    if not path.startswith("/"):
        raise CallError(f"http.path {path}: expected a path starting with /")
    headers = headers_of(spec)
    scheme = "https" if target.tls else "http"
    try:
        # encoded=True: the path goes out exactly as given, never normalized or re-quoted.
        url = yarl.URL(f"{scheme}://{target.addr}{path}", encoded=True)
    except ValueError as err:
        raise CallError(f"http.path {path}: {err}") from err
    context: object = target.tls.ssl_context() if target.tls else False
    connector = aiohttp.TCPConnector(force_close=True)
    session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout),
                                    trust_env=False, auto_decompress=False)
    async with session:
        try:
            async with session.request(method, url, headers=headers, data=body.encode() if body else None,
                                       ssl=context, server_hostname=target.server_name if target.tls else None,
                                       skip_auto_headers=_SKIP_AUTO_HEADERS) as response:
                received = await response.read()
                joined: dict[str, str] = {}
                for name, value in response.headers.items():
                    lower = name.lower()
                    joined[lower] = f"{joined[lower]}, {value}" if lower in joined else value
                return {"http": {"status": response.status, "headers": joined,
                                 "body": received.decode("utf-8", errors="replace")}}
        except aiohttp.InvalidURL as err:
            raise CallError(f"http: cannot request {url}: {err}") from err
        except asyncio.TimeoutError as err:  # before ClientError: aiohttp's timeouts are both
            return {"code": "DEADLINE_EXCEEDED", "message": f"no response within {timeout:g} s", "http": None,
                    "error": describe(err)}
        except (aiohttp.ClientError, OSError) as err:
            return {"code": "UNAVAILABLE", "message": str(err) or type(err).__name__, "http": None,
                    "error": describe(err)}


# --- the loop ---


async def make(channels: Channels, call: dict[str, object]) -> Outcome:
    """The outcome of one call, its id first; never raises but for cancellation."""
    call_id = call.get("id")
    try:
        grpc_spec = _get(call, "grpc", dict)
        http_spec = _get(call, "http", dict)
        if (grpc_spec is None) == (http_spec is None):
            raise CallError("a call needs exactly one of grpc and http")
        fresh = _get(call, "fresh", bool, default=False)
        target = target_of(call)
        timeout = timeout_of(call)
        if isinstance(grpc_spec, dict):
            outcome = await grpc_call(channels, target, timeout, grpc_spec, bool(fresh))
        else:
            assert isinstance(http_spec, dict)
            outcome = await http_call(target, timeout, http_spec)
    except CallError as err:
        outcome = client_error(str(err), call)
    except Exception as err:  # a long-lived client reports what it could not do and goes on
        log.exception("call %s could not be made", json.dumps(call_id))
        outcome = client_error(f"{type(err).__name__}: {err}", call)
    return {"id": call_id, **outcome}


def client_error(message: str, call: dict[str, object]) -> Outcome:
    if isinstance(call.get("http"), dict):
        return {"code": "CLIENT_ERROR", "message": message, "http": None, "error": message}
    return {"code": "CLIENT_ERROR", "message": message, "response": None, "details": [], "error": message}


async def run(read_line: Callable[[], bytes], write: Callable[[str], None]) -> None:
    """Make the calls `read_line` gives until it returns b"" (end of input), writing each outcome as it is known."""
    proto.import_all_generated()
    channels = Channels()
    loop = asyncio.get_running_loop()
    number = 0
    try:
        while line := await loop.run_in_executor(None, read_line):
            number += 1
            if not line.strip():
                continue
            call = parse_line(number, line)
            write(json.dumps(await make(channels, call)) + "\n")
    finally:
        await channels.close()


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


def fail(why: str) -> NoReturn:
    print(f"{PROG}: error: {why}", file=sys.stderr, flush=True)
    raise SystemExit(cli.EXIT_CONFIG)


def main() -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    try:
        asyncio.run(run(sys.stdin.buffer.readline, _write))
    except BadInput as err:
        fail(str(err))
    except KeyboardInterrupt:
        raise SystemExit(130) from None
