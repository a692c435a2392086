"""Control system of an intelligent bonded warehouse for cross-border e-commerce imports."""

__version__ = "0.1.0"
