"""The interop spec's client test cases, one coroutine each, named as the spec names them; sizes and values are the
spec's, as named constants. A case raises Mismatch with the first thing it saw that the spec does not allow.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable

import grpc

from interop_services.proto import empty_pb2, messages_pb2, test_pb2_grpc
from interop_services.testing import ECHO_INITIAL, ECHO_TRAILING_BIN, zeros

LARGE_REQUEST_SIZE = 271_828
LARGE_RESPONSE_SIZE = 314_159
CLIENT_STREAM_SIZES = (27_182, 8, 1_828, 45_904)
CLIENT_STREAM_TOTAL = 74_922
SERVER_STREAM_SIZES = (31_415, 9, 2_653, 58_979)
COMPRESSED_STREAM_REQUEST_SIZES = (27_182, 45_904)
COMPRESSED_STREAM_TOTAL = 73_086
COMPRESSED_STREAM_RESPONSE_SIZES = (31_415, 92_653)
ECHO_INITIAL_VALUE = "test_initial_metadata_value"
ECHO_TRAILING_VALUE = b"\xab\xab\xab"
TEST_STATUS_CODE = grpc.StatusCode.UNKNOWN  # 2
TEST_STATUS_MESSAGE = "test status message"
SPECIAL_STATUS_MESSAGE = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
SLEEPING_SERVER_DEADLINE_SECONDS = 0.001
SLEEPING_SERVER_REQUEST_SIZE = 27_182


class Mismatch(Exception):
    """What a case saw against what the spec wants: printed as `<case>: got X, want Y`."""

    def __init__(self, got: str, want: str) -> None:
        super().__init__(f"got {got}, want {want}")


def _code_name(code: grpc.StatusCode | None) -> str:
    # Rust's tonic prints codes in CamelCase (DeadlineExceeded); print them the same way so both clients' lines
    # read alike.
    return "".join(part.capitalize() for part in code.name.split("_")) if code else "None"


def _describe(err: grpc.aio.AioRpcError) -> str:
    return f"{_code_name(err.code())} {err.details()!r}"


def check(what: str, got: Any, want: Any) -> None:
    if got != want:
        raise Mismatch(f"{what} {got!r}", f"{what} {want!r}")


async def ok(what: str, call: Awaitable[Any]) -> Any:
    """The result of an RPC that must succeed."""
    try:
        return await call
    except grpc.aio.AioRpcError as err:
        raise Mismatch(f"{what} failing with {_describe(err)}", f"{what} OK") from None


async def expect_status(what: str, call: Callable[[], Awaitable[Any]], code: grpc.StatusCode,
                        message: str | None = None) -> None:
    """An RPC that must fail with `code` (and `message`, if given)."""
    try:
        await call()
    except grpc.aio.AioRpcError as err:
        if err.code() == code and (message is None or err.details() == message):
            return
        want = f"{what} {_code_name(code)}" + (f" {message!r}" if message is not None else "")
        raise Mismatch(f"{what} {_describe(err)}", want) from None
    raise Mismatch(f"{what} OK", f"{what} {_code_name(code)}")


def check_payload(what: str, payload: messages_pb2.Payload, size: int) -> None:
    check(f"{what} payload size", len(payload.body), size)
    check(f"{what} payload all zeros", payload.body.count(0) == len(payload.body), True)


def large_request(**fields: Any) -> messages_pb2.SimpleRequest:
    return messages_pb2.SimpleRequest(response_size=LARGE_RESPONSE_SIZE, payload=zeros(LARGE_REQUEST_SIZE), **fields)


def streaming_request(sizes: tuple[int, ...] | list[int], request_size: int = 0,
                      **fields: Any) -> messages_pb2.StreamingOutputCallRequest:
    request = messages_pb2.StreamingOutputCallRequest(
        response_parameters=[messages_pb2.ResponseParameters(size=size) for size in sizes], **fields)
    if request_size:
        request.payload.CopyFrom(zeros(request_size))
    return request


async def _collect(call: Any) -> list[messages_pb2.StreamingOutputCallResponse]:
    return [message async for message in call]


def _sizes(messages: list[messages_pb2.StreamingOutputCallResponse]) -> list[int]:
    return [len(message.payload.body) for message in messages]


class Cases:
    """The interop cases over one channel."""

    def __init__(self, channel: grpc.aio.Channel, sync_channel: Callable[[], grpc.Channel]) -> None:
        self.stub = test_pb2_grpc.TestServiceStub(channel)
        # A new channel of grpcio's synchronous API to the same server, with the same credentials and options:
        # see timeout_on_sleeping_server.
        self.sync_channel = sync_channel
        self.unimplemented = test_pb2_grpc.UnimplementedServiceStub(channel)

    async def empty_unary(self) -> None:
        response = await ok("EmptyCall", self.stub.EmptyCall(empty_pb2.Empty()))
        check("EmptyCall response", response, empty_pb2.Empty())

    async def large_unary(self) -> None:
        response = await ok("UnaryCall", self.stub.UnaryCall(large_request()))
        check_payload("UnaryCall response", response.payload, LARGE_RESPONSE_SIZE)

    async def client_streaming(self) -> None:
        requests = [messages_pb2.StreamingInputCallRequest(payload=zeros(size)) for size in CLIENT_STREAM_SIZES]
        response = await ok("StreamingInputCall", self.stub.StreamingInputCall(iter(requests)))
        check("aggregated_payload_size", response.aggregated_payload_size, CLIENT_STREAM_TOTAL)

    async def server_streaming(self) -> None:
        call = self.stub.StreamingOutputCall(streaming_request(SERVER_STREAM_SIZES))
        messages = await ok("StreamingOutputCall stream", _collect(call))
        check("response sizes", _sizes(messages), list(SERVER_STREAM_SIZES))

    async def ping_pong(self) -> None:
        call = self.stub.FullDuplexCall()
        for i, (size, request_size) in enumerate(zip(SERVER_STREAM_SIZES, CLIENT_STREAM_SIZES)):
            await ok("FullDuplexCall write", call.write(streaming_request([size], request_size)))
            message = await ok("FullDuplexCall read", call.read())
            if message is grpc.aio.EOF:
                raise Mismatch(f"the stream ending after {i} responses", "4 responses")
            check_payload(f"response {i + 1}", message.payload, size)
        await ok("FullDuplexCall half-close", call.done_writing())
        rest = await ok("FullDuplexCall end", call.read())
        check("a response after half-close", rest, grpc.aio.EOF)

    async def empty_stream(self) -> None:
        messages = await ok("FullDuplexCall stream", _collect(self.stub.FullDuplexCall(iter(()))))
        check("responses", len(messages), 0)

    async def custom_metadata(self) -> None:
        metadata = ((ECHO_INITIAL, ECHO_INITIAL_VALUE), (ECHO_TRAILING_BIN, ECHO_TRAILING_VALUE))

        async def check_echo(what: str, call: Any) -> None:
            initial = dict(await call.initial_metadata() or ())
            check(f"{what} {ECHO_INITIAL}", initial.get(ECHO_INITIAL), ECHO_INITIAL_VALUE)
            trailing = dict(await call.trailing_metadata() or ())
            check(f"{what} trailer {ECHO_TRAILING_BIN}", trailing.get(ECHO_TRAILING_BIN), ECHO_TRAILING_VALUE)

        call = self.stub.UnaryCall(large_request(), metadata=metadata)
        response = await ok("UnaryCall", call)
        check_payload("UnaryCall response", response.payload, LARGE_RESPONSE_SIZE)
        await check_echo("UnaryCall", call)

        request = streaming_request([LARGE_RESPONSE_SIZE], LARGE_REQUEST_SIZE)
        call = self.stub.FullDuplexCall(iter([request]), metadata=metadata)
        messages = await ok("FullDuplexCall stream", _collect(call))
        check("FullDuplexCall responses", _sizes(messages), [LARGE_RESPONSE_SIZE])
        await check_echo("FullDuplexCall", call)

    async def status_code_and_message(self) -> None:
        status = messages_pb2.EchoStatus(code=TEST_STATUS_CODE.value[0], message=TEST_STATUS_MESSAGE)
        await expect_status("UnaryCall", lambda: self.stub.UnaryCall(
            messages_pb2.SimpleRequest(response_status=status)), TEST_STATUS_CODE, TEST_STATUS_MESSAGE)
        request = messages_pb2.StreamingOutputCallRequest(response_status=status)
        await expect_status("FullDuplexCall", lambda: _collect(self.stub.FullDuplexCall(iter([request]))),
                            TEST_STATUS_CODE, TEST_STATUS_MESSAGE)

    async def special_status_message(self) -> None:
        status = messages_pb2.EchoStatus(code=TEST_STATUS_CODE.value[0], message=SPECIAL_STATUS_MESSAGE)
        await expect_status("UnaryCall", lambda: self.stub.UnaryCall(
            messages_pb2.SimpleRequest(response_status=status)), TEST_STATUS_CODE, SPECIAL_STATUS_MESSAGE)

    async def unimplemented_method(self) -> None:
        await expect_status("UnimplementedCall", lambda: self.stub.UnimplementedCall(empty_pb2.Empty()),
                            grpc.StatusCode.UNIMPLEMENTED)

    async def unimplemented_service(self) -> None:
        await expect_status("UnimplementedService/UnimplementedCall",
                            lambda: self.unimplemented.UnimplementedCall(empty_pb2.Empty()),
                            grpc.StatusCode.UNIMPLEMENTED)

    async def cancel_after_begin(self) -> None:
        call = self.stub.StreamingInputCall()
        call.cancel()
        await _expect_cancelled("StreamingInputCall", call)

    async def cancel_after_first_response(self) -> None:
        call = self.stub.FullDuplexCall()
        await ok("FullDuplexCall write",
                 call.write(streaming_request(SERVER_STREAM_SIZES[:1], CLIENT_STREAM_SIZES[0])))
        message = await ok("FullDuplexCall read", call.read())
        if message is grpc.aio.EOF:
            raise Mismatch("the stream ending before a response", "one response")
        check_payload("response 1", message.payload, SERVER_STREAM_SIZES[0])
        call.cancel()
        await _expect_cancelled("FullDuplexCall", call)

    async def timeout_on_sleeping_server(self) -> None:
        # Over grpcio's synchronous API, in a thread: in grpcio's asyncio API a request write still in flight when
        # the call ends fails, and _StreamRequestMixin._write (grpc/aio/_call.py) then calls
        # set_internal_error(), which replaces the call's status with a made-up INTERNAL "Internal error from
        # Core", before or after Core's real status (grpc/grpc#36066). With a 1 ms deadline the write is in flight
        # as the deadline passes in a few runs of a hundred, whether written with call.write() or from an iterator.
        # The synchronous API drops a failed write and reports only the status Core received
        # (grpc/_channel.py, _consume_request_iterator).
        await asyncio.to_thread(self._timeout_on_sleeping_server)

    def _timeout_on_sleeping_server(self) -> None:
        ended = threading.Event()

        def requests() -> Any:
            yield messages_pb2.StreamingOutputCallRequest(payload=zeros(SLEEPING_SERVER_REQUEST_SIZE))
            # No half-close: the server is left waiting for more requests until the deadline.
            ended.wait()

        with self.sync_channel() as channel:
            call = test_pb2_grpc.TestServiceStub(channel).FullDuplexCall(
                requests(), timeout=SLEEPING_SERVER_DEADLINE_SECONDS)
            try:
                for _ in call:
                    pass
            except grpc.RpcError as err:
                if err.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    return
                raise Mismatch(f"FullDuplexCall {_code_name(err.code())} {err.details()!r}",
                               f"FullDuplexCall {_code_name(grpc.StatusCode.DEADLINE_EXCEEDED)}") from None
            finally:
                ended.set()
        raise Mismatch("FullDuplexCall OK", f"FullDuplexCall {_code_name(grpc.StatusCode.DEADLINE_EXCEEDED)}")

    async def client_compressed_unary(self) -> None:
        probe = large_request(expect_compressed=messages_pb2.BoolValue(value=True))
        await expect_status("UnaryCall probe (uncompressed, expect_compressed)",
                            lambda: self.stub.UnaryCall(probe), grpc.StatusCode.INVALID_ARGUMENT)
        response = await ok("UnaryCall compressed", self.stub.UnaryCall(probe, compression=grpc.Compression.Gzip))
        check_payload("UnaryCall compressed response", response.payload, LARGE_RESPONSE_SIZE)
        plain = large_request(expect_compressed=messages_pb2.BoolValue(value=False))
        response = await ok("UnaryCall uncompressed", self.stub.UnaryCall(plain))
        check_payload("UnaryCall uncompressed response", response.payload, LARGE_RESPONSE_SIZE)

    async def server_compressed_unary(self) -> None:
        for compressed in (True, False):
            what = f"UnaryCall (response_compressed={compressed})"
            request = large_request(response_compressed=messages_pb2.BoolValue(value=compressed))
            response = await ok(what, self.stub.UnaryCall(request))
            check_payload(what, response.payload, LARGE_RESPONSE_SIZE)
        raise _no_message_flags("a compressed response, then an uncompressed one")

    async def client_compressed_streaming(self) -> None:
        probe = messages_pb2.StreamingInputCallRequest(payload=zeros(COMPRESSED_STREAM_REQUEST_SIZES[0]),
                                                       expect_compressed=messages_pb2.BoolValue(value=True))
        await expect_status("StreamingInputCall probe (uncompressed, expect_compressed)",
                            lambda: self.stub.StreamingInputCall(iter([probe])), grpc.StatusCode.INVALID_ARGUMENT)
        raise Mismatch("no per-message compression switch in grpcio's client (a call compresses every message or "
                       "none)", f"a compressed message then an uncompressed one, aggregated size "
                                f"{COMPRESSED_STREAM_TOTAL}")

    async def server_compressed_streaming(self) -> None:
        request = messages_pb2.StreamingOutputCallRequest(response_parameters=[
            messages_pb2.ResponseParameters(size=size, compressed=messages_pb2.BoolValue(value=compressed))
            for size, compressed in zip(COMPRESSED_STREAM_RESPONSE_SIZES, (True, False))])
        messages = await ok("StreamingOutputCall stream", _collect(self.stub.StreamingOutputCall(request)))
        check("response sizes", _sizes(messages), list(COMPRESSED_STREAM_RESPONSE_SIZES))
        raise _no_message_flags("the first response compressed, the second not")


def _no_message_flags(want: str) -> Mismatch:
    # The sizes were checked; what the case is about, the compressed flag of each response message, grpcio's
    # client never shows.
    return Mismatch("no compressed flag to check: grpcio's client does not expose message flags", want)


async def _expect_cancelled(what: str, call: Any) -> None:
    code = await call.code()
    check(f"{what} status", _code_name(code), _code_name(grpc.StatusCode.CANCELLED))


CASES = (
    "empty_unary", "large_unary", "client_streaming", "server_streaming", "ping_pong", "empty_stream",
    "custom_metadata", "status_code_and_message", "special_status_message", "unimplemented_method",
    "unimplemented_service", "cancel_after_begin", "cancel_after_first_response", "timeout_on_sleeping_server",
    "client_compressed_unary", "server_compressed_unary", "client_compressed_streaming",
    "server_compressed_streaming",
)
