// Parsing and validation of window/aggregate names and parameters.
#include "config.hpp"

#include <cmath>

namespace sage_flow {

AggKind parse_aggregate(const std::string& name, bool vector) {
  if (vector) {
    if (name == "mean" || name == "centroid") return AggKind::VectorMean;
    if (name == "topk") return AggKind::TopK;
    if (name == "count") return AggKind::Count;
    if (name == "collect") return AggKind::Collect;
    throw std::invalid_argument("unknown vector aggregate '" + name +
                                "'; vector values support: mean (centroid), topk, count");
  }
  if (name == "count") return AggKind::Count;
  if (name == "sum") return AggKind::Sum;
  if (name == "mean") return AggKind::Mean;
  if (name == "min") return AggKind::Min;
  if (name == "max") return AggKind::Max;
  if (name == "first") return AggKind::First;
  if (name == "last") return AggKind::Last;
  if (name == "collect") return AggKind::Collect;
  if (name == "topk" || name == "centroid")
    throw std::invalid_argument("aggregate '" + name + "' needs vector values (vector=True)");
  throw std::invalid_argument("unknown aggregate '" + name +
                              "'; choose one of count, sum, mean, min, max, first, last, "
                              "centroid, topk, or pass a Python reduce function");
}

std::string aggregate_name(AggKind agg) {
  switch (agg) {
    case AggKind::Count: return "count";
    case AggKind::Sum: return "sum";
    case AggKind::Mean: return "mean";
    case AggKind::Min: return "min";
    case AggKind::Max: return "max";
    case AggKind::First: return "first";
    case AggKind::Last: return "last";
    case AggKind::VectorMean: return "centroid";
    case AggKind::TopK: return "topk";
    case AggKind::Collect: return "collect";
  }
  return "?";
}

WindowKind parse_window_kind(const std::string& name) {
  if (name == "tumbling" || name == "sliding") return WindowKind::Sliding;
  if (name == "session") return WindowKind::Session;
  if (name == "count") return WindowKind::Count;
  throw std::invalid_argument("unknown window kind '" + name +
                              "'; choose tumbling, sliding, session or count");
}

static void positive(double v, const char* what) {
  if (!(std::isfinite(v) && v > 0.0))
    throw std::invalid_argument(std::string(what) + " must be a finite number > 0, got " +
                                std::to_string(v));
}

void validate_config(const Config& c) {
  switch (c.kind) {
    case WindowKind::Sliding:
      positive(c.size, "window size");
      positive(c.slide, "window slide");
      if (c.slide > c.size)
        throw std::invalid_argument("window slide must not exceed window size "
                                    "(records between windows would belong to no window)");
      break;
    case WindowKind::Session: positive(c.gap, "session gap"); break;
    case WindowKind::Count:
      if (c.count_size <= 0 || c.count_slide <= 0)
        throw std::invalid_argument("count window size and slide must be integers > 0");
      break;
  }
  if (!(std::isfinite(c.lateness) && c.lateness >= 0.0))
    throw std::invalid_argument("allowed_lateness must be a finite number >= 0");
  if (!(std::isfinite(c.delay) && c.delay >= 0.0))
    throw std::invalid_argument("out_of_orderness must be a finite number >= 0");
  if (c.agg == AggKind::TopK) {
    if (c.k <= 0) throw std::invalid_argument("topk needs k > 0");
    if (c.query.empty()) throw std::invalid_argument("topk needs a query vector");
    if (c.dim != static_cast<int32_t>(c.query.size()))
      throw std::invalid_argument("query vector has dimension " + std::to_string(c.query.size()) +
                                  " but values have dimension " + std::to_string(c.dim));
  }
  if (c.is_vector() && c.dim < 0) throw std::invalid_argument("vector dimension must be >= 0");
}

}  // namespace sage_flow
