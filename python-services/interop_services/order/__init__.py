"""Order: validates an order, prices it through Discount, charges it through Payment, and keeps it (grpcio
asyncio)."""
