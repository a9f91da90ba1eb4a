// Record loop, watermark tracking and batch validation.
#include "engine.hpp"

#include <cmath>
#include <stdexcept>

namespace sage_flow {

Engine::Engine(Config cfg) : cfg_(std::move(cfg)), time_(&cfg_), count_(&cfg_) {
  validate_config(cfg_);
}

size_t Engine::live_windows() const {
  return cfg_.kind == WindowKind::Count ? count_.live_windows() : time_.live_windows();
}

void Engine::set_dim(int32_t dim) {
  if (cfg_.dim == dim) return;
  if (cfg_.dim != 0)
    throw std::invalid_argument("vectors have dimension " + std::to_string(dim) +
                                " but this window already holds vectors of dimension " +
                                std::to_string(cfg_.dim));
  cfg_.dim = dim;
}

void Engine::validate(const Batch& b) const {
  if (cfg_.kind != WindowKind::Count) {
    if (b.ts == nullptr && b.n > 0) throw std::invalid_argument("time windows need timestamps");
    const double limit = cfg_.kind == WindowKind::Sliding ? 9.0e18 * cfg_.slide : 1e300;
    for (size_t i = 0; i < b.n; ++i) {
      if (std::isfinite(b.ts[i]) && std::fabs(b.ts[i]) < limit) continue;
      if (!std::isfinite(b.ts[i]))
        throw std::invalid_argument("timestamp at index " + std::to_string(i) + " is " +
                                    std::to_string(b.ts[i]) +
                                    "; timestamps must be finite numbers (seconds)");
      if (cfg_.kind == WindowKind::Sliding)
        throw std::invalid_argument("timestamp at index " + std::to_string(i) + " (" +
                                    std::to_string(b.ts[i]) + ") is out of range for this window");
    }
  }
  if (cfg_.needs_values() && b.n > 0) {
    if (cfg_.is_vector() && b.vectors == nullptr)
      throw std::invalid_argument("aggregate '" + aggregate_name(cfg_.agg) +
                                  "' needs a 2-D float32 array of vectors");
    if (!cfg_.is_vector() && b.values == nullptr)
      throw std::invalid_argument("aggregate '" + aggregate_name(cfg_.agg) +
                                  "' needs a 1-D float64 array of values");
  }
}

void Engine::process(const Batch& b, Fired& out, std::vector<int64_t>& late) {
  const bool vec = cfg_.is_vector() && b.vectors != nullptr;
  const bool scalar = b.values != nullptr;
  if (cfg_.kind == WindowKind::Count) {
    for (size_t i = 0; i < b.n; ++i) {
      count_.add(b.keys[i], seq_++, scalar ? b.values[i] : 0.0,
                 vec ? b.vectors + i * size_t(cfg_.dim) : nullptr, out);
    }
    return;
  }
  for (size_t i = 0; i < b.n; ++i) {
    const double ts = b.ts[i];
    const bool joined = time_.add(b.keys[i], ts, seq_++, scalar ? b.values[i] : 0.0,
                                  vec ? b.vectors + i * size_t(cfg_.dim) : nullptr, wm_, out);
    if (!joined) late.push_back(static_cast<int64_t>(i));
    if (ts > max_ts_) {
      max_ts_ = ts;
      const double w = ts - cfg_.delay;
      if (w > wm_) wm_ = w;
    }
    if (wm_ >= time_.next_timer()) time_.advance(wm_, out);
  }
}

void Engine::advance(double wm, Fired& out) {
  if (std::isnan(wm)) throw std::invalid_argument("watermark must not be NaN");
  if (wm < wm_)
    throw std::invalid_argument("watermark must not go backwards: current " + std::to_string(wm_) +
                                ", got " + std::to_string(wm));
  wm_ = wm;
  if (cfg_.kind != WindowKind::Count) time_.advance(wm_, out);
}

void Engine::flush(Fired& out) {
  if (cfg_.kind == WindowKind::Count) {
    count_.flush(out);
    return;
  }
  wm_ = std::numeric_limits<double>::infinity();
  time_.advance(wm_, out);
}

std::vector<uint64_t> Engine::referenced_seqs() const {
  std::vector<uint64_t> out;
  if (cfg_.kind == WindowKind::Count)
    count_.collect_seqs(out);
  else
    time_.collect_seqs(out);
  return out;
}

}  // namespace sage_flow
