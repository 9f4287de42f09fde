"""The customer-wallet gRPC server (wallet.v1.WalletService)."""
