// Per-window aggregate state (one Acc per key and window) and its finalisation into
// the output columns. Knows nothing about windows, time or keys.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "byte_io.hpp"
#include "config.hpp"

namespace sage_flow {

struct TopEntry {
  float score;
  uint64_t seq;
  std::vector<float> vec;
};

struct Acc {
  int64_t count = 0;
  double sum = 0.0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();
  double first_ts = 0.0, first_v = 0.0;
  uint64_t first_seq = 0;
  double last_ts = 0.0, last_v = 0.0;
  uint64_t last_seq = 0;
  std::vector<double> vsum;       // centroid
  std::vector<TopEntry> top;      // top-k, unordered, at most k entries
  std::vector<uint64_t> seqs;     // collect (Python reduce path), ascending

  // One record: event time `ts`, arrival sequence `seq`, scalar `v` or vector `vec`.
  void add(const Config& c, double ts, uint64_t seq, double v, const float* vec);
  void merge(const Config& c, const Acc& other);
  // Back to the empty state, keeping vector capacity.
  void reset() {
    count = 0;
    sum = 0.0;
    min = std::numeric_limits<double>::infinity();
    max = -std::numeric_limits<double>::infinity();
    first_ts = first_v = last_ts = last_v = 0.0;
    first_seq = last_seq = 0;
    vsum.clear();
    top.clear();
    seqs.clear();
  }
  void save(const Config& c, ByteWriter& w) const;
  void load(const Config& c, ByteReader& r);
};

// Columnar output of fired windows; handed to Python as NumPy arrays.
struct Fired {
  std::vector<int64_t> key;
  std::vector<double> start, end;
  std::vector<int64_t> count;
  std::vector<double> value;     // scalar aggregates
  std::vector<float> vectors;    // centroid: n*dim; topk: total*dim
  std::vector<float> scores;     // topk
  std::vector<int64_t> offsets;  // topk / collect: n+1 offsets into vectors or seqs
  std::vector<uint64_t> seqs;    // collect

  void emit(const Config& c, int64_t key, double start, double end, const Acc& acc);
  size_t size() const { return key.size(); }
};

}  // namespace sage_flow
