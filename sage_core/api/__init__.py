"""What users write: environments, the DataStream API, function base classes, the runtime
context operators see, engine settings, test helpers and the input paths of file sources.

Holds declarations only. It builds the IR (``sage_core.ir``) and hands it to the runtime
at ``submit()``; it must not run records itself or import any backend.
"""
