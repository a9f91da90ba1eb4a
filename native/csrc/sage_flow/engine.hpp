// The window engine: owns the configuration, watermark and arrival counter, validates
// batches, and routes records to time or count windows. Pure C++, no Python.
#pragma once

#include <cstdint>
#include <limits>
#include <mutex>
#include <string>
#include <vector>

#include "accumulator.hpp"
#include "config.hpp"
#include "count_windows.hpp"
#include "time_windows.hpp"

namespace sage_flow {

struct Batch {
  size_t n = 0;
  const int64_t* keys = nullptr;
  const double* ts = nullptr;      // may be null for count windows
  const double* values = nullptr;  // scalar values, may be null
  const float* vectors = nullptr;  // n x dim, may be null
};

class Engine {
 public:
  explicit Engine(Config cfg);

  const Config& config() const { return cfg_; }
  double watermark() const { return wm_; }
  uint64_t next_seq() const { return seq_; }
  size_t live_windows() const;
  // Fixes the vector dimension the first time vectors arrive (centroid without a query).
  void set_dim(int32_t dim);

  // Checks the whole batch before touching any state; throws std::invalid_argument.
  void validate(const Batch& b) const;
  // Processes records in order; appends fired windows to `out` and indices of records
  // that joined no window (too late) to `late`.
  void process(const Batch& b, Fired& out, std::vector<int64_t>& late);
  // Moves the watermark forward (processing time or an external watermark).
  void advance(double wm, Fired& out);
  // End of stream: fire everything still open.
  void flush(Fired& out);

  std::vector<uint64_t> referenced_seqs() const;
  std::string snapshot() const;
  // Replaces the state; on a bad snapshot throws and leaves the current state as it was.
  void restore(const std::string& data);
  // The configuration stored in a snapshot (to rebuild an engine from bytes alone).
  static Config snapshot_config(const std::string& data);

  // Serialises calls from several Python threads (the bindings hold it, GIL released).
  std::mutex& mutex() const { return mu_; }

 private:
  Config cfg_;
  double wm_ = -std::numeric_limits<double>::infinity();
  double max_ts_ = -std::numeric_limits<double>::infinity();
  uint64_t seq_ = 0;
  TimeWindows time_;
  CountWindows count_;
  mutable std::mutex mu_;

  void restore_unchecked(const std::string& data);
};

}  // namespace sage_flow
