// Keyed state for event-time windows (tumbling, sliding, session) and their timers.
// Decides which windows a record joins, which are late, and when windows fire and are
// purged. The watermark itself is owned by the Engine and passed in.
#pragma once

#include <cstdint>
#include <queue>
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
  double next_timer() const;

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
  struct WinId {
    int64_t key;
    double start;
    bool operator==(const WinId& o) const { return key == o.key && start == o.start; }
  };
  struct WinIdHash {
    size_t operator()(const WinId& w) const {
      uint64_t s;
      static_assert(sizeof(s) == sizeof(w.start), "double is 64-bit");
      std::memcpy(&s, &w.start, sizeof(s));
      uint64_t h = static_cast<uint64_t>(w.key) * 0x9E3779B97F4A7C15ull ^ (s + 0x632BE59BD9B4E019ull + (s << 6));
      return static_cast<size_t>(h ^ (h >> 29));
    }
  };

  uint32_t new_slot(int64_t key, double start, double end);
  void free_slot(uint32_t idx);
  void schedule(uint32_t idx, double wm);
  bool add_sliding(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm, Fired& out);
  bool add_session(int64_t key, double ts, uint64_t seq, double v, const float* vec, double wm, Fired& out);

  const Config* cfg_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  std::unordered_map<WinId, uint32_t, WinIdHash> index_;              // sliding/tumbling
  std::unordered_map<int64_t, std::vector<uint32_t>> sessions_;      // session windows
  std::priority_queue<Timer> timers_;
  size_t live_ = 0;
};

}  // namespace sage_flow
