#include <pybind11/pybind11.h>

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "sage_flow compiled core";
  m.attr("__version__") = "0.1.0";
}
