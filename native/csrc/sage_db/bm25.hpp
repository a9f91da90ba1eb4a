// BM25 keyword index with incremental add and delete.
// Holds the tokenizer, the vocabulary, posting lists and document lengths, keyed by slot;
// it knows nothing about string ids, vectors, files or Python.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sagedb {

// Tokenizer: ASCII letters and digits are lower-cased and form tokens; every byte >= 0x80
// (UTF-8 multi-byte characters) is kept as part of a token unchanged; every other byte
// (space, punctuation, control) separates tokens. No stemming, no stop words.
std::vector<std::string> tokenize(const std::string& text);

class BM25Index {
 public:
  double k1 = 1.5;
  double b = 0.75;

  void add(size_t slot, const std::string& text);
  void remove(size_t slot);
  bool has(size_t slot) const { return slot < in_index_.size() && in_index_[slot]; }
  // Scores every document containing at least one query term; returns (slot, score) pairs,
  // best first, at most k, only slots with allowed == nullptr or allowed[slot] != 0.
  std::vector<std::pair<int64_t, float>> search(const std::string& query, size_t k,
                                                const uint8_t* allowed) const;
  // Score of one query against given slots (0 for slots without text).
  std::vector<float> score_slots(const std::string& query, const std::vector<int64_t>& slots) const;
  size_t n_docs() const { return n_docs_; }
  size_t vocab_size() const { return vocab_.size(); }
  double avgdl() const { return n_docs_ ? double(total_len_) / double(n_docs_) : 0.0; }
  void clear();

 private:
  struct Posting {
    uint32_t slot;
    uint32_t tf;
  };
  uint32_t term_id(const std::string& t);
  double idf(uint32_t df) const;

  std::unordered_map<std::string, uint32_t> vocab_;
  std::vector<std::vector<Posting>> postings_;
  std::vector<uint32_t> df_;
  std::vector<uint32_t> doc_len_;
  std::vector<std::vector<uint32_t>> doc_terms_;  // unique term ids of each slot
  std::vector<uint8_t> in_index_;
  size_t n_docs_ = 0;
  uint64_t total_len_ = 0;
  mutable std::vector<float> acc_;  // scratch accumulator, one float per slot
};

}  // namespace sagedb
