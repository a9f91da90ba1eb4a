"""Type stub for the compiled engine ``sage_flow._core`` (private; use ``sage_flow``)."""

from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

__version__: str
SNAPSHOT_VERSION: int
_T = TypeVar("_T")

class Engine:
    """Keyed window state. Inputs are NumPy arrays (no copy when C-contiguous and of the
    right dtype); fired windows come back as a dict of arrays owned by C++ memory:
    ``key`` int64, ``start``/``end`` float64, ``count`` int64, and ``value`` (float64 for
    scalar aggregates, ``(n, dim)`` float32 for centroid), or for topk ``value``
    ``(total, dim)`` + ``scores`` + ``offsets`` (n+1), or for collect ``seqs`` + ``offsets``.
    """

    def __init__(
        self,
        window: str,
        aggregate: str = "count",
        *,
        size: float = 0.0,
        slide: float = 0.0,
        gap: float = 0.0,
        count_size: int = 0,
        count_slide: int = 0,
        allowed_lateness: float = 0.0,
        out_of_orderness: float = 0.0,
        vector: bool = False,
        dim: int = 0,
        query: npt.ArrayLike | None = None,
        k: int = 0,
    ) -> None: ...
    def process(
        self,
        keys: npt.ArrayLike,
        timestamps: npt.ArrayLike | None = None,
        values: npt.ArrayLike | None = None,
    ) -> tuple[dict[str, np.ndarray], npt.NDArray[np.int64]]:
        """Process records in order; returns (fired windows, indices of late records)."""
    def advance(self, watermark: float) -> dict[str, np.ndarray]: ...
    def flush(self) -> dict[str, np.ndarray]: ...
    def snapshot(self) -> bytes: ...
    def restore(self, data: bytes) -> None: ...
    def referenced_seqs(self) -> npt.NDArray[np.uint64]: ...
    @property
    def watermark(self) -> float: ...
    @property
    def next_seq(self) -> int: ...
    @property
    def live_windows(self) -> int: ...
    @property
    def dim(self) -> int: ...
    @property
    def aggregate(self) -> str: ...
    def __getstate__(self) -> dict[str, Any]: ...
    def __setstate__(self, state: dict[str, Any]) -> None: ...

def to_float64(
    items: Any, allow_nonfinite: bool = False
) -> tuple[npt.NDArray[np.float64], list[int]]: ...
def extract_float64(
    records: Any, field: Any, allow_nonfinite: bool = False
) -> tuple[npt.NDArray[np.float64], list[int]]: ...
def lookup_ids(keys: Any, table: dict[Any, int]) -> tuple[npt.NDArray[np.int64], list[int]]: ...
def build_objects(cls: type[_T], slots: tuple[str, ...], columns: tuple[Any, ...]) -> list[_T]: ...
