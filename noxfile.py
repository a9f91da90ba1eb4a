"""nox sessions: tests per backend, lint, typecheck, benchmarks.

    nox -s tests            # every backend in one run
    nox -s tests-local      # one backend: tests-local, tests-dask, tests-ray, tests-prefect
    nox -s lint typecheck bench bench-native capabilities
"""

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.default_venv_backend = "venv"

BACKENDS = {"local": "dev", "dask": "dev,dask", "ray": "dev,ray", "prefect": "dev,prefect"}
BENCH_EXTRAS = "all"


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, every backend installed by the ``all`` extra."""
    session.install("-e", ".[all]")
    session.run("pytest", *session.posargs)


def _backend_session(backend: str) -> None:
    @nox.session(name=f"tests-{backend}")
    def run(session: nox.Session) -> None:
        session.install("-e", f".[{BACKENDS[backend]}]")
        session.run("pytest", f"--backends={backend}", *session.posargs)

    run.__doc__ = f"The suite with the conformance tests on the {backend} backend only."


for _backend in BACKENDS:
    _backend_session(_backend)


@nox.session
def capabilities(session: nox.Session) -> None:
    """Regenerate the capability table in docs/backends.md from the conformance suite."""
    session.install("-e", ".[all]")
    session.run("python", "docs/gen_capability_table.py")


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
    """Executor, backend, data-plane, ingestion and `sage ask` benchmarks: ratios against a baseline measured in the same run."""
    session.install("-e", f".[{BENCH_EXTRAS}]")
    session.run("python", "benchmarks/bench_local.py")
    session.run("python", "benchmarks/bench_backends.py", *session.posargs)
    session.run("python", "benchmarks/bench_dataplane.py")
    session.run("python", "benchmarks/bench_ingestion.py")
    session.run("python", "benchmarks/bench_ask.py")


@nox.session(name="bench-native")
def bench_native(session: nox.Session) -> None:
    """sage_db against raw FAISS, chromadb, lancedb, bm25s; sage_flow (and columnar windows end to end) against Python, NumPy, pandas, Bytewax."""
    session.install("-e", ".[arrow,bench]")
    session.run("python", "benchmarks/bench_sage_db.py", *session.posargs)
    session.run("python", "benchmarks/bench_windows.py", *session.posargs)
    session.run("python", "benchmarks/bench_columnar.py")
