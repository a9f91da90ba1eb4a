"""A module-level SAGE pipeline as a Prefect flow, for the serve and deployment tests."""

from sage_adapters.prefect import as_prefect_flow
from sage_core import LocalEnvironment


def double(x):
    return x * 2


@as_prefect_flow
def numbers_pipeline():
    env = LocalEnvironment("served-numbers")
    env.from_batch(range(10)).map(double).collect("out")
    return env


if __name__ == "__main__":
    numbers_pipeline.serve(name="served")
