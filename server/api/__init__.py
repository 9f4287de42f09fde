"""The gRPC edge: the servicer, proto ⇄ domain translation, status mapping, and the interceptor.

Everything that imports grpc or the generated messages lives here (and in the
wiring, `server.app`). Requests come in through `parse`, go to the ledger, and
come back out through `render`; a refused request's domain error becomes a
`google.rpc.Status` in `status`, once, for every method.
"""
