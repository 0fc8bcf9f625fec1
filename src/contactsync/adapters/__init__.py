"""System adapters: one module per system behind the contract in ``base``."""
