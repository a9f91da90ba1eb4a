"""Backend-neutral execution: the driver loop, stage instances, operators and source
readers, keyed bundles, partitioning, the backend/session contract, services, and job handles.

Adapters reuse these pieces and supply only how instances are placed and called. It must
not import an adapter, and it must not build graphs (that is ``sage_core.api``).
"""
