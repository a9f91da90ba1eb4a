// Dense vector storage for one field, and exact (brute-force) scoring kernels.
// Holds float32 rows by slot; no ids, metadata, files or Python.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace sagedb {

enum class Metric : uint8_t { L2 = 0, IP = 1, Cosine = 2 };

Metric parse_metric(const std::string& name);
const char* metric_name(Metric m);
// Larger is better for IP and cosine; for L2 the score is the squared distance (smaller is
// better). `better(a, b)` says whether score a ranks ahead of score b.
inline bool better(Metric m, float a, float b) { return m == Metric::L2 ? a < b : a > b; }

float dot(const float* a, const float* b, size_t d);
float l2sq(const float* a, const float* b, size_t d);
void normalize(float* v, size_t d);

// Growable float array in anonymous memory that grows with mremap(): growing moves page
// tables, never copies rows (a std::vector would copy every row on each reallocation).
class FloatBuffer {
 public:
  FloatBuffer() = default;
  ~FloatBuffer();
  FloatBuffer(FloatBuffer&& o) noexcept { swap(o); }
  FloatBuffer& operator=(FloatBuffer&& o) noexcept {
    FloatBuffer tmp(std::move(o));
    swap(tmp);
    return *this;
  }
  FloatBuffer(const FloatBuffer&) = delete;
  FloatBuffer& operator=(const FloatBuffer&) = delete;
  size_t size() const { return size_; }
  size_t capacity() const { return cap_; }
  float* data() { return p_; }
  const float* data() const { return p_; }
  void reserve(size_t n);
  void append(const float* src, size_t n) {
    if (size_ + n > cap_) reserve(std::max(size_ + n, 2 * cap_));
    std::memcpy(p_ + size_, src, n * sizeof(float));
    size_ += n;
  }
  void shrink(size_t n) { size_ = std::min(size_, n); }
  void clear() { size_ = 0; }

 private:
  void swap(FloatBuffer& o) noexcept {
    std::swap(p_, o.p_);
    std::swap(size_, o.size_);
    std::swap(cap_, o.cap_);
  }
  float* p_ = nullptr;
  size_t size_ = 0, cap_ = 0;  // in floats; cap_ * 4 is a multiple of the page size
};

class VectorStore {
 public:
  VectorStore(std::string name, size_t dim) : name_(std::move(name)), dim_(dim) {}
  const std::string& name() const { return name_; }
  size_t dim() const { return dim_; }
  size_t rows() const { return data_.size() / dim_; }
  const float* row(size_t slot) const { return data_.data() + slot * dim_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  void append(const float* rows, size_t n, bool normalize_rows);
  void truncate(size_t rows) { data_.shrink(rows * dim_); }
  void compact(const std::vector<int64_t>& keep);
  void reserve(size_t rows) { data_.reserve(rows * dim_); }
  void clear() { data_.clear(); }

 private:
  std::string name_;
  size_t dim_;
  FloatBuffer data_;
};

// Top-k over the candidate slots for each of nq queries (row-major nq x dim).
// Output arrays are nq x k, padded with label -1 and the worst score.
void exact_topk(const VectorStore& vs, Metric metric, const float* queries, size_t nq,
                const std::vector<int64_t>& candidates, size_t k, int64_t* labels,
                float* scores);

// Score of one query against given slots.
void score_slots(const VectorStore& vs, Metric metric, const float* query,
                 const int64_t* slots, size_t n, float* out);

}  // namespace sagedb
