// Ring-buffered per-key count windows.
#include "count_windows.hpp"

#include <algorithm>

namespace sage_flow {

void CountWindows::add(int64_t key, uint64_t seq, double v, const float* vec, Fired& out) {
  const int64_t size = cfg_->count_size;
  KeyState& st = keys_[key];
  if (st.seqs.empty()) {
    st.seqs.resize(size);
    st.values.resize(size);
    if (cfg_->dim > 0 && cfg_->is_vector()) st.vectors.resize(size_t(size) * cfg_->dim);
  }
  const int64_t pos = st.seen % size;
  st.seqs[pos] = seq;
  st.values[pos] = v;
  if (!st.vectors.empty()) std::copy(vec, vec + cfg_->dim, st.vectors.begin() + pos * cfg_->dim);
  ++st.seen;
  if (st.seen % cfg_->count_slide == 0) {
    fire(key, st, std::max<int64_t>(0, st.seen - size), st.seen, out);
    st.last_fire = st.seen;
  }
}

void CountWindows::fire(int64_t key, const KeyState& st, int64_t from, int64_t to, Fired& out) const {
  const int64_t size = cfg_->count_size;
  Acc acc;
  for (int64_t p = from; p < to; ++p) {
    const int64_t r = p % size;
    const float* vec = st.vectors.empty() ? nullptr : st.vectors.data() + r * cfg_->dim;
    acc.add(*cfg_, double(p), st.seqs[r], st.values[r], vec);
  }
  out.emit(*cfg_, key, double(from), double(to), acc);
}

void CountWindows::flush(Fired& out) {
  std::vector<int64_t> order;
  for (const auto& kv : keys_) order.push_back(kv.first);
  std::sort(order.begin(), order.end());
  for (int64_t key : order) {
    KeyState& st = keys_[key];
    const int64_t from = std::max<int64_t>(0, st.last_fire + cfg_->count_slide - cfg_->count_size);
    if (st.seen > st.last_fire && from < st.seen) fire(key, st, from, st.seen, out);
    st.last_fire = st.seen;
  }
}

void CountWindows::collect_seqs(std::vector<uint64_t>& out) const {
  const int64_t size = cfg_->count_size;
  for (const auto& kv : keys_) {
    const KeyState& st = kv.second;
    for (int64_t p = std::max<int64_t>(0, st.seen - size); p < st.seen; ++p)
      out.push_back(st.seqs[p % size]);
  }
}

void CountWindows::save(ByteWriter& w) const {
  std::vector<int64_t> order;
  for (const auto& kv : keys_) order.push_back(kv.first);
  std::sort(order.begin(), order.end());
  w.put<uint64_t>(order.size());
  for (int64_t key : order) {
    const KeyState& st = keys_.at(key);
    w.put<int64_t>(key);
    w.put<int64_t>(st.seen);
    w.put<int64_t>(st.last_fire);
    w.put_array(st.values.data(), st.values.size());
    w.put_array(st.vectors.data(), st.vectors.size());
    w.put_array(st.seqs.data(), st.seqs.size());
  }
}

void CountWindows::load(ByteReader& r) {
  keys_.clear();
  const uint64_t n = r.get<uint64_t>();
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t key = r.get<int64_t>();
    KeyState& st = keys_[key];
    st.seen = r.get<int64_t>();
    st.last_fire = r.get<int64_t>();
    st.values = r.get_array<double>();
    st.vectors = r.get_array<float>();
    st.seqs = r.get_array<uint64_t>();
  }
}

}  // namespace sage_flow
