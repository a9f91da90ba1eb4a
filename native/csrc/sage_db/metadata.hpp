// Columnar metadata store and the `where` filter evaluator.
// Holds typed columns keyed by field name and a parsed filter tree; it knows nothing
// about Python, vectors, ids or files (the binding layer converts dicts into these types).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sagedb {

enum class VType : uint8_t { Null = 0, Bool = 1, Int = 2, Float = 3, Str = 4 };

struct Value {
  VType type = VType::Null;
  int64_t i = 0;   // Bool (0/1) and Int
  double f = 0.0;  // Float
  std::string s;   // Str
};

using MetaRow = std::vector<std::pair<std::string, Value>>;

// One column: a type tag per slot plus the value in the matching array.
struct Column {
  std::vector<VType> type;
  std::vector<int64_t> ival;  // Bool, Int, and the dictionary code of Str
  std::vector<double> fval;   // Float
  std::vector<std::string> dict;
  std::unordered_map<std::string, int64_t> codes;
  uint8_t kinds = 0;  // bit (1 << VType) set for every type ever stored (Null excluded)

  void set(size_t slot, const Value& v);
  Value get(size_t slot) const;
};

class MetadataStore {
 public:
  void set_row(size_t slot, const MetaRow& row);
  MetaRow row(size_t slot) const;
  const Column* column(const std::string& name) const;
  // Rebuilds the store keeping only `keep` slots, renumbered 0..keep.size()-1.
  void compact(const std::vector<int64_t>& keep);
  void clear() {
    cols_.clear();
    hint_.clear();
  }
  size_t n_columns() const { return cols_.size(); }

 private:
  std::unordered_map<std::string, Column> cols_;
  // Column of the i-th key of the previous row: rows usually repeat the same keys in the
  // same order, so set_row mostly skips the hash lookup. Map nodes never move.
  std::vector<std::pair<std::string, Column*>> hint_;
};

enum class Op : uint8_t { Eq, Ne, Gt, Gte, Lt, Lte, In, Nin, And, Or };

struct FilterNode {
  Op op;
  std::string field;          // comparisons
  std::vector<Value> values;  // one for comparisons, many for In/Nin
  std::vector<std::unique_ptr<FilterNode>> children;  // And/Or
};

// Evaluates `node` over slots [0, n): out[i] = 1 if slot i matches.
void eval_filter(const FilterNode& node, const MetadataStore& store, size_t n,
                 std::vector<uint8_t>& out);

}  // namespace sagedb
