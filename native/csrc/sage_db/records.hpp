// Write batches (upsert, delete) as plain C++ values, and their byte encoding inside
// write-ahead-log and snapshot records. No files, no Python.
//
// Upsert payload: u32 n | u32 n_fields | n_fields x (str name, u32 dim) | n x str id
//   | per field: n*dim float32 | u8 has_texts [n x str] | u8 has_meta
//   [n x (u32 n_keys, n_keys x (str key, u8 type, value))]
//   value: Bool u8 | Int i64 | Float f64 | Str str.    str = u32 length + UTF-8 bytes.
// Delete payload: u32 n | n x str id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metadata.hpp"

namespace sagedb {

struct UpsertBatch {
  std::vector<std::string> ids;
  std::vector<std::string> field_names;
  std::vector<size_t> dims;
  std::vector<const float*> data;          // per field, n*dim row-major
  std::vector<std::vector<float>> owned;   // backing store when decoded from bytes
  bool has_texts = false;
  std::vector<std::string> texts;
  bool has_meta = false;
  std::vector<MetaRow> meta;
};

std::vector<uint8_t> encode_upsert(const UpsertBatch& b);
// The upsert payload without its vector bytes: `prefix` (counts, field names, ids) and
// `suffix` (texts, metadata). prefix | field 0 data | field 1 data ... | suffix is the payload.
void encode_upsert_parts(const UpsertBatch& b, std::vector<uint8_t>& prefix,
                         std::vector<uint8_t>& suffix);
// With borrow_vectors, data[f] points into `p` itself (possibly unaligned: read it only
// with memcpy, as VectorStore::append does) instead of into owned copies.
UpsertBatch decode_upsert(const uint8_t* p, size_t n, bool borrow_vectors = false);
std::vector<uint8_t> encode_delete(const std::vector<std::string>& ids);
std::vector<std::string> decode_delete(const uint8_t* p, size_t n);

}  // namespace sagedb
