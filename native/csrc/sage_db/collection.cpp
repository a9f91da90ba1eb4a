// Collection state and its write, replay and snapshot paths (see collection.hpp).
#include "collection.hpp"

#include <cmath>
#include <stdexcept>
#include <unordered_set>

#include "binio.hpp"

namespace sagedb {

std::vector<int64_t> Selection::slots() const {
  std::vector<int64_t> out;
  out.reserve(count);
  for (size_t i = 0; i < mask.size(); ++i)
    if (mask[i]) out.push_back(static_cast<int64_t>(i));
  return out;
}

std::vector<uint8_t> Selection::bitmap() const {
  const size_t n = mask.size();
  std::vector<uint8_t> bits((n + 7) / 8, 0);
  const uint8_t* m = mask.data();
  const size_t full = n / 8;
  for (size_t j = 0; j < full; ++j) {
    const uint8_t* p = m + 8 * j;
    bits[j] = static_cast<uint8_t>(p[0] | (p[1] << 1) | (p[2] << 2) | (p[3] << 3) | (p[4] << 4) |
                                   (p[5] << 5) | (p[6] << 6) | (p[7] << 7));
  }
  for (size_t i = full * 8; i < n; ++i) bits[i >> 3] |= static_cast<uint8_t>(m[i] << (i & 7));
  return bits;
}

Collection::Collection(const std::vector<std::pair<std::string, size_t>>& fields, Metric metric,
                       std::string config)
    : metric_(metric), config_(std::move(config)) {
  if (fields.empty()) throw std::invalid_argument("a collection needs at least one vector field");
  for (const auto& f : fields) {
    if (f.second == 0) throw std::invalid_argument("field '" + f.first + "' has dimension 0");
    fields_.emplace_back(f.first, f.second);
  }
}

int Collection::field_index(const std::string& name) const {
  for (size_t i = 0; i < fields_.size(); ++i)
    if (fields_[i].name() == name) return static_cast<int>(i);
  return -1;
}

int64_t Collection::slot_of(const std::string& id) const {
  auto it = id_to_slot_.find(id);
  return it == id_to_slot_.end() ? -1 : it->second;
}

Collection::~Collection() {
  if (pending_.writer.joinable()) pending_.writer.join();
}

void Collection::validate(const UpsertBatch& b) const {
  validate_shape(b);
  const size_t n = b.ids.size();
  for (size_t f = 0; f < fields_.size(); ++f) {
    const float* p = b.data[f];
    const size_t total = n * b.dims[f];
    for (size_t i = 0; i < total; ++i) {
      if (!std::isfinite(p[i])) {
        const size_t row = i / b.dims[f];
        throw std::invalid_argument("vector for id '" + b.ids[row] + "' (row " +
                                    std::to_string(row) + ", field '" + fields_[f].name() +
                                    "') contains NaN or infinity");
      }
    }
  }
}

void Collection::validate_shape(const UpsertBatch& b) const {
  const size_t n = b.ids.size();
  if (b.field_names.size() != fields_.size())
    throw std::invalid_argument("upsert must give every vector field of the collection");
  for (size_t f = 0; f < fields_.size(); ++f) {
    if (b.field_names[f] != fields_[f].name())
      throw std::invalid_argument("vector field '" + b.field_names[f] + "' does not match '" +
                                  fields_[f].name() + "'");
    if (b.dims[f] != fields_[f].dim())
      throw std::invalid_argument("vectors for field '" + fields_[f].name() + "' have dimension " +
                                  std::to_string(b.dims[f]) + ", the collection expects " +
                                  std::to_string(fields_[f].dim()));
  }
  if (b.has_texts && b.texts.size() != n)
    throw std::invalid_argument("got " + std::to_string(n) + " ids but " +
                                std::to_string(b.texts.size()) + " texts");
  if (b.has_meta && b.meta.size() != n)
    throw std::invalid_argument("got " + std::to_string(n) + " ids but " +
                                std::to_string(b.meta.size()) + " metadata entries");
  std::unordered_set<std::string> seen;
  seen.reserve(n * 2);
  for (const auto& id : b.ids) {
    if (id.empty()) throw std::invalid_argument("ids must be non-empty strings");
    if (!seen.insert(id).second)
      throw std::invalid_argument("id '" + id + "' appears more than once in one upsert");
  }
}

void Collection::upsert(UpsertBatch b) {
  begin_upsert(std::move(b));
  finish_upsert();
}

namespace {
// Index of the first element that is NaN or infinite (exponent bits all set), or n.
// Integer bit tests vectorise, so this pass runs at memory speed.
size_t first_nonfinite(const float* p, size_t n) {
  const uint32_t* u = reinterpret_cast<const uint32_t*>(p);
  constexpr size_t kBlock = 4096;
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t end = std::min(n, start + kBlock);
    uint32_t bad = 0;
    for (size_t i = start; i < end; ++i) bad |= static_cast<uint32_t>((u[i] & 0x7f800000u) == 0x7f800000u);
    if (bad)
      for (size_t i = start; i < end; ++i)
        if ((u[i] & 0x7f800000u) == 0x7f800000u) return i;
  }
  return n;
}
}  // namespace

