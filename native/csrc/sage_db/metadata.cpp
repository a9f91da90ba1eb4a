// Columnar metadata and filter evaluation (see metadata.hpp).
#include "metadata.hpp"

#include <algorithm>

namespace sagedb {

void Column::set(size_t slot, const Value& v) {
  if (type.size() <= slot) {
    type.resize(slot + 1, VType::Null);
    ival.resize(slot + 1, 0);
    fval.resize(slot + 1, 0.0);
  }
  type[slot] = v.type;
  if (v.type != VType::Null) kinds |= static_cast<uint8_t>(1u << static_cast<unsigned>(v.type));
  switch (v.type) {
    case VType::Bool:
    case VType::Int: ival[slot] = v.i; break;
    case VType::Float: fval[slot] = v.f; break;
    case VType::Str: {
      auto it = codes.find(v.s);
      int64_t code;
      if (it == codes.end()) {
        code = static_cast<int64_t>(dict.size());
        dict.push_back(v.s);
        codes.emplace(v.s, code);
      } else {
        code = it->second;
      }
      ival[slot] = code;
      break;
    }
    case VType::Null: break;
  }
}

Value Column::get(size_t slot) const {
  Value v;
  if (slot >= type.size()) return v;
  v.type = type[slot];
  switch (v.type) {
    case VType::Bool:
    case VType::Int: v.i = ival[slot]; break;
    case VType::Float: v.f = fval[slot]; break;
    case VType::Str: v.s = dict[static_cast<size_t>(ival[slot])]; break;
    case VType::Null: break;
  }
  return v;
}

void MetadataStore::set_row(size_t slot, const MetaRow& row) {
  if (hint_.size() < row.size()) hint_.resize(row.size(), {std::string(), nullptr});
  for (size_t i = 0; i < row.size(); ++i) {
    const auto& kv = row[i];
    auto& h = hint_[i];
    if (!h.second || h.first != kv.first) h = {kv.first, &cols_[kv.first]};
    h.second->set(slot, kv.second);
  }
}

MetaRow MetadataStore::row(size_t slot) const {
  MetaRow out;
  for (const auto& kv : cols_) {
    Value v = kv.second.get(slot);
    if (v.type != VType::Null) out.emplace_back(kv.first, std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

const Column* MetadataStore::column(const std::string& name) const {
  auto it = cols_.find(name);
  return it == cols_.end() ? nullptr : &it->second;
}

void MetadataStore::compact(const std::vector<int64_t>& keep) {
  std::unordered_map<std::string, Column> fresh;
  for (const auto& kv : cols_) {
    Column c;
    for (size_t j = 0; j < keep.size(); ++j) {
      Value v = kv.second.get(static_cast<size_t>(keep[j]));
      if (v.type != VType::Null) c.set(j, v);
    }
    if (!c.type.empty()) fresh.emplace(kv.first, std::move(c));
  }
  cols_ = std::move(fresh);
  hint_.clear();
}

namespace {

bool is_numeric(VType t) { return t == VType::Int || t == VType::Float; }

// Three-way compare of a stored cell with a filter value; returns false in `ok`
// when the two are not comparable (different kinds), which makes the predicate false.
inline int cmp_cell(const Column& c, size_t i, const Value& v, const int64_t vcode, bool& ok) {
  VType t = c.type[i];
  ok = true;
  if (is_numeric(t) && is_numeric(v.type)) {
    if (t == VType::Int && v.type == VType::Int) {
      int64_t a = c.ival[i];
      return (a > v.i) - (a < v.i);
    }
    double a = t == VType::Int ? static_cast<double>(c.ival[i]) : c.fval[i];
    double b = v.type == VType::Int ? static_cast<double>(v.i) : v.f;
    return (a > b) - (a < b);
  }
  if (t == VType::Str && v.type == VType::Str) {
    if (vcode >= 0) {
      int64_t a = c.ival[i];
      if (a == vcode) return 0;
    }
    int r = c.dict[static_cast<size_t>(c.ival[i])].compare(v.s);
    return (r > 0) - (r < 0);
  }
  if (t == VType::Bool && v.type == VType::Bool) {
    return (c.ival[i] > v.i) - (c.ival[i] < v.i);
  }
  ok = false;
  return 0;
}

template <typename T, typename Cmp>
void compare_column(const VType* ty, const T* vals, VType want, T v, size_t m, uint8_t* out, Cmp cmp) {
  // Branch-free so the compiler vectorises it.
  for (size_t i = 0; i < m; ++i) out[i] = static_cast<uint8_t>((ty[i] == want) & cmp(vals[i], v));
}

template <typename T>
bool dispatch(Op op, const VType* ty, const T* vals, VType want, T v, size_t m, uint8_t* out) {
  switch (op) {
    case Op::Eq: compare_column(ty, vals, want, v, m, out, [](T a, T b) { return a == b; }); return true;
    case Op::Gt: compare_column(ty, vals, want, v, m, out, [](T a, T b) { return a > b; }); return true;
    case Op::Gte: compare_column(ty, vals, want, v, m, out, [](T a, T b) { return a >= b; }); return true;
    case Op::Lt: compare_column(ty, vals, want, v, m, out, [](T a, T b) { return a < b; }); return true;
    case Op::Lte: compare_column(ty, vals, want, v, m, out, [](T a, T b) { return a <= b; }); return true;
    default: return false;
  }
}

// Columns holding only ints (or only floats) next to missing values, compared with a number.
bool numeric_fast_path(Op op, const Column& c, const Value& v, size_t m, uint8_t* out) {
  const uint8_t int_only = 1u << static_cast<unsigned>(VType::Int);
  const uint8_t float_only = 1u << static_cast<unsigned>(VType::Float);
  if (c.kinds == int_only && v.type == VType::Int)
    return dispatch<int64_t>(op, c.type.data(), c.ival.data(), VType::Int, v.i, m, out);
  if (c.kinds == float_only && is_numeric(v.type))
    return dispatch<double>(op, c.type.data(), c.fval.data(), VType::Float,
                            v.type == VType::Int ? static_cast<double>(v.i) : v.f, m, out);
  return false;
}

void eval_cmp(const FilterNode& node, const Column* col, size_t n, std::vector<uint8_t>& out) {
  out.assign(n, 0);
  const bool negated = node.op == Op::Ne || node.op == Op::Nin;
  if (col == nullptr) {
    // A record without the field matches only $ne and $nin.
    if (negated) std::fill(out.begin(), out.end(), 1);
    return;
  }
  const size_t m = std::min(n, col->type.size());
  if (negated) std::fill(out.begin() + static_cast<long>(m), out.end(), 1);

  if (node.op == Op::Eq && numeric_fast_path(Op::Eq, *col, node.values[0], m, out.data())) return;
  if (node.op == Op::In || node.op == Op::Nin || node.op == Op::Eq || node.op == Op::Ne) {
    // Fast path for equality on strings: compare dictionary codes.
    bool all_str = true;
    for (const auto& v : node.values) all_str = all_str && v.type == VType::Str;
    if (all_str) {
      std::vector<int64_t> wanted;
      for (const auto& v : node.values) {
        auto it = col->codes.find(v.s);
        if (it != col->codes.end()) wanted.push_back(it->second);
      }
      const VType* ty = col->type.data();
      const int64_t* iv = col->ival.data();
      for (size_t i = 0; i < m; ++i) {
        bool hit = false;
        if (ty[i] == VType::Str)
          for (int64_t w : wanted) hit = hit || iv[i] == w;
        out[i] = static_cast<uint8_t>(negated ? !hit : hit);
      }
      return;
    }
    for (size_t i = 0; i < m; ++i) {
      if (col->type[i] == VType::Null) {
        out[i] = negated;
        continue;
      }
      bool hit = false;
      for (const auto& v : node.values) {
        bool ok;
        int r = cmp_cell(*col, i, v, -1, ok);
        if (ok && r == 0) {
          hit = true;
          break;
        }
      }
      out[i] = static_cast<uint8_t>(negated ? !hit : hit);
    }
    return;
  }

  const Value& v = node.values.at(0);
  if (numeric_fast_path(node.op, *col, v, m, out.data())) return;
  for (size_t i = 0; i < m; ++i) {
    if (col->type[i] == VType::Null) continue;
    bool ok;
    int r = cmp_cell(*col, i, v, -1, ok);
    if (!ok) continue;
    bool hit = false;
    switch (node.op) {
      case Op::Gt: hit = r > 0; break;
      case Op::Gte: hit = r >= 0; break;
      case Op::Lt: hit = r < 0; break;
      case Op::Lte: hit = r <= 0; break;
      default: break;
    }
    out[i] = hit;
  }
}

}  // namespace

void eval_filter(const FilterNode& node, const MetadataStore& store, size_t n,
                 std::vector<uint8_t>& out) {
  if (node.op == Op::And || node.op == Op::Or) {
    const bool is_and = node.op == Op::And;
    out.assign(n, is_and ? 1 : 0);
    std::vector<uint8_t> tmp;
    for (const auto& child : node.children) {
      eval_filter(*child, store, n, tmp);
      uint8_t* o = out.data();
      const uint8_t* t = tmp.data();
      if (is_and)
        for (size_t i = 0; i < n; ++i) o[i] &= t[i];
      else
        for (size_t i = 0; i < n; ++i) o[i] |= t[i];
    }
    return;
  }
  eval_cmp(node, store.column(node.field), n, out);
}

}  // namespace sagedb
