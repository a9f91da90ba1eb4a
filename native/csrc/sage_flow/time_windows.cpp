// Window assignment, lateness, session merging and timer handling for time windows.
#include "time_windows.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace sage_flow {

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
  s.acc = Acc();
  ++live_;
  return idx;
}

void TimeWindows::free_slot(uint32_t idx) {
  Slot& s = slots_[idx];
  s.alive = false;
  ++s.gen;
  s.acc = Acc();
  free_.push_back(idx);
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

bool TimeWindows::add_sliding(int64_t key, double ts, uint64_t seq, double v, const float* vec,
                              double wm, Fired& out) {
  const double size = cfg_->size, slide = cfg_->slide, late = cfg_->lateness;
  const int64_t last = static_cast<int64_t>(std::floor(ts / slide));
  // Windows containing ts: start = j*slide for j <= last with start + size > ts.
  int64_t first = last;
  while (double(first - 1) * slide + size > ts) --first;
  if (double(last) * slide + size + late <= wm) return false;  // every window purged
  for (int64_t j = first; j <= last; ++j) {
    const double start = double(j) * slide;
    const double end = start + size;
    if (end + late <= wm) continue;  // this window is purged, a later one is not
    auto it = index_.find(WinId{key, start});
    uint32_t idx;
    bool created = false;
    if (it == index_.end()) {
      idx = new_slot(key, start, end);
      index_.emplace(WinId{key, start}, idx);
      created = true;
    } else {
      idx = it->second;
    }
    Slot& s = slots_[idx];
    s.acc.add(*cfg_, ts, seq, v, vec);
    if (end <= wm) out.emit(*cfg_, key, start, end, s.acc);  // late firing
    if (created) schedule(idx, wm);
  }
  return true;
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

double TimeWindows::next_timer() const {
  return timers_.empty() ? std::numeric_limits<double>::infinity() : timers_.top().time;
}

void TimeWindows::advance(double wm, Fired& out) {
  while (!timers_.empty() && timers_.top().time <= wm) {
    Timer t = timers_.top();
    timers_.pop();
    Slot& s = slots_[t.slot];
    if (!s.alive || s.gen != t.gen) continue;  // stale
    if (t.type == kFire) {
      out.emit(*cfg_, s.key, s.start, s.end, s.acc);
      timers_.push(Timer{s.end + cfg_->lateness, kPurge, s.key, s.start, t.slot, s.gen});
    } else {
      if (cfg_->kind == WindowKind::Session) {
        auto it = sessions_.find(s.key);
        auto& list = it->second;
        list.erase(std::find(list.begin(), list.end(), t.slot));
        if (list.empty()) sessions_.erase(it);
      } else {
        index_.erase(WinId{s.key, s.start});
      }
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
  index_.clear();
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
    if (cfg_->kind == WindowKind::Session)
      sessions_[key].push_back(idx);
    else
      index_.emplace(WinId{key, start}, idx);
    schedule(idx, wm);
  }
}

}  // namespace sage_flow
