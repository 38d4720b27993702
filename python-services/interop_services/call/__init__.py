"""The implementation's client of the process contract (docs/implementing.md, "The process contract: clients"):
JSON calls on stdin, one JSON outcome per call on stdout, gRPC through grpc.aio with messages built from the
descriptors of every generated stub, HTTP through aiohttp.

    python -m interop_services.call < calls.jsonl
"""
