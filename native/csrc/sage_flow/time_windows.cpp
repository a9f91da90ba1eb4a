// Window assignment, lateness, session merging and timer handling for time windows.
#include "time_windows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace sage_flow {

namespace {
// floor(a / b) as an integer; same value as std::floor for the finite range used here,
// without a libm call in the per-record path.
inline int64_t floor_div(double a, double b) {
  const double q = a / b;
  if (!(q > -9.2e18 && q < 9.2e18))
    throw std::invalid_argument("timestamp " + std::to_string(a) + " is out of range for this window");
  int64_t k = static_cast<int64_t>(q);
  if (static_cast<double>(k) > q) --k;
  return k;
}
}  // namespace

uint32_t TimeWindows::new_slot(int64_t key, double start, double end) {
  uint32_t idx;
  if (!free_.empty()) {
    idx = free_.back();
    free_.pop_back();
  } else {
    idx = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  }
  Slot& s = slots_[idx];
  s.key = key;
  s.start = start;
  s.end = end;
  s.alive = true;
  s.acc.reset();
  ++live_;
  return idx;
}

void TimeWindows::free_slot(uint32_t idx) {
  Slot& s = slots_[idx];
  s.alive = false;
  ++s.gen;
  free_.push_back(idx);  // the accumulator is reset when the slot is reused
  --live_;
}

// A window that has not fired yet waits for its end; one that has fired waits for purge.
void TimeWindows::schedule(uint32_t idx, double wm) {
  const Slot& s = slots_[idx];
  if (s.end > wm)
    timers_.push(Timer{s.end, kFire, s.key, s.start, idx, s.gen});
  else
    timers_.push(Timer{s.end + cfg_->lateness, kPurge, s.key, s.start, idx, s.gen});
}

bool TimeWindows::add(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm,
                      Fired& out) {
  if (cfg_->kind == WindowKind::Session) return add_session(key, ts, seq, v, vec, wm, out);
  return add_sliding(key, ts, seq, v, vec, wm, out);
}

TimeWindows::KeyWindows& TimeWindows::key_windows(int64_t key) {
  if (key >= 0 && key < kDense) {
    if (static_cast<size_t>(key) >= dense_keys_.size()) dense_keys_.resize(size_t(key) + 1);
    return dense_keys_[size_t(key)];
  }
  return sparse_keys_[key];
}

TimeWindows::Bucket& TimeWindows::bucket(double end, double wm) {
  if (last_bucket_ != buckets_.end() && last_bucket_->first == end) return last_bucket_->second;
  auto it = buckets_.find(end);
  if (it == buckets_.end()) {
    it = buckets_.emplace(end, Bucket()).first;
    if (end <= wm) {  // created by a late record: counts as fired, waits for purge
      it->second.fired = true;
      next_purge_ = std::min(next_purge_, end + cfg_->lateness);
    } else {
      next_fire_ = std::min(next_fire_, end);
    }
  }
  last_bucket_ = it;
  return it->second;
}

bool TimeWindows::add_sliding(int64_t key, double ts, uint64_t seq, double v, const float* vec,
                              double wm, Fired& out) {
  const double size = cfg_->size, slide = cfg_->slide, late = cfg_->lateness;
  const int64_t last = floor_div(ts, slide);
  // Windows containing ts: start = j*slide for j <= last with start + size > ts.
  int64_t first = last;
  while (double(first - 1) * slide + size > ts) --first;
  if (double(last) * slide + size + late <= wm) return false;  // every window purged
  KeyWindows& kw = key_windows(key);
  for (int64_t j = first; j <= last; ++j) {
    const double start = double(j) * slide;
    const double end = start + size;
    if (end + late <= wm) continue;  // this window is purged, a later one is not
    uint32_t idx = UINT32_MAX;
    if (kw.hit_start == start) idx = kw.hit_slot;
    for (auto it = kw.wins.rbegin(); idx == UINT32_MAX && it != kw.wins.rend(); ++it) {
      if (it->first == start) {
        idx = it->second;
        break;
      }
    }
    if (idx == UINT32_MAX) {
      idx = new_slot(key, start, end);
      kw.wins.emplace_back(start, idx);
      bucket(end, wm).slots.push_back(idx);
    }
    kw.hit_start = start;
    kw.hit_slot = idx;
    Slot& s = slots_[idx];
    if (cfg_->agg == AggKind::Count)
      ++s.acc.count;
    else
      s.acc.add(*cfg_, ts, seq, v, vec);
    if (end <= wm) out.emit(*cfg_, key, start, end, s.acc);  // late firing
  }
  return true;
}

