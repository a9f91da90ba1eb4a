// Little-endian byte encoding and CRC-32 for sage_db's on-disk formats.
// Holds only byte-level helpers: no knowledge of records, collections or Python.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace sagedb {

// CRC-32 (IEEE 802.3 polynomial, as zlib's crc32), slicing-by-8.
uint32_t crc32(const uint8_t* data, size_t len, uint32_t crc = 0);

class ByteWriter {
 public:
  std::vector<uint8_t> buf;
  void u8(uint8_t v) { buf.push_back(v); }
  void u32(uint32_t v) { raw(&v, 4); }
  void u64(uint64_t v) { raw(&v, 8); }
  void i64(int64_t v) { raw(&v, 8); }
  void f64(double v) { raw(&v, 8); }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    raw(s.data(), s.size());
  }
  void raw(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    buf.insert(buf.end(), b, b + n);
  }
};

// Thrown when encoded bytes are shorter or stranger than their own lengths claim.
struct DecodeError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
  uint8_t u8() { uint8_t v; take(&v, 1); return v; }
  uint32_t u32() { uint32_t v; take(&v, 4); return v; }
  uint64_t u64() { uint64_t v; take(&v, 8); return v; }
  int64_t i64() { int64_t v; take(&v, 8); return v; }
  double f64() { double v; take(&v, 8); return v; }
  std::string str() {
    uint32_t len = u32();
    need(len);
    std::string s(reinterpret_cast<const char*>(p_ + pos_), len);
    pos_ += len;
    return s;
  }
  const uint8_t* span(size_t n) {
    need(n);
    const uint8_t* s = p_ + pos_;
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return n_ - pos_; }

 private:
  void need(size_t n) const {
    if (n > n_ - pos_) throw DecodeError("record payload ends early");
  }
  void take(void* out, size_t n) {
    need(n);
    std::memcpy(out, p_ + pos_, n);
    pos_ += n;
  }
  const uint8_t* p_;
  size_t n_;
  size_t pos_ = 0;
};

}  // namespace sagedb
