// Keyed count windows: every `slide` records of a key, fire over its last `size` records.
// Positions are counted per key from 0; a window reports start/end as record positions.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <vector>

#include "accumulator.hpp"
#include "byte_io.hpp"
#include "config.hpp"

namespace sage_flow {

class CountWindows {
 public:
  explicit CountWindows(const Config* cfg) : cfg_(cfg) {}

  void add(int64_t key, uint64_t seq, double v, const float* vec, Fired& out);
  // End of stream: fire the partial window of every key that has unfired records.
  void flush(Fired& out);

  size_t live_windows() const { return keys_.size(); }
  void collect_seqs(std::vector<uint64_t>& out) const;
  void save(ByteWriter& w) const;
  void load(ByteReader& r);

 private:
  struct KeyState {
    int64_t seen = 0;        // records of this key so far
    int64_t last_fire = 0;   // value of `seen` at the last firing
    std::vector<double> values;   // ring buffers of the last `size` records
    std::vector<float> vectors;
    std::vector<uint64_t> seqs;
  };
  void fire(int64_t key, const KeyState& st, int64_t from, int64_t to, Fired& out) const;

  const Config* cfg_;
  std::unordered_map<int64_t, KeyState> keys_;
};

}  // namespace sage_flow
