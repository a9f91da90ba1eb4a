// pybind11 module `sage_flow._core`: the Engine class and the conversion helper.
// Reads every Python input first, then releases the GIL around the pure C++ loop.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <mutex>
#include <string>

#include "config.hpp"
#include "convert.hpp"
#include "engine.hpp"

namespace py = pybind11;
using namespace sage_flow;

namespace {

std::unique_ptr<Engine> make_engine(const std::string& window, const std::string& aggregate,
                                    double size, double slide, double gap, int64_t count_size,
                                    int64_t count_slide, double allowed_lateness,
                                    double out_of_orderness, bool vector, int32_t dim,
                                    const py::object& query, int32_t k) {
  Config c;
  c.kind = parse_window_kind(window);
  c.agg = parse_aggregate(aggregate, vector);
  if (c.kind == WindowKind::Sliding) {
    c.size = size;
    c.slide = window == "tumbling" && slide == 0.0 ? size : slide;
  }
  c.gap = gap;
  c.count_size = count_size;
  c.count_slide = count_slide == 0 ? count_size : count_slide;
  c.lateness = allowed_lateness;
  c.delay = out_of_orderness;
  c.k = k;
  if (!query.is_none()) {
    auto q = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(query);
    if (!q || q.ndim() != 1) throw py::value_error("query must be a 1-D vector of numbers");
    c.query.assign(q.data(), q.data() + q.size());
    if (dim == 0) dim = static_cast<int32_t>(q.size());
  }
  c.dim = c.is_vector() ? dim : 0;
  return std::make_unique<Engine>(std::move(c));
}

py::tuple process(Engine& e, const py::object& keys, const py::object& timestamps,
                  const py::object& values) {
  auto k = as_column<int64_t>(keys, "keys");
  const size_t n = static_cast<size_t>(k.size());
  Batch b;
  b.n = n;
  b.keys = k.data();
  py::array_t<double, py::array::c_style> ts, vals;
  py::array_t<float, py::array::c_style> mat;
  if (!timestamps.is_none()) {
    ts = as_column<double>(timestamps, "timestamps");
    if (static_cast<size_t>(ts.size()) != n)
      throw py::value_error("timestamps has " + std::to_string(ts.size()) + " entries but keys has " +
                            std::to_string(n));
    b.ts = ts.data();
  }
  const Config& cfg = e.config();
  if (!values.is_none() && cfg.needs_values()) {
    if (cfg.is_vector()) {
      mat = as_matrix(values, "values");
      if (static_cast<size_t>(mat.shape(0)) != n)
        throw py::value_error("values has " + std::to_string(mat.shape(0)) + " rows but keys has " +
                              std::to_string(n));
      const auto d = static_cast<int32_t>(mat.shape(1));
      if (cfg.dim != 0 && d != cfg.dim)
        throw py::value_error("vectors have dimension " + std::to_string(d) + " but this window " +
                              "expects dimension " + std::to_string(cfg.dim));
      if (n > 0) {
        py::gil_scoped_release release;
        std::lock_guard<std::mutex> lock(e.mutex());
        e.set_dim(d);
      }
      b.vectors = mat.data();
    } else {
      vals = as_column<double>(values, "values");
      if (static_cast<size_t>(vals.size()) != n)
        throw py::value_error("values has " + std::to_string(vals.size()) + " entries but keys has " +
                              std::to_string(n));
      b.values = vals.data();
    }
  }
  Fired out;
  std::vector<int64_t> late;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(e.mutex());
    e.validate(b);
    e.process(b, out, late);
  }
  const auto nl = static_cast<py::ssize_t>(late.size());
  return py::make_tuple(fired_to_dict(std::move(out), e.config()), owned_array(std::move(late), {nl}));
}

