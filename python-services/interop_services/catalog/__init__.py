"""Catalog: the tutorial's HTTP product list (aiohttp), priced per customer through the Discount gRPC service."""
