// BM25 keyword index (see bm25.hpp for the tokenizer and the scoring contract).
#include "bm25.hpp"

#include <algorithm>
#include <cmath>

namespace sagedb {

std::vector<std::string> tokenize(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (unsigned char c : text) {
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
      cur.push_back(static_cast<char>(c));
    } else if (c >= 'A' && c <= 'Z') {
      cur.push_back(static_cast<char>(c - 'A' + 'a'));
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

uint32_t BM25Index::term_id(const std::string& t) {
  auto it = vocab_.find(t);
  if (it != vocab_.end()) return it->second;
  uint32_t id = static_cast<uint32_t>(postings_.size());
  vocab_.emplace(t, id);
  postings_.emplace_back();
  df_.push_back(0);
  return id;
}

double BM25Index::idf(uint32_t df) const {
  const double n = static_cast<double>(n_docs_);
  return std::log(1.0 + (n - df + 0.5) / (df + 0.5));
}

void BM25Index::add(size_t slot, const std::string& text) {
  if (has(slot)) remove(slot);
  auto toks = tokenize(text);
  std::unordered_map<uint32_t, uint32_t> tf;
  for (const auto& t : toks) ++tf[term_id(t)];
  if (doc_len_.size() <= slot) {
    doc_len_.resize(slot + 1, 0);
    doc_terms_.resize(slot + 1);
    in_index_.resize(slot + 1, 0);
  }
  std::vector<uint32_t> terms;
  terms.reserve(tf.size());
  for (const auto& kv : tf) {
    postings_[kv.first].push_back({static_cast<uint32_t>(slot), kv.second});
    ++df_[kv.first];
    terms.push_back(kv.first);
  }
  doc_len_[slot] = static_cast<uint32_t>(toks.size());
  doc_terms_[slot] = std::move(terms);
  in_index_[slot] = 1;
  ++n_docs_;
  total_len_ += toks.size();
}

void BM25Index::remove(size_t slot) {
  if (!has(slot)) return;
  for (uint32_t t : doc_terms_[slot]) {
    --df_[t];
    auto& pl = postings_[t];
    // Postings are appended in slot order per term, so the entry is found by binary search.
    auto it = std::lower_bound(pl.begin(), pl.end(), static_cast<uint32_t>(slot),
                               [](const Posting& p, uint32_t s) { return p.slot < s; });
    if (it != pl.end() && it->slot == slot) pl.erase(it);
  }
  total_len_ -= doc_len_[slot];
  --n_docs_;
  doc_len_[slot] = 0;
  doc_terms_[slot].clear();
  doc_terms_[slot].shrink_to_fit();
  in_index_[slot] = 0;
}

void BM25Index::clear() { *this = BM25Index{}; }

std::vector<std::pair<int64_t, float>> BM25Index::search(const std::string& query, size_t k,
                                                         const uint8_t* allowed) const {
  std::vector<std::pair<int64_t, float>> out;
  if (n_docs_ == 0 || k == 0) return out;
  const double avg = avgdl();
  if (acc_.size() < doc_len_.size()) acc_.assign(doc_len_.size(), 0.0f);
  std::vector<uint32_t> touched;
  for (const auto& t : tokenize(query)) {
    auto it = vocab_.find(t);
    if (it == vocab_.end()) continue;
    const uint32_t term = it->second;
    if (df_[term] == 0) continue;
    const double w = idf(df_[term]);
    for (const Posting& p : postings_[term]) {
      if (allowed && !allowed[p.slot]) continue;
      const double tf = p.tf;
      const double norm = k1 * (1.0 - b + b * doc_len_[p.slot] / avg);
      float s = static_cast<float>(w * tf * (k1 + 1.0) / (tf + norm));
      if (acc_[p.slot] == 0.0f) touched.push_back(p.slot);
      acc_[p.slot] += s;
    }
  }
  out.reserve(touched.size());
  for (uint32_t s : touched) {
    if (acc_[s] > 0.0f) out.emplace_back(static_cast<int64_t>(s), acc_[s]);
    acc_[s] = 0.0f;
  }
  auto better = [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  };
  if (out.size() > k) {
    std::partial_sort(out.begin(), out.begin() + static_cast<long>(k), out.end(), better);
    out.resize(k);
  } else {
    std::sort(out.begin(), out.end(), better);
  }
  return out;
}

std::vector<float> BM25Index::score_slots(const std::string& query,
                                          const std::vector<int64_t>& slots) const {
  std::vector<float> out(slots.size(), 0.0f);
  if (n_docs_ == 0) return out;
  const double avg = avgdl();
  std::unordered_map<int64_t, size_t> pos;
  for (size_t i = 0; i < slots.size(); ++i) pos[slots[i]] = i;
  for (const auto& t : tokenize(query)) {
    auto it = vocab_.find(t);
    if (it == vocab_.end() || df_[it->second] == 0) continue;
    const double w = idf(df_[it->second]);
    for (const Posting& p : postings_[it->second]) {
      auto f = pos.find(p.slot);
      if (f == pos.end()) continue;
      const double tf = p.tf;
      const double norm = k1 * (1.0 - b + b * doc_len_[p.slot] / avg);
      out[f->second] += static_cast<float>(w * tf * (k1 + 1.0) / (tf + norm));
    }
  }
  return out;
}

}  // namespace sagedb