void TimeWindows::purge_sliding(uint32_t idx) {
  const Slot& s = slots_[idx];
  KeyWindows& kw = key_windows(s.key);
  if (kw.hit_slot == idx) kw.hit_start = std::numeric_limits<double>::quiet_NaN();
  for (size_t i = 0; i < kw.wins.size(); ++i) {
    if (kw.wins[i].second == idx) {
      kw.wins.erase(kw.wins.begin() + static_cast<std::ptrdiff_t>(i));
      break;
    }
  }
  if (kw.wins.empty() && !(s.key >= 0 && s.key < kDense)) sparse_keys_.erase(s.key);
  free_slot(idx);
}

void TimeWindows::advance_buckets(double wm, Fired& out) {
  for (auto it = buckets_.begin(); it != buckets_.end() && it->first <= wm;) {
    Bucket& b = it->second;
    if (!b.fired) {
      emit_by_key(b.slots, out);
      b.fired = true;
    }
    if (it->first + cfg_->lateness <= wm) {
      for (uint32_t idx : b.slots) purge_sliding(idx);
      if (last_bucket_ == it) last_bucket_ = buckets_.end();
      it = buckets_.erase(it);
    } else {
      ++it;
    }
  }
  refresh_next(wm);
}

// Emits the windows of one bucket (at most one per key) in key order. Dense key ranges use
// a direct-addressed table instead of a comparison sort.
void TimeWindows::emit_by_key(const std::vector<uint32_t>& slots, Fired& out) {
  if (slots.empty()) return;
  int64_t lo = slots_[slots[0]].key, hi = lo;
  for (uint32_t idx : slots) {
    lo = std::min(lo, slots_[idx].key);
    hi = std::max(hi, slots_[idx].key);
  }
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span < 4 * static_cast<uint64_t>(slots.size()) + 64) {
    scratch_.assign(span + 1, UINT32_MAX);
    for (uint32_t idx : slots) scratch_[static_cast<uint64_t>(slots_[idx].key - lo)] = idx;
    for (uint32_t idx : scratch_) {
      if (idx == UINT32_MAX) continue;
      const Slot& s = slots_[idx];
      out.emit(*cfg_, s.key, s.start, s.end, s.acc);
    }
    return;
  }
  std::vector<std::pair<int64_t, uint32_t>> order;
  order.reserve(slots.size());
  for (uint32_t idx : slots) order.emplace_back(slots_[idx].key, idx);
  std::sort(order.begin(), order.end());
  for (const auto& ko : order) {
    const Slot& s = slots_[ko.second];
    out.emit(*cfg_, s.key, s.start, s.end, s.acc);
  }
}

void TimeWindows::refresh_next(double wm) {
  const double inf = std::numeric_limits<double>::infinity();
  auto up = buckets_.upper_bound(wm);
  next_fire_ = up == buckets_.end() ? inf : up->first;
  next_purge_ = inf;
  if (!buckets_.empty() && buckets_.begin()->second.fired)
    next_purge_ = buckets_.begin()->first + cfg_->lateness;
}

