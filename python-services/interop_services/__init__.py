"""Python reference services for the interop harness: Discount (gRPC) and Catalog (HTTP + gRPC client).

Each service runs as `python -m interop_services.<service>` and follows the command-line contract shared with the
Rust services: the same flags, a `READY <host>:<port>` line on stdout, logs on stderr, graceful stop on SIGTERM.
"""
