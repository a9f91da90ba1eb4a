// Little-endian byte writer/reader used by the snapshot format. No engine logic here.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace sage_flow {

class ByteWriter {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable<T>::value, "plain values only");
    const char* p = reinterpret_cast<const char*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  template <typename T>
  void put_array(const T* data, size_t n) {
    put<uint64_t>(n);
    const char* p = reinterpret_cast<const char*>(data);
    buf_.insert(buf_.end(), p, p + n * sizeof(T));
  }
  void put_raw(const char* p, size_t n) { buf_.insert(buf_.end(), p, p + n); }
  const std::string& bytes() const { return buf_; }

 private:
  std::string buf_;
};

class ByteReader {
 public:
  ByteReader(const char* data, size_t n) : p_(data), end_(data + n) {}
  template <typename T>
  T get() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  template <typename T>
  std::vector<T> get_array() {
    uint64_t n = get<uint64_t>();
    if (n > static_cast<uint64_t>(end_ - p_) / sizeof(T)) fail();
    std::vector<T> out(n);
    std::memcpy(out.data(), p_, n * sizeof(T));
    p_ += n * sizeof(T);
    return out;
  }
  void get_raw(char* out, size_t n) {
    need(n);
    std::memcpy(out, p_, n);
    p_ += n;
  }
  bool done() const { return p_ == end_; }

 private:
  void need(size_t n) const {
    if (static_cast<size_t>(end_ - p_) < n) fail();
  }
  [[noreturn]] static void fail() {
    throw std::invalid_argument("sage_flow snapshot is truncated or corrupt");
  }
  const char* p_;
  const char* end_;
};

}  // namespace sage_flow
