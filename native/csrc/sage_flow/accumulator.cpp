// Aggregate arithmetic: add, merge, serialise and finalise one window's state.
#include "accumulator.hpp"

#include <algorithm>
#include <cmath>

namespace sage_flow {

namespace {

float cosine(const std::vector<float>& q, const float* v) {
  double dot = 0.0, qq = 0.0, vv = 0.0;
  for (size_t i = 0; i < q.size(); ++i) {
    dot += double(q[i]) * v[i];
    qq += double(q[i]) * q[i];
    vv += double(v[i]) * v[i];
  }
  if (qq == 0.0 || vv == 0.0) return 0.0f;
  return static_cast<float>(dot / std::sqrt(qq * vv));
}

// Better = higher score, then earlier arrival.
bool better(const TopEntry& a, const TopEntry& b) {
  return a.score > b.score || (a.score == b.score && a.seq < b.seq);
}

void keep_top(std::vector<TopEntry>& top, size_t k) {
  if (top.size() <= k) return;
  std::sort(top.begin(), top.end(), better);
  top.resize(k);
}

}  // namespace

void Acc::add(const Config& c, double ts, uint64_t seq, double v, const float* vec) {
  ++count;
  switch (c.agg) {
    case AggKind::Count: break;
    case AggKind::Sum:
    case AggKind::Mean: sum += v; break;
    case AggKind::Min: min = std::min(min, v); break;
    case AggKind::Max: max = std::max(max, v); break;
    case AggKind::First:
      if (count == 1 || ts < first_ts || (ts == first_ts && seq < first_seq)) {
        first_ts = ts; first_seq = seq; first_v = v;
      }
      break;
    case AggKind::Last:
      if (count == 1 || ts > last_ts || (ts == last_ts && seq > last_seq)) {
        last_ts = ts; last_seq = seq; last_v = v;
      }
      break;
    case AggKind::VectorMean:
      if (vsum.empty()) vsum.assign(c.dim, 0.0);
      for (int32_t i = 0; i < c.dim; ++i) vsum[i] += vec[i];
      break;
    case AggKind::TopK: {
      TopEntry e{cosine(c.query, vec), seq, std::vector<float>(vec, vec + c.dim)};
      if (top.size() < static_cast<size_t>(c.k)) {
        top.push_back(std::move(e));
      } else {
        auto worst = std::min_element(top.begin(), top.end(),
                                      [](const TopEntry& a, const TopEntry& b) { return better(b, a); });
        if (better(e, *worst)) *worst = std::move(e);
      }
      break;
    }
    case AggKind::Collect:
      if (seqs.empty() || seqs.back() < seq) {
        seqs.push_back(seq);
      } else {
        seqs.insert(std::upper_bound(seqs.begin(), seqs.end(), seq), seq);
      }
      break;
  }
}

void Acc::merge(const Config& c, const Acc& o) {
  if (o.count == 0) return;
  if (count == 0) { *this = o; return; }
  switch (c.agg) {
    case AggKind::Count: break;
    case AggKind::Sum:
    case AggKind::Mean: sum += o.sum; break;
    case AggKind::Min: min = std::min(min, o.min); break;
    case AggKind::Max: max = std::max(max, o.max); break;
    case AggKind::First:
      if (o.first_ts < first_ts || (o.first_ts == first_ts && o.first_seq < first_seq)) {
        first_ts = o.first_ts; first_seq = o.first_seq; first_v = o.first_v;
      }
      break;
    case AggKind::Last:
      if (o.last_ts > last_ts || (o.last_ts == last_ts && o.last_seq > last_seq)) {
        last_ts = o.last_ts; last_seq = o.last_seq; last_v = o.last_v;
      }
      break;
    case AggKind::VectorMean:
      for (int32_t i = 0; i < c.dim; ++i) vsum[i] += o.vsum[i];
      break;
    case AggKind::TopK:
      top.insert(top.end(), o.top.begin(), o.top.end());
      keep_top(top, static_cast<size_t>(c.k));
      break;
    case AggKind::Collect: {
      std::vector<uint64_t> merged;
      merged.reserve(seqs.size() + o.seqs.size());
      std::merge(seqs.begin(), seqs.end(), o.seqs.begin(), o.seqs.end(), std::back_inserter(merged));
      seqs.swap(merged);
      break;
    }
  }
  count += o.count;
}

void Acc::save(const Config& c, ByteWriter& w) const {
  w.put<int64_t>(count);
  w.put<double>(sum);
  w.put<double>(min);
  w.put<double>(max);
  w.put<double>(first_ts); w.put<uint64_t>(first_seq); w.put<double>(first_v);
  w.put<double>(last_ts); w.put<uint64_t>(last_seq); w.put<double>(last_v);
  if (c.agg == AggKind::VectorMean) w.put_array(vsum.data(), vsum.size());
  if (c.agg == AggKind::TopK) {
    w.put<uint64_t>(top.size());
    for (const auto& e : top) {
      w.put<float>(e.score);
      w.put<uint64_t>(e.seq);
      w.put_array(e.vec.data(), e.vec.size());
    }
  }
  if (c.agg == AggKind::Collect) w.put_array(seqs.data(), seqs.size());
}

void Acc::load(const Config& c, ByteReader& r) {
  count = r.get<int64_t>();
  sum = r.get<double>();
  min = r.get<double>();
  max = r.get<double>();
  first_ts = r.get<double>(); first_seq = r.get<uint64_t>(); first_v = r.get<double>();
  last_ts = r.get<double>(); last_seq = r.get<uint64_t>(); last_v = r.get<double>();
  if (c.agg == AggKind::VectorMean) vsum = r.get_array<double>();
  if (c.agg == AggKind::TopK) {
    uint64_t n = r.get<uint64_t>();
    top.clear();
    for (uint64_t i = 0; i < n; ++i) {
      TopEntry e;
      e.score = r.get<float>();
      e.seq = r.get<uint64_t>();
      e.vec = r.get_array<float>();
      top.push_back(std::move(e));
    }
  }
  if (c.agg == AggKind::Collect) seqs = r.get_array<uint64_t>();
}

void Fired::emit(const Config& c, int64_t k, double s, double e, const Acc& acc) {
  key.push_back(k);
  start.push_back(s);
  end.push_back(e);
  count.push_back(acc.count);
  switch (c.agg) {
    case AggKind::Count: value.push_back(double(acc.count)); break;
    case AggKind::Sum: value.push_back(acc.sum); break;
    case AggKind::Mean: value.push_back(acc.sum / double(acc.count)); break;
    case AggKind::Min: value.push_back(acc.min); break;
    case AggKind::Max: value.push_back(acc.max); break;
    case AggKind::First: value.push_back(acc.first_v); break;
    case AggKind::Last: value.push_back(acc.last_v); break;
    case AggKind::VectorMean:
      for (int32_t i = 0; i < c.dim; ++i)
        vectors.push_back(static_cast<float>(acc.vsum[i] / double(acc.count)));
      break;
    case AggKind::TopK: {
      if (offsets.empty()) offsets.push_back(0);
      std::vector<TopEntry> sorted = acc.top;
      std::sort(sorted.begin(), sorted.end(), better);
      for (const auto& t : sorted) {
        scores.push_back(t.score);
        vectors.insert(vectors.end(), t.vec.begin(), t.vec.end());
      }
      offsets.push_back(offsets.back() + static_cast<int64_t>(sorted.size()));
      break;
    }
    case AggKind::Collect:
      if (offsets.empty()) offsets.push_back(0);
      seqs.insert(seqs.end(), acc.seqs.begin(), acc.seqs.end());
      offsets.push_back(offsets.back() + static_cast<int64_t>(acc.seqs.size()));
      break;
  }
}

}  // namespace sage_flow
