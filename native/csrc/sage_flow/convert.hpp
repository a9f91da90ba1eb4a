// Conversions between Python objects and engine buffers: NumPy arrays in (no copy when
// already contiguous and of the right dtype), NumPy arrays out (owning C++ memory).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>
#include <utility>
#include <vector>

#include "accumulator.hpp"
#include "config.hpp"

namespace sage_flow {

namespace py = pybind11;

// Moves a std::vector into a NumPy array that owns it (freed through a capsule).
template <typename T>
py::array_t<T> owned_array(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

// Column arrays of fired windows: key, start, end, count and value (scalar), or
// vectors (centroid), or vectors + scores + offsets (topk), or seqs + offsets (collect).
py::dict fired_to_dict(Fired&& f, const Config& cfg);

// A 1-D contiguous array of T from `obj`; names `what` and the fix when it cannot be done.
template <typename T>
py::array_t<T, py::array::c_style> as_column(const py::object& obj, const char* what);

// A 2-D C-contiguous float32 matrix.
py::array_t<float, py::array::c_style> as_matrix(const py::object& obj, const char* what);

// Python sequence -> float64 array; items that are not real numbers (bool, str, None,
// objects) or are NaN/inf are reported by index instead of converted.
std::pair<py::array_t<double>, std::vector<py::ssize_t>> to_float64(const py::sequence& seq,
                                                                     bool allow_nonfinite);

// record[field] for every record (dicts or any mapping/sequence) -> float64 array; records
// where the lookup fails or the item is not a real number are reported by index.
std::pair<py::array_t<double>, std::vector<py::ssize_t>> extract_float64(const py::sequence& records,
                                                                         const py::object& field,
                                                                         bool allow_nonfinite);

// table[key] for every key -> int64 array; keys missing from the dict (or unhashable) are
// reported by index and left 0 for the caller to assign.
std::pair<py::array_t<int64_t>, std::vector<py::ssize_t>> lookup_ids(const py::sequence& keys,
                                                                     const py::dict& table);

// One new instance of the __slots__ class `cls` per row of `columns` (one sequence per slot
// name in `slots`), its slots set through their descriptors without calling __init__, as
// pickle restores slotted objects. Builds result objects in bulk.
py::list build_objects(const py::type& cls, const py::tuple& slots, const py::tuple& columns);

}  // namespace sage_flow
