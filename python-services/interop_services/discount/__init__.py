"""Discount: the tutorial's gRPC service (`ecommerce.Discount/ApplyDiscount`) on grpcio's asyncio API."""
