// One collection's state: string id <-> slot map, tombstones, vector fields, metadata
// columns, texts and the BM25 index, plus the write path (validate, log, apply) and
// snapshot/log replay. FAISS indexes live on the Python side and mirror the slots: slot i
// is FAISS label i. No Python types appear here.
#pragma once

#include <cstdint>
#include <memory>
#include <exception>
#include <future>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "bm25.hpp"
#include "metadata.hpp"
#include "records.hpp"
#include "storage.hpp"
#include "vectors.hpp"

namespace sagedb {

// A filter evaluated over the slots: mask[i] = 1 when slot i is live and matches.
struct Selection {
  std::vector<uint8_t> mask;
  size_t count = 0;
  std::vector<int64_t> slots() const;
  std::vector<uint8_t> bitmap() const;  // bit i of byte i/8, as FAISS IDSelectorBitmap
};

struct ReplayInfo {
  ScanStatus status = ScanStatus::Ok;
  size_t offset = 0;  // where the next refresh continues
  uint64_t base_lsn = 0;
  size_t applied = 0;
  bool reset = false;
  std::string message;
};

class Collection {
 public:
  Collection(const std::vector<std::pair<std::string, size_t>>& fields, Metric metric,
             std::string config);

  ~Collection();
  Collection(const Collection&) = delete;
  Collection& operator=(const Collection&) = delete;

  // Write path. Throws std::invalid_argument (nothing changed) on bad input.
  void validate(const UpsertBatch& b) const;
  void upsert(UpsertBatch b);
  // Two-phase upsert. begin_upsert checks the batch, copies (and for cosine normalises) its
  // vectors into staged rows past n_slots() in the same pass that checks them for NaN and
  // infinity, then starts the log append (one writev straight from the caller's buffers, one
  // fdatasync) on a background thread. The caller's buffers must stay alive and unchanged
  // until finish_upsert. Staged rows may be read meanwhile (staged_rows). finish_upsert waits
  // for the append and commits the batch, or, when the append failed, drops the staged rows
  // and rethrows: then nothing changed.
  void begin_upsert(UpsertBatch b);
  void finish_upsert();
  bool upsert_pending() const { return pending_.active; }
  // Rows staged by begin_upsert for field f (n of them), valid until the next write.
  const float* staged_rows(size_t f, size_t& n) const;
  size_t remove(const std::vector<std::string>& ids);

  void attach_wal(const std::string& path, bool sync);
  void detach_wal() { wal_.reset(); }
  bool has_wal() const { return static_cast<bool>(wal_); }
  // Creates an empty log (header only) at path, atomically, whose base is the current lsn.
  void reset_wal(const std::string& path, bool sync);

  // Applies the log's records with lsn > current lsn, starting at `offset` (0 = read header).
  // With expected_base set, a log whose base lsn differs (the writer checkpointed and started
  // a new log) is not read: the result has reset = true.
  ReplayInfo replay_wal(const std::string& path, size_t offset, int64_t expected_base = -1);
  // Snapshot of live records; index blobs are (field, bytes) pairs stored verbatim.
  std::vector<uint8_t> snapshot(const std::vector<std::pair<std::string, std::string_view>>& blobs) const;
  // Loads a snapshot into an empty collection and returns its index blobs.
  std::vector<std::pair<std::string, std::string>> load_snapshot(const uint8_t* data, size_t n,
                                                                 const std::string& what);

  // Drops tombstoned slots and renumbers the rest (FAISS indexes must then be rebuilt).
  void compact();

  Selection select(const FilterNode* where) const;

  // State access.
  size_t n_slots() const { return slot_ids_.size(); }
  size_t count() const { return n_alive_; }
  size_t n_dead() const { return n_slots() - n_alive_; }
  uint64_t lsn() const { return lsn_; }
  uint64_t layout_version() const { return layout_version_; }
  Metric metric() const { return metric_; }
  const std::string& config() const { return config_; }
  bool alive(size_t slot) const { return slot < alive_.size() && alive_[slot]; }
  int64_t slot_of(const std::string& id) const;
  const std::string& id_of(size_t slot) const { return slot_ids_[slot]; }
  size_t n_fields() const { return fields_.size(); }
  const VectorStore& field(size_t i) const { return fields_[i]; }
  VectorStore& field(size_t i) { return fields_[i]; }
  int field_index(const std::string& name) const;
  const MetadataStore& metadata() const { return meta_; }
  bool has_text(size_t slot) const { return slot < has_text_.size() && has_text_[slot]; }
  const std::string& text(size_t slot) const { return texts_[slot]; }
  BM25Index& bm25() { return bm25_; }
  const BM25Index& bm25() const { return bm25_; }

 private:
  void validate_shape(const UpsertBatch& b) const;  // every check but finiteness
  void apply_upsert(const UpsertBatch& b);
  void commit_upsert(const UpsertBatch& b, size_t base);  // ids, metadata, texts of staged rows
  size_t apply_delete(const std::vector<std::string>& ids);
  void kill(size_t slot);

  std::vector<VectorStore> fields_;
  Metric metric_;
  std::string config_;
  std::unordered_map<std::string, int64_t> id_to_slot_;
  std::vector<std::string> slot_ids_;
  std::vector<uint8_t> alive_;
  size_t n_alive_ = 0;
  MetadataStore meta_;
  std::vector<std::string> texts_;
  std::vector<uint8_t> has_text_;
  BM25Index bm25_;
  uint64_t lsn_ = 0;
  uint64_t layout_version_ = 0;
  std::unique_ptr<WalWriter> wal_;

  struct Pending {
    bool active = false;
    UpsertBatch batch;
    size_t base = 0;
    std::vector<uint8_t> prefix, suffix;
    uint8_t head[kRecordHeader];
    std::thread writer;
    std::exception_ptr error;
  };
  Pending pending_;
};

}  // namespace sagedb
