// Vector storage and exact scoring kernels (see vectors.hpp).
#include "vectors.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <new>
#include <stdexcept>

#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace sagedb {

Metric parse_metric(const std::string& name) {
  if (name == "l2") return Metric::L2;
  if (name == "ip") return Metric::IP;
  if (name == "cosine") return Metric::Cosine;
  throw std::invalid_argument("unknown metric '" + name + "'; use 'cosine', 'l2' or 'ip'");
}

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::L2: return "l2";
    case Metric::IP: return "ip";
    default: return "cosine";
  }
}

// Portable kernels: eight independent accumulators let the compiler vectorise without
// -ffast-math. On x86-64 an AVX2/FMA version is chosen once at load time when the CPU has it.
namespace {

float dot_portable(const float* a, const float* b, size_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (; i < d; ++i) s += a[i] * b[i];
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

float l2sq_portable(const float* a, const float* b, size_t d) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= d; i += 8)
    for (int j = 0; j < 8; ++j) {
      float t = a[i + j] - b[i + j];
      acc[j] += t * t;
    }
  float s = 0;
  for (; i < d; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s + ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
__attribute__((target("avx2,fma"))) float hsum256(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1));
  return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) float dot_avx2(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  for (; i + 8 <= d; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) s += a[i] * b[i];
  return s;
}

__attribute__((target("avx2,fma"))) float l2sq_avx2(const float* a, const float* b, size_t d) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  size_t i = 0;
  for (; i + 16 <= d; i += 16) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
    s1 = _mm256_fmadd_ps(t1, t1, s1);
  }
  for (; i + 8 <= d; i += 8) {
    __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    s0 = _mm256_fmadd_ps(t0, t0, s0);
  }
  float s = hsum256(_mm256_add_ps(s0, s1));
  for (; i < d; ++i) s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

const bool kHaveAvx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
const bool kHaveAvx2 = false;
float dot_avx2(const float* a, const float* b, size_t d) { return dot_portable(a, b, d); }
float l2sq_avx2(const float* a, const float* b, size_t d) { return l2sq_portable(a, b, d); }
#endif

}  // namespace

float dot(const float* a, const float* b, size_t d) {
  return kHaveAvx2 ? dot_avx2(a, b, d) : dot_portable(a, b, d);
}

float l2sq(const float* a, const float* b, size_t d) {
  return kHaveAvx2 ? l2sq_avx2(a, b, d) : l2sq_portable(a, b, d);
}

void normalize(float* v, size_t d) {
  // Sum of squares with the (AVX2 when available) float kernel; recomputed in double only
  // when it overflows or underflows float.
  double n = dot(v, v, d);
  if (!std::isfinite(n) || n < 1e-30) {
    n = 0;
    for (size_t i = 0; i < d; ++i) n += double(v[i]) * v[i];
  }
  if (n <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(n));
  for (size_t i = 0; i < d; ++i) v[i] *= inv;
}

FloatBuffer::~FloatBuffer() {
  if (p_) ::munmap(p_, cap_ * sizeof(float));
}

void FloatBuffer::reserve(size_t n) {
  if (n <= cap_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t bytes = (n * sizeof(float) + page - 1) / page * page;
  void* q = p_ ? ::mremap(p_, cap_ * sizeof(float), bytes, MREMAP_MAYMOVE)
               : ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (q == MAP_FAILED) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  // Large rows arrays fault in 2 MiB at a time where transparent huge pages are enabled.
  if (bytes >= (4u << 20)) ::madvise(q, bytes, MADV_HUGEPAGE);
#endif
  p_ = static_cast<float*>(q);
  cap_ = bytes / sizeof(float);
}

void VectorStore::append(const float* rows, size_t n, bool normalize_rows) {
  const size_t start = data_.size();
  if (start + n * dim_ > data_.capacity()) data_.reserve(std::max(start + n * dim_, 2 * data_.capacity()));
  if (!normalize_rows) {
    data_.append(rows, n * dim_);
    return;
  }
  // Row by row, so each row is normalised while it is still in cache.
  for (size_t r = 0; r < n; ++r) {
    data_.append(rows + r * dim_, dim_);
    normalize(data_.data() + start + r * dim_, dim_);
  }
}

void VectorStore::compact(const std::vector<int64_t>& keep) {
  FloatBuffer fresh;
  fresh.reserve(keep.size() * dim_);
  for (size_t j = 0; j < keep.size(); ++j) fresh.append(row(static_cast<size_t>(keep[j])), dim_);
  data_ = std::move(fresh);
}

void score_slots(const VectorStore& vs, Metric metric, const float* q, const int64_t* slots,
                 size_t n, float* out) {
  const size_t d = vs.dim();
  for (size_t i = 0; i < n; ++i) {
    const float* r = vs.row(static_cast<size_t>(slots[i]));
    out[i] = metric == Metric::L2 ? l2sq(q, r, d) : dot(q, r, d);
  }
}

void exact_topk(const VectorStore& vs, Metric metric, const float* queries, size_t nq,
                const std::vector<int64_t>& cand, size_t k, int64_t* labels, float* scores) {
  const size_t d = vs.dim();
  const float worst = metric == Metric::L2 ? std::numeric_limits<float>::infinity()
                                           : -std::numeric_limits<float>::infinity();
  // Heap keeps the current worst of the best k on top.
  auto cmp = [metric](const std::pair<float, int64_t>& a, const std::pair<float, int64_t>& b) {
    if (a.first != b.first) return better(metric, a.first, b.first);
    return a.second < b.second;
  };
  std::vector<std::pair<float, int64_t>> heap;
  heap.reserve(k + 1);
  for (size_t qi = 0; qi < nq; ++qi) {
    const float* q = queries + qi * d;
    heap.clear();
    for (int64_t s : cand) {
      const float* r = vs.row(static_cast<size_t>(s));
      float v = metric == Metric::L2 ? l2sq(q, r, d) : dot(q, r, d);
      if (heap.size() < k) {
        heap.emplace_back(v, s);
        std::push_heap(heap.begin(), heap.end(), cmp);
      } else if (better(metric, v, heap.front().first)) {
        std::pop_heap(heap.begin(), heap.end(), cmp);
        heap.back() = {v, s};
        std::push_heap(heap.begin(), heap.end(), cmp);
      }
    }
    std::sort_heap(heap.begin(), heap.end(), cmp);
    for (size_t j = 0; j < k; ++j) {
      if (j < heap.size()) {
        labels[qi * k + j] = heap[j].second;
        scores[qi * k + j] = heap[j].first;
      } else {
        labels[qi * k + j] = -1;
        scores[qi * k + j] = worst;
      }
    }
  }
}

}  // namespace sagedb