std::string locked_snapshot(const Engine& e) {
  py::gil_scoped_release release;
  std::lock_guard<std::mutex> lock(e.mutex());
  return e.snapshot();
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "sage_flow compiled core: keyed window state engine";
  m.attr("__version__") = "0.1.0";
  m.attr("SNAPSHOT_VERSION") = 1;

  py::class_<Engine>(m, "Engine")
      .def(py::init(&make_engine), py::arg("window"), py::arg("aggregate") = "count",
           py::kw_only(), py::arg("size") = 0.0, py::arg("slide") = 0.0, py::arg("gap") = 0.0,
           py::arg("count_size") = 0, py::arg("count_slide") = 0,
           py::arg("allowed_lateness") = 0.0, py::arg("out_of_orderness") = 0.0,
           py::arg("vector") = false, py::arg("dim") = 0, py::arg("query") = py::none(),
           py::arg("k") = 0)
      .def("process", &process, py::arg("keys"), py::arg("timestamps") = py::none(),
           py::arg("values") = py::none())
      .def("advance",
           [](Engine& e, double wm) {
             Fired out;
             {
               py::gil_scoped_release release;
               std::lock_guard<std::mutex> lock(e.mutex());
               e.advance(wm, out);
             }
             return fired_to_dict(std::move(out), e.config());
           },
           py::arg("watermark"))
      .def("flush",
           [](Engine& e) {
             Fired out;
             {
               py::gil_scoped_release release;
               std::lock_guard<std::mutex> lock(e.mutex());
               e.flush(out);
             }
             return fired_to_dict(std::move(out), e.config());
           })
      .def("snapshot", [](const Engine& e) { return py::bytes(locked_snapshot(e)); })
      .def("restore",
           [](Engine& e, const py::bytes& data) {
             std::string raw(data);
             py::gil_scoped_release release;
             std::lock_guard<std::mutex> lock(e.mutex());
             e.restore(raw);
           },
           py::arg("data"))
      .def(py::pickle(
          [](const Engine& e) {
            py::dict state;
            state["ser_version"] = 1;
            state["snapshot"] = py::bytes(locked_snapshot(e));
            return state;
          },
          [](const py::dict& state) {
            if (!state.contains("ser_version") || state["ser_version"].cast<int>() != 1)
              throw std::invalid_argument("Unpickle Error: unsupported sage_flow Engine state "
                                          "(expected ser_version 1)");
            std::string raw(state["snapshot"].cast<py::bytes>());
            auto e = std::make_unique<Engine>(Engine::snapshot_config(raw));
            e->restore(raw);
            return e;
          }))
      .def("referenced_seqs",
           [](const Engine& e) {
             auto v = e.referenced_seqs();
             const auto n = static_cast<py::ssize_t>(v.size());
             return owned_array(std::move(v), {n});
           })
      .def_property_readonly("watermark", &Engine::watermark)
      .def_property_readonly("next_seq", &Engine::next_seq)
      .def_property_readonly("live_windows", &Engine::live_windows)
      .def_property_readonly("dim", [](const Engine& e) { return e.config().dim; })
      .def_property_readonly("aggregate",
                             [](const Engine& e) { return aggregate_name(e.config().agg); })
      .def("__repr__", [](const Engine& e) {
        return "<sage_flow._core.Engine aggregate=" + aggregate_name(e.config().agg) +
               " live_windows=" + std::to_string(e.live_windows()) +
               " watermark=" + std::to_string(e.watermark()) + ">";
      });

  m.def("to_float64", &to_float64, py::arg("items"), py::arg("allow_nonfinite") = false,
        "Convert a sequence of numbers to float64; returns (array, indices of bad items).");
  m.def("extract_float64", &extract_float64, py::arg("records"), py::arg("field"),
        py::arg("allow_nonfinite") = false,
        "record[field] for each record as float64; returns (array, indices of bad records).");
  m.def("lookup_ids", &lookup_ids, py::arg("keys"), py::arg("table"),
        "table[key] for each key as int64; returns (array, indices of missing keys).");
  m.def("build_objects", &build_objects, py::arg("cls"), py::arg("slots"), py::arg("columns"),
        "One instance of the __slots__ class cls per row of columns, slots set without __init__.");
}
