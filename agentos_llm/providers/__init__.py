"""Provider implementations, one module per vendor wire; each imports its SDK only when loaded."""
