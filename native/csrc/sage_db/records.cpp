// Byte encoding of write batches (layout in records.hpp).
#include "records.hpp"

#include "binio.hpp"

namespace sagedb {

void encode_upsert_parts(const UpsertBatch& b, std::vector<uint8_t>& prefix,
                         std::vector<uint8_t>& suffix) {
  ByteWriter w;
  const size_t n = b.ids.size();
  size_t ids_bytes = 0;
  for (const auto& id : b.ids) ids_bytes += 4 + id.size();
  w.buf.reserve(16 + ids_bytes + 64 * b.field_names.size());
  w.u32(static_cast<uint32_t>(n));
  w.u32(static_cast<uint32_t>(b.field_names.size()));
  for (size_t f = 0; f < b.field_names.size(); ++f) {
    w.str(b.field_names[f]);
    w.u32(static_cast<uint32_t>(b.dims[f]));
  }
  for (const auto& id : b.ids) w.str(id);
  prefix = std::move(w.buf);
  ByteWriter t;
  t.u8(b.has_texts);
  if (b.has_texts) {
    size_t bytes = 0;
    for (const auto& x : b.texts) bytes += 4 + x.size();
    t.buf.reserve(bytes + 2 + n * 24);
    for (const auto& x : b.texts) t.str(x);
  }
  t.u8(b.has_meta);
  if (b.has_meta) {
    for (const auto& row : b.meta) {
      t.u32(static_cast<uint32_t>(row.size()));
      for (const auto& kv : row) {
        t.str(kv.first);
        t.u8(static_cast<uint8_t>(kv.second.type));
        switch (kv.second.type) {
          case VType::Bool: t.u8(static_cast<uint8_t>(kv.second.i)); break;
          case VType::Int: t.i64(kv.second.i); break;
          case VType::Float: t.f64(kv.second.f); break;
          case VType::Str: t.str(kv.second.s); break;
          case VType::Null: break;
        }
      }
    }
  }
  suffix = std::move(t.buf);
}

std::vector<uint8_t> encode_upsert(const UpsertBatch& b) {
  std::vector<uint8_t> prefix, suffix;
  encode_upsert_parts(b, prefix, suffix);
  const size_t n = b.ids.size();
  size_t total = prefix.size() + suffix.size();
  for (size_t f = 0; f < b.dims.size(); ++f) total += n * b.dims[f] * sizeof(float);
  std::vector<uint8_t> out;
  out.reserve(total);
  out.insert(out.end(), prefix.begin(), prefix.end());
  for (size_t f = 0; f < b.data.size(); ++f) {
    const auto* p = reinterpret_cast<const uint8_t*>(b.data[f]);
    out.insert(out.end(), p, p + n * b.dims[f] * sizeof(float));
  }
  out.insert(out.end(), suffix.begin(), suffix.end());
  return out;
}

UpsertBatch decode_upsert(const uint8_t* p, size_t len, bool borrow_vectors) {
  ByteReader r(p, len);
  UpsertBatch b;
  const size_t n = r.u32();
  const size_t nf = r.u32();
  for (size_t f = 0; f < nf; ++f) {
    b.field_names.push_back(r.str());
    b.dims.push_back(r.u32());
  }
  b.ids.reserve(n);
  for (size_t i = 0; i < n; ++i) b.ids.push_back(r.str());
  b.owned.resize(nf);
  for (size_t f = 0; f < nf; ++f) {
    const size_t bytes = n * b.dims[f] * sizeof(float);
    const uint8_t* src = r.span(bytes);
    if (borrow_vectors) {
      b.data.push_back(reinterpret_cast<const float*>(src));
      continue;
    }
    b.owned[f].resize(n * b.dims[f]);
    std::memcpy(b.owned[f].data(), src, bytes);
    b.data.push_back(b.owned[f].data());
  }
  b.has_texts = r.u8() != 0;
  if (b.has_texts) {
    b.texts.reserve(n);
    for (size_t i = 0; i < n; ++i) b.texts.push_back(r.str());
  }
  b.has_meta = r.u8() != 0;
  if (b.has_meta) {
    b.meta.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t nk = r.u32();
      for (size_t j = 0; j < nk; ++j) {
        std::string key = r.str();
        Value v;
        v.type = static_cast<VType>(r.u8());
        switch (v.type) {
          case VType::Bool: v.i = r.u8(); break;
          case VType::Int: v.i = r.i64(); break;
          case VType::Float: v.f = r.f64(); break;
          case VType::Str: v.s = r.str(); break;
          case VType::Null: break;
          default: throw DecodeError("unknown metadata value type");
        }
        b.meta[i].emplace_back(std::move(key), std::move(v));
      }
    }
  }
  return b;
}

std::vector<uint8_t> encode_delete(const std::vector<std::string>& ids) {
  ByteWriter w;
  w.u32(static_cast<uint32_t>(ids.size()));
  for (const auto& id : ids) w.str(id);
  return std::move(w.buf);
}

std::vector<std::string> decode_delete(const uint8_t* p, size_t len) {
  ByteReader r(p, len);
  const size_t n = r.u32();
  std::vector<std::string> ids;
  ids.reserve(n);
  for (size_t i = 0; i < n; ++i) ids.push_back(r.str());
  return ids;
}

}  // namespace sagedb