void Collection::begin_upsert(UpsertBatch b) {
  if (pending_.active) throw std::logic_error("an upsert is already in progress");
  validate_shape(b);
  const size_t n = b.ids.size();
  const size_t base = n_slots();
  Pending& p = pending_;
  p.base = base;
  p.error = nullptr;
  p.batch = std::move(b);
  p.active = true;
  const UpsertBatch& bb = p.batch;
  std::promise<bool> checked;
  auto cleanup = [&]() {
    for (auto& f : fields_) f.truncate(base);
    p.active = false;
    p.batch = UpsertBatch();
    p.error = nullptr;
  };
  if (wal_) {
    // The writer thread checksums the record while this thread checks the vectors for NaN
    // and infinity; it writes (one writev straight from the caller's buffers) and
    // fdatasyncs only once the check passed, while this thread copies the vectors.
    try {
      encode_upsert_parts(bb, p.prefix, p.suffix);
      std::vector<Piece> payload{{p.prefix.data(), p.prefix.size()}};
      for (size_t f = 0; f < fields_.size(); ++f)
        payload.push_back({bb.data[f], n * bb.dims[f] * sizeof(float)});
      payload.push_back({p.suffix.data(), p.suffix.size()});
      WalWriter* wal = wal_.get();
      const uint64_t lsn = lsn_ + 1;
      p.writer = std::thread([wal, lsn, payload = std::move(payload), go = checked.get_future(), &p]() mutable {
        try {
          frame_head(p.head, kUpsert, lsn, payload);
          if (!go.get()) return;
          std::vector<Piece> pieces{{p.head, kRecordHeader}};
          pieces.insert(pieces.end(), payload.begin(), payload.end());
          wal->append_pieces(pieces);
        } catch (...) {
          p.error = std::current_exception();
        }
      });
    } catch (...) {
      cleanup();
      throw;
    }
  }
  for (size_t f = 0; f < fields_.size(); ++f) {
    const size_t d = bb.dims[f];
    const size_t i = first_nonfinite(bb.data[f], n * d);
    if (i < n * d) {
      std::string msg = "vector for id '" + bb.ids[i / d] + "' (row " + std::to_string(i / d) +
                        ", field '" + fields_[f].name() + "') contains NaN or infinity";
      if (p.writer.joinable()) {
        checked.set_value(false);
        p.writer.join();
      }
      cleanup();
      throw std::invalid_argument(msg);
    }
  }
  if (p.writer.joinable()) checked.set_value(true);
  try {
    for (size_t f = 0; f < fields_.size(); ++f)
      fields_[f].append(bb.data[f], n, metric_ == Metric::Cosine);
  } catch (...) {
    // Out of memory while copying. A record that reached the log keeps its lsn (it is
    // replayed on the next open); this handle no longer holds it.
    if (p.writer.joinable()) p.writer.join();
    if (wal_ && !p.error) ++lsn_;
    cleanup();
    throw;
  }
}

void Collection::finish_upsert() {
  Pending& p = pending_;
  if (!p.active) return;
  if (p.writer.joinable()) p.writer.join();
  p.active = false;
  std::exception_ptr err = p.error;
  p.error = nullptr;
  UpsertBatch b = std::move(p.batch);
  p.batch = UpsertBatch();
  p.prefix.clear();
  p.suffix.clear();
  if (err) {
    for (auto& f : fields_) f.truncate(p.base);
    std::rethrow_exception(err);
  }
  ++lsn_;
  commit_upsert(b, p.base);
}

