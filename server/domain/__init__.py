"""The wallet domain: values, limits, the decision rules and the errors a caller may see.

Pure Python: nothing here imports gRPC, protobuf or a database driver, so every
rule can be unit-tested without a server or a database. The API package maps
these errors to gRPC statuses; the store package reads and writes these values.
"""
