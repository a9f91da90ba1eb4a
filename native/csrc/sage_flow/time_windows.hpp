// Keyed state for event-time windows (tumbling, sliding, session) and their timers.
// Decides which windows a record joins, which are late, and when windows fire and are
// purged. The watermark itself is owned by the Engine and passed in.
#pragma once

#include <cstdint>
#include <map>
#include <queue>
#include <limits>
#include <unordered_map>
#include <vector>

#include "accumulator.hpp"
#include "byte_io.hpp"
#include "config.hpp"

namespace sage_flow {

class TimeWindows {
 public:
  explicit TimeWindows(const Config* cfg) : cfg_(cfg) {}

  // Adds one record. Late firings (windows already fired, still within lateness) are
  // emitted into `out` immediately. Returns false when the record joined no window
  // because every window it belongs to was already purged (it goes to the side output).
  bool add(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm, Fired& out);

  // Fires every window with end <= wm and purges every window with end + lateness <= wm.
  void advance(double wm, Fired& out);
  // Smallest timer time, +inf when no timers are pending.
  double next_timer() const {
    if (cfg_->kind != WindowKind::Session) return next_fire_ < next_purge_ ? next_fire_ : next_purge_;
    return timers_.empty() ? std::numeric_limits<double>::infinity() : timers_.top().time;
  }

  size_t live_windows() const { return live_; }
  void collect_seqs(std::vector<uint64_t>& out) const;
  void save(ByteWriter& w) const;
  void load(ByteReader& r, double wm);

 private:
  struct Slot {
    int64_t key = 0;
    double start = 0.0, end = 0.0;
    uint32_t gen = 0;
    bool alive = false;
    Acc acc;
  };
  enum : uint8_t { kFire = 0, kPurge = 1 };
  struct Timer {
    double time;
    uint8_t type;
    int64_t key;
    double start;
    uint32_t slot, gen;
    // min-heap on (time, type, key, start)
    bool operator<(const Timer& o) const {
      if (time != o.time) return time > o.time;
      if (type != o.type) return type > o.type;
      if (key != o.key) return key > o.key;
      return start > o.start;
    }
  };
  // Tumbling/sliding: the live windows of one key, as (start, slot).
  struct KeyWindows {
    double hit_start = std::numeric_limits<double>::quiet_NaN();  // last window used
    uint32_t hit_slot = 0;
    std::vector<std::pair<double, uint32_t>> wins;
  };
  // Tumbling/sliding: all windows that end at the same time fire and purge together.
  struct Bucket {
    std::vector<uint32_t> slots;
    bool fired = false;
  };

  uint32_t new_slot(int64_t key, double start, double end);
  void free_slot(uint32_t idx);
  void schedule(uint32_t idx, double wm);
  KeyWindows& key_windows(int64_t key);
  Bucket& bucket(double end, double wm);
  void advance_buckets(double wm, Fired& out);
  void refresh_next(double wm);
  void emit_by_key(const std::vector<uint32_t>& slots, Fired& out);
  void purge_sliding(uint32_t idx);
  bool add_sliding(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm, Fired& out);
  bool add_session(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm, Fired& out);

  const Config* cfg_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  // sliding/tumbling: keys 0..kDense-1 (the operator's dense ids) index a vector
  static constexpr int64_t kDense = 1 << 16;
  std::vector<KeyWindows> dense_keys_;
  std::unordered_map<int64_t, KeyWindows> sparse_keys_;
  std::map<double, Bucket> buckets_;
  std::vector<uint32_t> scratch_;
  std::map<double, Bucket>::iterator last_bucket_ = buckets_.end();
  double next_fire_ = std::numeric_limits<double>::infinity();
  double next_purge_ = std::numeric_limits<double>::infinity();
  // session windows: per-key session list and a timer heap (sessions change their end)
  std::unordered_map<int64_t, std::vector<uint32_t>> sessions_;
  std::priority_queue<Timer> timers_;
  size_t live_ = 0;
};

}  // namespace sage_flow
