"""Provider adapters: one module per native wire format."""
