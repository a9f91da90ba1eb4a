// NumPy/Python boundary helpers for the engine bindings.
#include "convert.hpp"

#include <cmath>

namespace sage_flow {

py::dict fired_to_dict(Fired&& f, const Config& cfg) {
  const auto n = static_cast<py::ssize_t>(f.size());
  py::dict d;
  d["key"] = owned_array(std::move(f.key), {n});
  d["start"] = owned_array(std::move(f.start), {n});
  d["end"] = owned_array(std::move(f.end), {n});
  d["count"] = owned_array(std::move(f.count), {n});
  if (cfg.agg == AggKind::VectorMean) {
    d["value"] = owned_array(std::move(f.vectors), {n, static_cast<py::ssize_t>(cfg.dim)});
  } else if (cfg.agg == AggKind::TopK) {
    if (f.offsets.empty()) f.offsets.push_back(0);
    const auto total = static_cast<py::ssize_t>(f.scores.size());
    d["value"] = owned_array(std::move(f.vectors), {total, static_cast<py::ssize_t>(cfg.dim)});
    d["scores"] = owned_array(std::move(f.scores), {total});
    d["offsets"] = owned_array(std::move(f.offsets), {n + 1});
  } else if (cfg.agg == AggKind::Collect) {
    if (f.offsets.empty()) f.offsets.push_back(0);
    const auto total = static_cast<py::ssize_t>(f.seqs.size());
    d["seqs"] = owned_array(std::move(f.seqs), {total});
    d["offsets"] = owned_array(std::move(f.offsets), {n + 1});
  } else {
    d["value"] = owned_array(std::move(f.value), {n});
  }
  return d;
}

static void check_numeric(const py::array& a, const char* what) {
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u' && kind != 'f')
    throw py::type_error(std::string(what) + " must be a numeric array, got dtype " +
                         std::string(py::str(a.dtype())) + "; convert with numpy.asarray(x, float)");
}

template <typename T>
py::array_t<T, py::array::c_style> as_column(const py::object& obj, const char* what) {
  py::array raw = py::array::ensure(obj);
  if (!raw) throw py::type_error(std::string(what) + " must be array-like");
  check_numeric(raw, what);
  if (raw.ndim() != 1)
    throw py::value_error(std::string(what) + " must be 1-D, got " + std::to_string(raw.ndim()) +
                          " dimensions");
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(raw);
  if (!arr) throw py::type_error(std::string(what) + " could not be converted");
  return arr;
}

template py::array_t<int64_t, py::array::c_style> as_column<int64_t>(const py::object&, const char*);
template py::array_t<double, py::array::c_style> as_column<double>(const py::object&, const char*);

py::array_t<float, py::array::c_style> as_matrix(const py::object& obj, const char* what) {
  py::array raw = py::array::ensure(obj);
  if (!raw) throw py::type_error(std::string(what) + " must be array-like");
  check_numeric(raw, what);
  if (raw.ndim() != 2)
    throw py::value_error(std::string(what) + " must be a 2-D (records x dim) array, got " +
                          std::to_string(raw.ndim()) + " dimensions; vectors of mixed dimension "
                          "cannot form a matrix");
  auto arr = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(raw);
  if (!arr) throw py::type_error(std::string(what) + " could not be converted to float32");
  return arr;
}

namespace {

// One item -> double; false when it is not a real number (bool, str, None, objects) or,
// unless allowed, not finite.
bool item_to_double(PyObject* o, bool allow_nonfinite, double& v) {
  if (PyFloat_CheckExact(o)) {
    v = PyFloat_AS_DOUBLE(o);
  } else if (PyLong_Check(o) && !PyBool_Check(o)) {
    v = PyLong_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
  } else if (PyFloat_Check(o)) {
    v = PyFloat_AsDouble(o);
  } else if (!PyBool_Check(o) && !PyUnicode_Check(o) && !PyBytes_Check(o) && o != Py_None &&
             PyObject_HasAttrString(o, "dtype") && PyObject_HasAttrString(o, "__float__")) {
    // NumPy scalars; numpy.bool_ is rejected like bool
    py::object kind = py::reinterpret_borrow<py::object>(o).attr("dtype").attr("kind");
    if (kind.cast<std::string>() == "b") return false;
    v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
  } else {
    return false;
  }
  return allow_nonfinite || std::isfinite(v);
}

py::object fast_sequence(const py::sequence& seq) {
  py::object fast = py::reinterpret_steal<py::object>(PySequence_Fast(seq.ptr(), "expected a sequence"));
  if (!fast) throw py::error_already_set();
  return fast;
}

}  // namespace

std::pair<py::array_t<double>, std::vector<py::ssize_t>> to_float64(const py::sequence& seq,
                                                                     bool allow_nonfinite) {
  py::object fast = fast_sequence(seq);
  const py::ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
  PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  std::vector<py::ssize_t> bad;
  for (py::ssize_t i = 0; i < n; ++i) {
    if (!item_to_double(items[i], allow_nonfinite, out[size_t(i)])) {
      out[size_t(i)] = 0.0;
      bad.push_back(i);
    }
  }
  return {owned_array(std::move(out), {n}), std::move(bad)};
}

std::pair<py::array_t<double>, std::vector<py::ssize_t>> extract_float64(const py::sequence& records,
                                                                         const py::object& field,
                                                                         bool allow_nonfinite) {
  py::object fast = fast_sequence(records);
  const py::ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
  PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
  std::vector<double> out(static_cast<size_t>(n), 0.0);
  std::vector<py::ssize_t> bad;
  for (py::ssize_t i = 0; i < n; ++i) {
    PyObject* rec = items[i];
    PyObject* item;
    if (PyDict_CheckExact(rec)) {
      item = PyDict_GetItemWithError(rec, field.ptr());  // borrowed
      if (item == nullptr) {
        PyErr_Clear();
        bad.push_back(i);
        continue;
      }
      Py_INCREF(item);
    } else {
      item = PyObject_GetItem(rec, field.ptr());  // new reference
      if (item == nullptr) {
        PyErr_Clear();
        bad.push_back(i);
        continue;
      }
    }
    const bool ok = item_to_double(item, allow_nonfinite, out[size_t(i)]);
    Py_DECREF(item);
    if (!ok) {
      out[size_t(i)] = 0.0;
      bad.push_back(i);
    }
  }
  return {owned_array(std::move(out), {n}), std::move(bad)};
}

std::pair<py::array_t<int64_t>, std::vector<py::ssize_t>> lookup_ids(const py::sequence& keys,
                                                                     const py::dict& table) {
  py::object fast = fast_sequence(keys);
  const py::ssize_t n = PySequence_Fast_GET_SIZE(fast.ptr());
  PyObject** items = PySequence_Fast_ITEMS(fast.ptr());
  std::vector<int64_t> out(static_cast<size_t>(n), 0);
  std::vector<py::ssize_t> missing;
  for (py::ssize_t i = 0; i < n; ++i) {
    PyObject* id = PyDict_GetItemWithError(table.ptr(), items[i]);  // borrowed
    if (id == nullptr) {
      PyErr_Clear();  // absent or unhashable: the caller decides
      missing.push_back(i);
      continue;
    }
    out[size_t(i)] = PyLong_AsLongLong(id);
  }
  return {owned_array(std::move(out), {n}), std::move(missing)};
}

py::list build_objects(const py::type& cls, const py::tuple& slots, const py::tuple& columns) {
  const auto k = slots.size();
  if (columns.size() != k)
    throw py::value_error("build_objects: got " + std::to_string(columns.size()) + " columns for " +
                          std::to_string(k) + " slots");
  auto* type = reinterpret_cast<PyTypeObject*>(cls.ptr());
  std::vector<py::object> descriptors;
  std::vector<descrsetfunc> setters;
  std::vector<py::object> fast;
  py::ssize_t n = -1;
  for (size_t i = 0; i < k; ++i) {
    py::object descriptor = cls.attr(slots[i]);
    descrsetfunc set = Py_TYPE(descriptor.ptr())->tp_descr_set;
    if (set == nullptr)
      throw py::type_error("build_objects: " + std::string(py::str(cls)) + "." +
                           std::string(py::str(slots[i])) + " is not a slot");
    descriptors.push_back(descriptor);
    setters.push_back(set);
    fast.push_back(fast_sequence(columns[i].cast<py::sequence>()));
    const py::ssize_t len = PySequence_Fast_GET_SIZE(fast.back().ptr());
    if (n >= 0 && len != n)
      throw py::value_error("build_objects: columns differ in length (" + std::to_string(n) + " and " +
                            std::to_string(len) + ")");
    n = len;
  }
  if (n < 0) n = 0;
  py::list out(n);
  for (py::ssize_t j = 0; j < n; ++j) {
    PyObject* obj = type->tp_alloc(type, 0);
    if (obj == nullptr) throw py::error_already_set();
    for (size_t i = 0; i < k; ++i) {
      PyObject* value = PySequence_Fast_GET_ITEM(fast[i].ptr(), j);  // borrowed
      if (setters[i](descriptors[i].ptr(), obj, value) < 0) {
        Py_DECREF(obj);
        throw py::error_already_set();
      }
    }
    PyList_SET_ITEM(out.ptr(), j, obj);  // steals the reference
  }
  return out;
}

}  // namespace sage_flow