const float* Collection::staged_rows(size_t f, size_t& n) const {
  const VectorStore& vs = fields_[f];
  n = vs.rows() - n_slots();
  return vs.data() + n_slots() * vs.dim();
}

size_t Collection::remove(const std::vector<std::string>& ids) {
  std::unordered_set<std::string> seen;
  for (const auto& id : ids)
    if (!seen.insert(id).second)
      throw std::invalid_argument("id '" + id + "' appears more than once in one delete");
  if (wal_) {
    std::vector<uint8_t> rec;
    frame_record(rec, kDelete, lsn_ + 1, encode_delete(ids));
    wal_->append(rec);
  }
  ++lsn_;
  return apply_delete(ids);
}

void Collection::kill(size_t slot) {
  alive_[slot] = 0;
  --n_alive_;
  if (bm25_.has(slot)) bm25_.remove(slot);
}

void Collection::apply_upsert(const UpsertBatch& b) {
  const size_t n = b.ids.size();
  const size_t base = n_slots();
  for (size_t f = 0; f < fields_.size(); ++f)
    fields_[f].append(b.data[f], n, metric_ == Metric::Cosine);
  commit_upsert(b, base);
}

void Collection::commit_upsert(const UpsertBatch& b, size_t base) {
  const size_t n = b.ids.size();
  slot_ids_.reserve(base + n);
  alive_.resize(base + n, 1);
  texts_.resize(base + n);
  has_text_.resize(base + n, 0);
  for (size_t i = 0; i < n; ++i) {
    const size_t slot = base + i;
    auto it = id_to_slot_.find(b.ids[i]);
    if (it != id_to_slot_.end()) {
      if (alive_[static_cast<size_t>(it->second)]) kill(static_cast<size_t>(it->second));
      it->second = static_cast<int64_t>(slot);
    } else {
      id_to_slot_.emplace(b.ids[i], static_cast<int64_t>(slot));
    }
    slot_ids_.push_back(b.ids[i]);
    ++n_alive_;
    if (b.has_meta) meta_.set_row(slot, b.meta[i]);
    if (b.has_texts) {
      texts_[slot] = b.texts[i];
      has_text_[slot] = 1;
      bm25_.add(slot, b.texts[i]);
    }
  }
}

size_t Collection::apply_delete(const std::vector<std::string>& ids) {
  size_t removed = 0;
  for (const auto& id : ids) {
    auto it = id_to_slot_.find(id);
    if (it == id_to_slot_.end()) continue;
    kill(static_cast<size_t>(it->second));
    id_to_slot_.erase(it);
    ++removed;
  }
  return removed;
}

void Collection::attach_wal(const std::string& path, bool sync) {
  wal_ = std::make_unique<WalWriter>(path, sync);
}

void Collection::reset_wal(const std::string& path, bool sync) {
  wal_.reset();
  write_file_atomic(path, encode_header(kWalMagic, lsn_, config_));
  wal_ = std::make_unique<WalWriter>(path, sync);
}

ReplayInfo Collection::replay_wal(const std::string& path, size_t offset, int64_t expected_base) {
  std::vector<uint8_t> data = read_file(path);
  ReplayInfo info;
  FileHeader h = decode_header(data.data(), data.size(), kWalMagic, "write-ahead log '" + path + "'");
  info.base_lsn = h.base_lsn;
  if (expected_base >= 0 && h.base_lsn != static_cast<uint64_t>(expected_base)) {
    info.reset = true;
    info.offset = offset;
    return info;
  }
  if (h.base_lsn > lsn_)
    throw CorruptionError("write-ahead log '" + path + "' starts after lsn " +
                             std::to_string(h.base_lsn) + " but the loaded state ends at lsn " +
                             std::to_string(lsn_) + " (its snapshot is missing or older)");
  if (offset < h.size) offset = h.size;
  std::string bad;
  ScanResult sr = scan_records(
      data.data(), data.size(), offset,
      [&](uint8_t type, uint64_t lsn, const uint8_t* p, size_t len) {
        if (!bad.empty() || lsn <= lsn_) return;
        try {
          if (type == kUpsert) {
            UpsertBatch b = decode_upsert(p, len);
            validate(b);
            apply_upsert(b);
          } else if (type == kDelete) {
            apply_delete(decode_delete(p, len));
          } else {
            throw DecodeError("unknown record type " + std::to_string(type));
          }
        } catch (const std::exception& e) {
          bad = std::string("record with lsn ") + std::to_string(lsn) + " cannot be applied: " + e.what();
          return;
        }
        lsn_ = lsn;
        ++info.applied;
      });
  if (!bad.empty()) throw CorruptionError("write-ahead log '" + path + "': " + bad);
  info.status = sr.status;
  info.offset = sr.good_end;
  info.message = sr.message;
  return info;
}

