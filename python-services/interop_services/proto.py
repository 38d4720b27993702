"""The one place that imports the generated protobuf and gRPC modules.

The stubs are generated outside the source tree (into the venv) and reached through a .pth file, so every other
module imports them from here and a missing generation step fails in one obvious place.
"""

from ecommerce import ecommerce_pb2, ecommerce_pb2_grpc
from order import order_pb2, order_pb2_grpc
from payment import payment_pb2, payment_pb2_grpc

# proto/grpc/testing/*.proto are generated under upstream's import root `src/proto/` (see harness/src/python.rs):
# as `grpc.testing.*` they would sit inside grpcio's own `grpc` package.
from src.proto.grpc.testing import empty_pb2, messages_pb2, test_pb2_grpc

__all__ = [
    "ecommerce_pb2",
    "ecommerce_pb2_grpc",
    "empty_pb2",
    "messages_pb2",
    "order_pb2",
    "order_pb2_grpc",
    "payment_pb2",
    "payment_pb2_grpc",
    "test_pb2_grpc",
]
