"""Backend-neutral execution: physical plan, operator instances and the driver loop.

Adapters reuse these pieces and supply only how instances are placed and called.
"""