std::vector<uint8_t> Collection::snapshot(
    const std::vector<std::pair<std::string, std::string_view>>& blobs) const {
  std::vector<uint8_t> out = encode_header(kSnapMagic, lsn_, config_);
  {
    size_t estimate = out.size() + 64;
    for (const auto& f : fields_) estimate += n_alive_ * f.dim() * sizeof(float);
    estimate += n_alive_ * 48;
    for (const auto& blob : blobs) estimate += blob.second.size() + blob.first.size() + 32;
    out.reserve(estimate);
  }
  constexpr size_t kChunk = 4096;
  std::vector<int64_t> live;
  live.reserve(n_alive_);
  for (size_t s = 0; s < n_slots(); ++s)
    if (alive_[s]) live.push_back(static_cast<int64_t>(s));
  std::vector<std::vector<float>> rows(fields_.size());
  for (size_t start = 0; start < live.size(); start += kChunk) {
    const size_t end = std::min(live.size(), start + kChunk);
    UpsertBatch b;
    b.has_texts = true;
    b.has_meta = true;
    for (size_t f = 0; f < fields_.size(); ++f) {
      b.field_names.push_back(fields_[f].name());
      b.dims.push_back(fields_[f].dim());
      const size_t d = fields_[f].dim();
      // Contiguous live runs need no copy; gaps (tombstones) are gathered.
      bool contiguous = live[end - 1] - live[start] == static_cast<int64_t>(end - start - 1);
      if (contiguous) {
        b.data.push_back(fields_[f].row(static_cast<size_t>(live[start])));
      } else {
        rows[f].resize((end - start) * d);
        for (size_t j = start; j < end; ++j)
          std::copy_n(fields_[f].row(static_cast<size_t>(live[j])), d, rows[f].data() + (j - start) * d);
        b.data.push_back(rows[f].data());
      }
    }
    for (size_t j = start; j < end; ++j) {
      const size_t s = static_cast<size_t>(live[j]);
      b.ids.push_back(slot_ids_[s]);
      b.texts.push_back(has_text_[s] ? texts_[s] : std::string());
      b.meta.push_back(meta_.row(s));
    }
    // Chunk payload: u32 n | n x u8 has_text | upsert payload (texts of absent ones empty),
    // framed from its pieces so the vectors are copied once, into `out`.
    ByteWriter w;
    w.u32(static_cast<uint32_t>(end - start));
    for (size_t j = start; j < end; ++j) w.u8(has_text_[static_cast<size_t>(live[j])]);
    std::vector<uint8_t> prefix, suffix;
    encode_upsert_parts(b, prefix, suffix);
    std::vector<Piece> payload{{w.buf.data(), w.buf.size()}, {prefix.data(), prefix.size()}};
    for (size_t f = 0; f < fields_.size(); ++f)
      payload.push_back({b.data[f], (end - start) * b.dims[f] * sizeof(float)});
    payload.push_back({suffix.data(), suffix.size()});
    uint8_t head[kRecordHeader];
    frame_head(head, kSnapChunk, lsn_, payload);
    out.insert(out.end(), head, head + kRecordHeader);
    for (const auto& pc : payload) {
      const auto* q = static_cast<const uint8_t*>(pc.data);
      out.insert(out.end(), q, q + pc.size);
    }
  }
  for (const auto& blob : blobs) {
    // Framed from the caller's buffer: the (large) index bytes are copied once, into `out`.
    ByteWriter w;
    w.str(blob.first);
    std::vector<Piece> payload{{w.buf.data(), w.buf.size()}, {blob.second.data(), blob.second.size()}};
    uint8_t head[kRecordHeader];
    frame_head(head, kSnapIndex, lsn_, payload);
    out.reserve(out.size() + kRecordHeader + w.buf.size() + blob.second.size() + 64);
    out.insert(out.end(), head, head + kRecordHeader);
    out.insert(out.end(), w.buf.begin(), w.buf.end());
    const auto* b = reinterpret_cast<const uint8_t*>(blob.second.data());
    out.insert(out.end(), b, b + blob.second.size());
  }
  ByteWriter end;
  end.u64(live.size());
  frame_record(out, kSnapEnd, lsn_, end.buf);
  return out;
}

