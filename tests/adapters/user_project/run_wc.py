"""A user's script: runs the word pipeline on the cluster named on the command line.
Its modules live in ``lib/`` next to it, which it puts on its own path.

    python run_wc.py dask tcp://127.0.0.1:8786 true
"""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "lib"))

from wc_pipeline import Count, first_letter  # noqa: E402

from sage_core import LocalEnvironment  # noqa: E402
from sage_core.errors import PipelineValidationError  # noqa: E402

WORDS = ["apple", "avocado", "banana", "blueberry", "cherry", "date", "elderberry", "fig"] * 5

if __name__ == "__main__":
    backend, address, ship = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    env = LocalEnvironment("wc")
    env.from_batch(WORDS).keyby(first_letter).map(Count, parallelism=2).collect("out")
    try:
        result = env.submit(backend=backend, address=address, ship_modules=ship)
    except PipelineValidationError as exc:
        print(exc, file=sys.stderr)
        sys.exit(3)
    print(json.dumps(sorted(result.collected["out"])))
