// Python <-> C++ conversions for metadata and filters (see convert.hpp).
#include "convert.hpp"

#include <climits>

namespace sagedb {

Value to_value(const py::handle& obj, const std::string& where) {
  Value v;
  if (py::isinstance<py::bool_>(obj)) {
    v.type = VType::Bool;
    v.i = obj.cast<bool>() ? 1 : 0;
  } else if (py::isinstance<py::int_>(obj)) {
    v.type = VType::Int;
    try {
      v.i = obj.cast<int64_t>();
    } catch (const py::cast_error&) {
      throw py::value_error(where + ": integer does not fit in 64 bits");
    }
  } else if (py::isinstance<py::float_>(obj)) {
    v.type = VType::Float;
    v.f = obj.cast<double>();
    if (v.f != v.f) throw py::value_error(where + ": NaN is not a valid metadata value");
  } else if (py::isinstance<py::str>(obj)) {
    v.type = VType::Str;
    v.s = obj.cast<std::string>();
  } else if (obj.is_none()) {
    throw py::type_error(where + ": None is not a metadata value (values must be str, int, float or "
                         "bool; sage_db stores no nulls). Leave "
                         "the key out (a record without the key matches only $ne and $nin) or "
                         "store a sentinel such as \"\" or -1");
  } else {
    // NumPy scalars and other number-likes are accepted through their Python value.
    py::module_ np = py::module_::import("numpy");
    if (py::isinstance(obj, np.attr("generic"))) return to_value(obj.attr("item")(), where);
    throw py::type_error(where + ": metadata values must be str, int, float or bool, not " +
                         std::string(py::str(py::type::of(obj).attr("__name__"))));
  }
  return v;
}

py::object from_value(const Value& v) {
  switch (v.type) {
    case VType::Bool: return py::bool_(v.i != 0);
    case VType::Int: return py::int_(v.i);
    case VType::Float: return py::float_(v.f);
    case VType::Str: return py::str(v.s);
    default: return py::none();
  }
}

// Fast path for the common metadata dict: str keys (not empty, not starting with '$') and
// exact bool/int/float/str values, read through the CPython API. Returns false (row left
// empty) for anything else; the general path then converts it and reports errors.
bool fast_meta_row(PyObject* d, MetaRow& row) {
  row.reserve(static_cast<size_t>(PyDict_GET_SIZE(d)));
  Py_ssize_t pos = 0;
  PyObject *k, *v;
  while (PyDict_Next(d, &pos, &k, &v)) {
    if (!PyUnicode_CheckExact(k)) return false;
    Py_ssize_t klen;
    const char* ks = PyUnicode_AsUTF8AndSize(k, &klen);
    if (!ks || klen == 0 || ks[0] == '$') {
      PyErr_Clear();
      return false;
    }
    if (v == Py_None) return false;  // refused with its key by the general path
    Value val;
    if (PyBool_Check(v)) {
      val.type = VType::Bool;
      val.i = v == Py_True ? 1 : 0;
    } else if (PyLong_CheckExact(v)) {
      int overflow = 0;
      long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
      if (overflow || (x == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return false;
      }
      val.type = VType::Int;
      val.i = x;
    } else if (PyFloat_CheckExact(v)) {
      val.type = VType::Float;
      val.f = PyFloat_AS_DOUBLE(v);
      if (val.f != val.f) return false;
    } else if (PyUnicode_CheckExact(v)) {
      Py_ssize_t vlen;
      const char* vs = PyUnicode_AsUTF8AndSize(v, &vlen);
      if (!vs) {
        PyErr_Clear();
        return false;
      }
      val.type = VType::Str;
      val.s.assign(vs, static_cast<size_t>(vlen));
    } else {
      return false;
    }
    row.emplace_back(std::string(ks, static_cast<size_t>(klen)), std::move(val));
  }
  return true;
}

MetaRow to_meta_row(const py::handle& obj, const std::string& where) {
  MetaRow row;
  if (obj.is_none()) return row;

  if (!py::isinstance<py::dict>(obj))
    throw py::type_error(where + ": metadata must be a dict (or None)");
  for (auto kv : py::reinterpret_borrow<py::dict>(obj)) {
    if (!py::isinstance<py::str>(kv.first))
      throw py::type_error(where + ": metadata keys must be str");
    std::string key = kv.first.cast<std::string>();
    if (key.empty() || key[0] == '$')
      throw py::value_error(where + ": metadata key '" + key + "' may not be empty or start with '$'");
    row.emplace_back(key, to_value(kv.second, where + "['" + key + "']"));
  }
  return row;
}

py::dict from_meta_row(const MetaRow& row) {
  py::dict d;
  for (const auto& kv : row) d[py::str(kv.first)] = from_value(kv.second);
  return d;
}

namespace {

const char* kKnownOps = "$eq $ne $gt $gte $lt $lte $in $nin $and $or";

std::unique_ptr<FilterNode> parse_node(const py::handle& obj, const std::string& path);

std::unique_ptr<FilterNode> parse_field(const std::string& field, const py::handle& cond,
                                        const std::string& path) {
  if (!py::isinstance<py::dict>(cond)) {
    auto node = std::make_unique<FilterNode>();
    node->op = Op::Eq;
    node->field = field;
    node->values.push_back(to_value(cond, path));
    return node;
  }
  auto d = py::reinterpret_borrow<py::dict>(cond);
  if (d.size() == 0) throw py::value_error(path + ": empty condition");
  std::vector<std::unique_ptr<FilterNode>> parts;
  for (auto kv : d) {
    std::string op = py::str(kv.first);
    const std::string here = path + "['" + op + "']";
    auto node = std::make_unique<FilterNode>();
    node->field = field;
    if (op == "$eq") node->op = Op::Eq;
    else if (op == "$ne") node->op = Op::Ne;
    else if (op == "$gt") node->op = Op::Gt;
    else if (op == "$gte") node->op = Op::Gte;
    else if (op == "$lt") node->op = Op::Lt;
    else if (op == "$lte") node->op = Op::Lte;
    else if (op == "$in") node->op = Op::In;
    else if (op == "$nin") node->op = Op::Nin;
    else
      throw py::value_error("unknown filter operator '" + op + "' at " + path +
                            "; known operators: " + kKnownOps);
    if (node->op == Op::In || node->op == Op::Nin) {
      if (!py::isinstance<py::list>(kv.second) && !py::isinstance<py::tuple>(kv.second))
        throw py::value_error(here + ": " + op + " takes a list of values");
      size_t i = 0;
      for (auto item : kv.second)
        node->values.push_back(to_value(item, here + "[" + std::to_string(i++) + "]"));
    } else {
      if (py::isinstance<py::dict>(kv.second) || py::isinstance<py::list>(kv.second))
        throw py::value_error(here + ": " + op + " takes a single str, int, float or bool");
      node->values.push_back(to_value(kv.second, here));
      const VType t = node->values[0].type;
      if (t == VType::Bool && node->op != Op::Eq && node->op != Op::Ne)
        throw py::value_error(here + ": " + op + " cannot compare booleans; use $eq or $ne");
    }
    parts.push_back(std::move(node));
  }
  if (parts.size() == 1) return std::move(parts[0]);
  auto node = std::make_unique<FilterNode>();
  node->op = Op::And;
  node->children = std::move(parts);
  return node;
}

std::unique_ptr<FilterNode> parse_node(const py::handle& obj, const std::string& path) {
  if (!py::isinstance<py::dict>(obj))
    throw py::type_error(path + ": a filter must be a dict such as {\"lang\": \"en\"}");
  auto d = py::reinterpret_borrow<py::dict>(obj);
  std::vector<std::unique_ptr<FilterNode>> parts;
  for (auto kv : d) {
    if (!py::isinstance<py::str>(kv.first)) throw py::type_error(path + ": filter keys must be str");
    std::string key = kv.first.cast<std::string>();
    const std::string here = path + "['" + key + "']";
    if (key == "$and" || key == "$or") {
      if (!py::isinstance<py::list>(kv.second) && !py::isinstance<py::tuple>(kv.second))
        throw py::value_error(here + ": " + key + " takes a list of filters");
      auto node = std::make_unique<FilterNode>();
      node->op = key == "$and" ? Op::And : Op::Or;
      size_t i = 0;
      for (auto item : kv.second) {
        node->children.push_back(parse_node(item, here + "[" + std::to_string(i++) + "]"));
      }
      if (node->children.empty()) throw py::value_error(here + ": " + key + " needs at least one filter");
      parts.push_back(std::move(node));
    } else if (!key.empty() && key[0] == '$') {
      throw py::value_error("unknown filter operator '" + key + "' at " + path +
                            "; known operators: " + kKnownOps);
    } else {
      parts.push_back(parse_field(key, kv.second, here));
    }
  }
  if (parts.empty()) throw py::value_error(path + ": empty filter");
  if (parts.size() == 1) return std::move(parts[0]);
  auto node = std::make_unique<FilterNode>();
  node->op = Op::And;
  node->children = std::move(parts);
  return node;
}

}  // namespace

std::unique_ptr<FilterNode> parse_where(const py::handle& where) { return parse_node(where, "where"); }

}  // namespace sagedb