std::vector<std::pair<std::string, std::string>> Collection::load_snapshot(const uint8_t* data,
                                                                           size_t n,
                                                                           const std::string& what) {
  if (n_slots() != 0) throw std::logic_error("load_snapshot needs an empty collection");
  FileHeader h = decode_header(data, n, kSnapMagic, what);
  std::vector<std::pair<std::string, std::string>> blobs;
  bool ended = false;
  uint64_t expected = 0;
  std::string bad;
  ScanResult sr = scan_records(data, n, h.size, [&](uint8_t type, uint64_t, const uint8_t* p, size_t len) {
    if (!bad.empty() || ended) return;
    try {
      if (type == kSnapChunk) {
        ByteReader head(p, len);
        const size_t m = head.u32();
        const uint8_t* fp = head.span(m);
        std::vector<uint8_t> flags(fp, fp + m);
        UpsertBatch b = decode_upsert(p + head.pos(), len - head.pos(), /*borrow_vectors=*/true);
        if (b.ids.size() != m || !b.has_texts) throw DecodeError("snapshot chunk is inconsistent");
        const size_t base = n_slots();
        b.has_texts = false;
        apply_upsert(b);
        for (size_t i = 0; i < flags.size(); ++i)
          if (flags[i]) {
            texts_[base + i] = b.texts[i];
            has_text_[base + i] = 1;
            bm25_.add(base + i, b.texts[i]);
          }
      } else if (type == kSnapIndex) {
        ByteReader r(p, len);
        std::string field = r.str();
        const uint8_t* rest = r.span(r.remaining());
        blobs.emplace_back(field, std::string(reinterpret_cast<const char*>(rest),
                                              static_cast<size_t>(p + len - rest)));
      } else if (type == kSnapEnd) {
        ByteReader r(p, len);
        expected = r.u64();
        ended = true;
      } else {
        throw DecodeError("unknown record type " + std::to_string(type));
      }
    } catch (const std::exception& e) {
      bad = e.what();
    }
  });
  if (!bad.empty()) throw CorruptionError(what + ": " + bad);
  if (sr.status != ScanStatus::Ok)
    throw CorruptionError(what + " is damaged: " + sr.message);
  if (!ended) throw CorruptionError(what + " is truncated: its end record is missing");
  if (expected != n_alive_)
    throw CorruptionError(what + ": end record says " + std::to_string(expected) +
                             " records, found " + std::to_string(n_alive_));
  lsn_ = h.base_lsn;
  return blobs;
}

void Collection::compact() {
  std::vector<int64_t> keep;
  keep.reserve(n_alive_);
  for (size_t s = 0; s < n_slots(); ++s)
    if (alive_[s]) keep.push_back(static_cast<int64_t>(s));
  for (auto& f : fields_) f.compact(keep);
  meta_.compact(keep);
  std::vector<std::string> ids(keep.size()), texts(keep.size());
  std::vector<uint8_t> has(keep.size(), 0);
  bm25_.clear();
  id_to_slot_.clear();
  id_to_slot_.reserve(keep.size());
  for (size_t j = 0; j < keep.size(); ++j) {
    const size_t s = static_cast<size_t>(keep[j]);
    ids[j] = std::move(slot_ids_[s]);
    id_to_slot_.emplace(ids[j], static_cast<int64_t>(j));
    if (has_text_[s]) {
      texts[j] = std::move(texts_[s]);
      has[j] = 1;
      bm25_.add(j, texts[j]);
    }
  }
  slot_ids_ = std::move(ids);
  texts_ = std::move(texts);
  has_text_ = std::move(has);
  alive_.assign(keep.size(), 1);
  n_alive_ = keep.size();
  ++layout_version_;
}

Selection Collection::select(const FilterNode* where) const {
  Selection sel;
  const size_t n = n_slots();
  if (where) {
    eval_filter(*where, meta_, n, sel.mask);
    uint8_t* m = sel.mask.data();
    const uint8_t* a = alive_.data();
    size_t c = 0;
    for (size_t i = 0; i < n; ++i) {
      m[i] &= a[i];
      c += m[i];
    }
    sel.count = c;
  } else {
    sel.mask = alive_;
    sel.count = n_alive_;
  }
  return sel;
}

}  // namespace sagedb
