// Engine snapshot format (version 1), little-endian:
//   "SGFW" | u32 version | config | f64 watermark | f64 max event time | u64 next arrival seq
//   | window state (TimeWindows::save or CountWindows::save)
// config = u8 window kind | u8 aggregate | f64 size | f64 slide | f64 gap | i64 count size
//   | i64 count slide | f64 lateness | f64 out-of-orderness | i32 dim | i32 k | f32[] query
// Arrays are u64 length + items. Restoring checks magic, version and configuration.
#include <cstring>
#include <stdexcept>

#include "byte_io.hpp"
#include "engine.hpp"

namespace sage_flow {

namespace {
constexpr char kMagic[4] = {'S', 'G', 'F', 'W'};
constexpr uint32_t kVersion = 1;

void save_config(const Config& c, ByteWriter& w) {
  w.put<uint8_t>(static_cast<uint8_t>(c.kind));
  w.put<uint8_t>(static_cast<uint8_t>(c.agg));
  w.put<double>(c.size);
  w.put<double>(c.slide);
  w.put<double>(c.gap);
  w.put<int64_t>(c.count_size);
  w.put<int64_t>(c.count_slide);
  w.put<double>(c.lateness);
  w.put<double>(c.delay);
  w.put<int32_t>(c.dim);
  w.put<int32_t>(c.k);
  w.put_array(c.query.data(), c.query.size());
}

Config load_config(ByteReader& r) {
  Config c;
  c.kind = static_cast<WindowKind>(r.get<uint8_t>());
  c.agg = static_cast<AggKind>(r.get<uint8_t>());
  c.size = r.get<double>();
  c.slide = r.get<double>();
  c.gap = r.get<double>();
  c.count_size = r.get<int64_t>();
  c.count_slide = r.get<int64_t>();
  c.lateness = r.get<double>();
  c.delay = r.get<double>();
  c.dim = r.get<int32_t>();
  c.k = r.get<int32_t>();
  c.query = r.get_array<float>();
  return c;
}

void check_same(const Config& a, const Config& b) {
  auto bad = [](const std::string& what) {
    throw std::invalid_argument("snapshot was taken with a different " + what +
                                "; restore it into an operator built with the same window, "
                                "aggregate and lateness settings");
  };
  if (a.kind != b.kind) bad("window kind");
  if (a.agg != b.agg) bad("aggregate");
  if (a.size != b.size || a.slide != b.slide || a.gap != b.gap || a.count_size != b.count_size ||
      a.count_slide != b.count_slide)
    bad("window size/slide/gap");
  if (a.lateness != b.lateness) bad("allowed_lateness");
  if (a.delay != b.delay) bad("out_of_orderness");
  if (a.k != b.k || a.query != b.query) bad("top-k query or k");
  if (a.dim != 0 && b.dim != 0 && a.dim != b.dim) bad("vector dimension");
}
}  // namespace

std::string Engine::snapshot() const {
  ByteWriter w;
  w.put_raw(kMagic, 4);
  w.put<uint32_t>(kVersion);
  save_config(cfg_, w);
  w.put<double>(wm_);
  w.put<double>(max_ts_);
  w.put<uint64_t>(seq_);
  if (cfg_.kind == WindowKind::Count)
    count_.save(w);
  else
    time_.save(w);
  return w.bytes();
}

namespace {
Config read_header(ByteReader& r) {
  char magic[4];
  r.get_raw(magic, 4);
  if (std::memcmp(magic, kMagic, 4) != 0)
    throw std::invalid_argument("not a sage_flow engine snapshot (bad magic bytes)");
  const uint32_t version = r.get<uint32_t>();
  if (version != kVersion)
    throw std::invalid_argument("unsupported sage_flow snapshot version " + std::to_string(version) +
                                " (this build reads version " + std::to_string(kVersion) + ")");
  return load_config(r);
}
}  // namespace

Config Engine::snapshot_config(const std::string& data) {
  ByteReader r(data.data(), data.size());
  Config c = read_header(r);
  validate_config(c);
  return c;
}

void Engine::restore(const std::string& data) {
  {
    // Parse into a scratch engine first so a bad snapshot leaves this one untouched.
    Engine probe(cfg_);
    probe.restore_unchecked(data);
  }
  restore_unchecked(data);
}

void Engine::restore_unchecked(const std::string& data) {
  ByteReader r(data.data(), data.size());
  Config c = read_header(r);
  check_same(cfg_, c);
  if (c.dim != 0) cfg_.dim = c.dim;
  wm_ = r.get<double>();
  max_ts_ = r.get<double>();
  seq_ = r.get<uint64_t>();
  if (cfg_.kind == WindowKind::Count)
    count_.load(r);
  else
    time_.load(r, wm_);
  if (!r.done()) throw std::invalid_argument("sage_flow snapshot has trailing bytes (corrupt?)");
}

}  // namespace sage_flow
