"""Payment: charges an order's total, at most once per order, refusing totals above a limit (grpcio asyncio)."""
