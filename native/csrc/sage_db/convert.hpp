// Conversions between Python objects and the core's C++ types: metadata values, `where`
// filters, and NumPy arrays that own C++ memory. Used only by the binding layer.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <memory>
#include <string>
#include <vector>

#include "metadata.hpp"

namespace sagedb {
namespace py = pybind11;

// Converts a metadata scalar; `where` names the place for the error message.
Value to_value(const py::handle& obj, const std::string& where);
py::object from_value(const Value& v);
MetaRow to_meta_row(const py::handle& obj, const std::string& where);
// Fast conversion of a plain dict (exact str keys; exact bool/int/float/str values)
// through the CPython API. Returns false for anything else: use to_meta_row, which also
// names the problem.
bool fast_meta_row(PyObject* dict, MetaRow& row);
py::dict from_meta_row(const MetaRow& row);

// Parses a Chroma-style `where` dict; throws ValueError naming the bad part.
std::unique_ptr<FilterNode> parse_where(const py::handle& where);

// Moves a std::vector into a NumPy array without copying (the capsule frees it).
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(shape, heap->data(), owner);
}

}  // namespace sagedb
