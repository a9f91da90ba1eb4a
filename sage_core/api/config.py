"""Validated settings of an environment (pydantic): unknown keys and bad values are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class EnvConfig(BaseModel):
    """Settings shared by every backend.

    Example::

        LocalEnvironment("job", config={"strict": True, "max_bundle": 1024})
    """

    model_config = ConfigDict(extra="forbid")

    strict: bool = Field(False, description="fail the job on the first failing record instead of dead-lettering it")
    parallelism: int = Field(1, ge=1, description="default parallelism of operators")
    max_bundle: int = Field(65_536, ge=1, description="most records in one bundle")
    initial_bundle: int = Field(1, ge=1, description="records in a source's first bundle; bundles then double")
    bundle_target_ms: float = Field(20.0, gt=0, description="bundles grow until one takes about this long")
    max_pending_bundles: int = Field(8, ge=1, description="bundles queued per instance before upstream waits")
    service_timeout: float = Field(60.0, gt=0, description="default timeout of service calls, seconds")
    idle_poll_ms: float = Field(50.0, gt=0, description="longest wait before polling an idle source again")
    gc_threshold: int = Field(
        50_000, ge=0, description="CPython's young-generation GC threshold while a job runs in this process (0: leave it alone)"
    )
