// Reciprocal rank fusion and weighted score fusion (see fusion.hpp for the formulas).
#include "fusion.hpp"

#include <algorithm>
#include <unordered_map>

namespace sagedb {
namespace {

std::vector<std::pair<int64_t, float>> top(std::unordered_map<int64_t, double>& acc, size_t k) {
  std::vector<std::pair<int64_t, float>> out;
  out.reserve(acc.size());
  for (const auto& kv : acc) out.emplace_back(kv.first, static_cast<float>(kv.second));
  auto cmp = [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<long>(k), out.end(), cmp);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), cmp);
  }
  return out;
}

}  // namespace

std::vector<std::pair<int64_t, float>> fuse_rrf(const std::vector<RankedList>& lists, double rrf_k,
                                                size_t k) {
  std::unordered_map<int64_t, double> acc;
  for (const auto& l : lists) {
    size_t rank = 0;
    for (int64_t s : l.slots) {
      if (s < 0) continue;
      ++rank;
      acc[s] += l.weight / (rrf_k + static_cast<double>(rank));
    }
  }
  return top(acc, k);
}

std::vector<std::pair<int64_t, float>> fuse_weighted(const std::vector<RankedList>& lists,
                                                     size_t k) {
  std::unordered_map<int64_t, double> acc;
  for (const auto& l : lists) {
    double lo = 0, hi = 0;
    bool first = true;
    for (size_t i = 0; i < l.slots.size(); ++i) {
      if (l.slots[i] < 0) continue;
      double v = l.higher_is_better ? l.scores[i] : -double(l.scores[i]);
      if (first || v < lo) lo = v;
      if (first || v > hi) hi = v;
      first = false;
    }
    for (size_t i = 0; i < l.slots.size(); ++i) {
      if (l.slots[i] < 0) continue;
      double v = l.higher_is_better ? l.scores[i] : -double(l.scores[i]);
      double norm = hi > lo ? (v - lo) / (hi - lo) : 1.0;
      acc[l.slots[i]] += l.weight * norm;
    }
  }
  return top(acc, k);
}

}  // namespace sagedb
