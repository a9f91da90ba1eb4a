// Rank fusion of several ranked lists of slots (dense, BM25, per-field dense).
// Pure functions over slot ids and scores; no storage, files or Python.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace sagedb {

struct RankedList {
  std::vector<int64_t> slots;  // best first; negative slots are ignored
  std::vector<float> scores;   // same length as slots
  bool higher_is_better = true;
  double weight = 1.0;
};

// Reciprocal rank fusion: score(d) = sum_i weight_i / (rrf_k + rank_i(d)), rank from 1.
std::vector<std::pair<int64_t, float>> fuse_rrf(const std::vector<RankedList>& lists, double rrf_k,
                                                size_t k);

// Weighted score fusion: each list's scores are min-max normalised to [0, 1] (best = 1;
// a list whose scores are all equal maps to 1), then score(d) = sum_i weight_i * norm_i(d),
// a document missing from a list contributing 0 for it.
std::vector<std::pair<int64_t, float>> fuse_weighted(const std::vector<RankedList>& lists,
                                                     size_t k);

}  // namespace sagedb
