"""nox sessions: tests per backend, lint, typecheck, benchmarks.

    nox -s tests            # every backend in one run
    nox -s tests-local      # one backend (tests-dask, tests-ray, tests-prefect as they land)
    nox -s lint typecheck bench
"""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"

BACKENDS = {"local": "dev", "dask": "dev,dask", "ray": "dev,ray", "prefect": "dev,prefect"}
BENCH_EXTRAS = "dev"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, every backend installed by the ``all`` extra."""
    session.install("-e", ".[all]")
    session.run("pytest", *session.posargs)


@nox.session(name="tests-local")
def tests_local(session: nox.Session) -> None:
    session.install("-e", f".[{BACKENDS['local']}]")
    session.run("pytest", "--backends=local", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "sage_core", "adapters", "native", "recipes", "tests", "benchmarks", "examples")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks print ratios against a baseline measured in the same run."""
    session.install("-e", f".[{BENCH_EXTRAS}]")
    session.run("python", "benchmarks/bench_local.py", *session.posargs)
