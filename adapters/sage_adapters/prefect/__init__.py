"""Prefect backend: ``pip install 'sage-dataflow[prefect]'``.

Use when: pipelines should be scheduled, retried, served or deployed like any Prefect flow,
and show up (flow run, one task run per bundle call) in the Prefect UI and API.
Supported: every operator and semantic of SAGE with the thread-pool task runner (the
conformance suite runs on it). Stateful operators keep their state in the flow process
between bundles (one long-lived instance per partition); each Prefect task carries one
bundle through one instance.
Not supported: Prefect's Dask/Ray task runners (state could not stay with its partition
between short tasks); run on ``backend="dask"`` or ``"ray"`` instead.
Caveats: every task run costs milliseconds of API work, so this backend prefers large
bundles (``bundle_target_ms`` 500); a retried task may re-apply a bundle's side effects.

    env.submit(backend="prefect", retries=2)       # a flow run per job
    flow = as_prefect_flow(build_env)              # a real Flow: call, serve or deploy it
"""

from sage_adapters.prefect.backend import PrefectBackend, PrefectOptions
from sage_adapters.prefect.flows import as_prefect_flow

__all__ = ["PrefectBackend", "PrefectOptions", "as_prefect_flow"]
