// Window and aggregate configuration shared by every part of the engine.
// Holds plain data and name parsing only; no state, no Python.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace sage_flow {

enum class WindowKind : uint8_t { Sliding = 0, Session = 1, Count = 2 };

enum class AggKind : uint8_t {
  Count = 0,
  Sum = 1,
  Mean = 2,
  Min = 3,
  Max = 4,
  First = 5,
  Last = 6,
  VectorMean = 7,
  TopK = 8,
  Collect = 9,
};

struct Config {
  WindowKind kind = WindowKind::Sliding;
  AggKind agg = AggKind::Count;
  double size = 0.0;   // time windows: length in seconds
  double slide = 0.0;  // time windows: step in seconds (== size for tumbling)
  double gap = 0.0;    // session windows: inactivity gap
  int64_t count_size = 0;
  int64_t count_slide = 0;
  double lateness = 0.0;
  double delay = 0.0;  // out-of-orderness bound subtracted from the max event time
  int32_t dim = 0;     // vector dimension (0 = scalar values, or not known yet)
  int32_t k = 0;       // top-k
  std::vector<float> query;

  bool is_vector() const { return agg == AggKind::VectorMean || agg == AggKind::TopK; }
  bool needs_values() const { return agg != AggKind::Count && agg != AggKind::Collect; }
};

AggKind parse_aggregate(const std::string& name, bool vector);
std::string aggregate_name(AggKind agg);
WindowKind parse_window_kind(const std::string& name);
void validate_config(const Config& c);

}  // namespace sage_flow
