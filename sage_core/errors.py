"""SAGE's exception types. Holds error classes only; no logic beyond message building."""

from __future__ import annotations


class SageError(Exception):
    """Base class of every error SAGE raises on purpose."""


class PipelineValidationError(SageError, ValueError):
    """The pipeline graph is invalid; raised before anything runs."""


class BackendUnavailableError(SageError, ImportError):
    """A backend was asked for by name but cannot be loaded (missing extra, unknown name)."""


class UnsupportedFeatureError(PipelineValidationError, NotImplementedError):
    """A backend cannot run a feature the pipeline uses (e.g. a node type no runtime class
    is registered for); raised before anything runs."""


class ServiceError(SageError):
    """A service call failed, or the service does not exist."""


class ServiceTimeoutError(ServiceError, TimeoutError):
    """A service call did not answer within its timeout."""


class WorkerLostError(SageError):
    """A worker process that hosted operator instances died; a restart strategy
    (``env.set_restart_strategy``) can start the job again on the remaining workers."""


class OperatorError(SageError):
    """A record failed inside an operator and the job runs in strict mode.

    Carries the operator name, the function's description, the record and the original
    traceback text (the original exception may live in another process).
    """

    def __init__(self, operator: str, function: str, record: object, error: str, traceback: str):
        self.operator = operator
        self.function = function
        self.record = record
        self.error = error
        self.traceback = traceback
        msg = (
            f"operator {operator!r} ({function}) failed on record {_short(record)}: {error}\n"
            f"--- original traceback ---\n{traceback}"
            "Run without strict=True to send failing records to the dead-letter output instead."
        )
        super().__init__(msg)

    def __reduce__(self):  # keep the fields across process boundaries (Dask, Ray)
        return (
            type(self),
            (self.operator, self.function, self.record, self.error, self.traceback),
        )


def _short(record: object, limit: int = 200) -> str:
    text = repr(record)
    return text if len(text) <= limit else text[: limit - 3] + "..."