bool TimeWindows::add_session(int64_t key, double ts, uint64_t seq, double v, const float* vec,
                              double wm, Fired& out) {
  const double gap = cfg_->gap, late = cfg_->lateness;
  double start = ts, end = ts + gap;
  auto& list = sessions_[key];
  // Sessions that overlap or touch [ts, ts + gap).
  std::vector<uint32_t> hit;
  for (uint32_t idx : list) {
    const Slot& s = slots_[idx];
    if (ts <= s.end && end >= s.start) hit.push_back(idx);
  }
  if (hit.empty()) {
    if (end + late <= wm) {
      if (list.empty()) sessions_.erase(key);
      return false;
    }
    uint32_t idx = new_slot(key, start, end);
    list.push_back(idx);
    Slot& s = slots_[idx];
    s.acc.add(*cfg_, ts, seq, v, vec);
    if (end <= wm) out.emit(*cfg_, key, s.start, s.end, s.acc);
    schedule(idx, wm);
    return true;
  }
  std::sort(hit.begin(), hit.end(),
            [this](uint32_t a, uint32_t b) { return slots_[a].start < slots_[b].start; });
  const uint32_t keep = hit[0];
  for (uint32_t idx : hit) {
    start = std::min(start, slots_[idx].start);
    end = std::max(end, slots_[idx].end);
  }
  for (size_t i = 1; i < hit.size(); ++i) {
    slots_[keep].acc.merge(*cfg_, slots_[hit[i]].acc);
    list.erase(std::find(list.begin(), list.end(), hit[i]));
    free_slot(hit[i]);
  }
  Slot& s = slots_[keep];
  const bool changed = hit.size() > 1 || start != s.start || end != s.end;
  s.start = start;
  s.end = end;
  s.acc.add(*cfg_, ts, seq, v, vec);
  if (changed) ++s.gen;  // pending timers for the old extent become stale
  if (end <= wm) out.emit(*cfg_, key, start, end, s.acc);
  if (changed) schedule(keep, wm);
  return true;
}

void TimeWindows::advance(double wm, Fired& out) {
  if (cfg_->kind != WindowKind::Session) {
    advance_buckets(wm, out);
    return;
  }
  while (!timers_.empty() && timers_.top().time <= wm) {
    Timer t = timers_.top();
    timers_.pop();
    Slot& s = slots_[t.slot];
    if (!s.alive || s.gen != t.gen) continue;  // stale
    if (t.type == kFire) {
      out.emit(*cfg_, s.key, s.start, s.end, s.acc);
      timers_.push(Timer{s.end + cfg_->lateness, kPurge, s.key, s.start, t.slot, s.gen});
    } else {
      auto it = sessions_.find(s.key);
      auto& list = it->second;
      list.erase(std::find(list.begin(), list.end(), t.slot));
      if (list.empty()) sessions_.erase(it);
      free_slot(t.slot);
    }
  }
}

void TimeWindows::collect_seqs(std::vector<uint64_t>& out) const {
  for (const auto& s : slots_)
    if (s.alive) out.insert(out.end(), s.acc.seqs.begin(), s.acc.seqs.end());
}

void TimeWindows::save(ByteWriter& w) const {
  // Live windows in (key, start) order so equal states give equal bytes.
  std::vector<uint32_t> live;
  for (uint32_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].alive) live.push_back(i);
  std::sort(live.begin(), live.end(), [this](uint32_t a, uint32_t b) {
    const Slot& x = slots_[a];
    const Slot& y = slots_[b];
    return x.key != y.key ? x.key < y.key : x.start < y.start;
  });
  w.put<uint64_t>(live.size());
  for (uint32_t i : live) {
    const Slot& s = slots_[i];
    w.put<int64_t>(s.key);
    w.put<double>(s.start);
    w.put<double>(s.end);
    s.acc.save(*cfg_, w);
  }
}

void TimeWindows::load(ByteReader& r, double wm) {
  slots_.clear();
  free_.clear();
  dense_keys_.clear();
  sparse_keys_.clear();
  buckets_.clear();
  last_bucket_ = buckets_.end();
  sessions_.clear();
  timers_ = {};
  live_ = 0;
  const uint64_t n = r.get<uint64_t>();
  for (uint64_t i = 0; i < n; ++i) {
    const int64_t key = r.get<int64_t>();
    const double start = r.get<double>();
    const double end = r.get<double>();
    uint32_t idx = new_slot(key, start, end);
    slots_[idx].acc.load(*cfg_, r);
    if (cfg_->kind == WindowKind::Session) {
      sessions_[key].push_back(idx);
      schedule(idx, wm);
    } else {
      key_windows(key).wins.emplace_back(start, idx);
      bucket(end, wm).slots.push_back(idx);
    }
  }
  if (cfg_->kind != WindowKind::Session) refresh_next(wm);
}

}  // namespace sage_flow
