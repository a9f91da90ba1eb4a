"""sage_adapters: one adapter per backend."""
