// pybind11 module `sage_db._core`: the binding block only. Every function validates and
// converts its Python inputs first, then releases the GIL around the pure C++ work.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <system_error>

#include "binio.hpp"
#include "collection.hpp"
#include "convert.hpp"
#include "fusion.hpp"
#include "storage.hpp"

namespace py = pybind11;
using namespace sagedb;

namespace {

using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;
using LabelArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

struct Filter {
  std::unique_ptr<FilterNode> root;
};

std::vector<std::string> to_strings(const py::handle& obj, const char* what) {
  std::vector<std::string> out;
  if (py::isinstance<py::str>(obj))
    throw py::type_error(std::string(what) + " must be a list of str, not a single str");
  size_t i = 0;
  for (auto item : obj) {
    if (!py::isinstance<py::str>(item))
      throw py::type_error(std::string(what) + "[" + std::to_string(i) + "] must be str, not " +
                           std::string(py::str(py::type::of(item).attr("__name__"))));
    out.push_back(item.cast<std::string>());
    ++i;
  }
  return out;
}

// Checks a query matrix for a field and returns a contiguous float32 copy, normalised for
// cosine collections.
std::vector<float> prepare_queries(const Collection& c, size_t field, const FloatArray& q,
                                   size_t& nq) {
  const size_t d = c.field(field).dim();
  if (q.ndim() == 1) {
    nq = 1;
  } else if (q.ndim() == 2) {
    nq = static_cast<size_t>(q.shape(0));
  } else {
    throw py::value_error("queries must be one vector or a 2-D batch");
  }
  const size_t qd = static_cast<size_t>(q.shape(q.ndim() - 1));
  if (qd != d)
    throw py::value_error("query for field '" + c.field(field).name() + "' has dimension " +
                          std::to_string(qd) + ", the collection expects " + std::to_string(d));
  std::vector<float> out(q.data(), q.data() + nq * d);
  for (float v : out)
    if (!std::isfinite(v)) throw py::value_error("query contains NaN or infinity");
  if (c.metric() == Metric::Cosine)
    for (size_t i = 0; i < nq; ++i) normalize(out.data() + i * d, d);
  return out;
}

size_t field_arg(const Collection& c, py::handle f) {
  if (py::isinstance<py::str>(f)) {
    int i = c.field_index(f.cast<std::string>());
    if (i < 0) throw py::key_error("no vector field '" + f.cast<std::string>() + "'");
    return static_cast<size_t>(i);
  }
  size_t i = f.cast<size_t>();
  if (i >= c.n_fields()) throw py::index_error("field index out of range");
  return i;
}

const uint8_t* mask_of(const Selection* sel, const Collection& c) {
  if (sel && sel->mask.size() != c.n_slots())
    throw py::value_error("selection is stale: the collection changed after it was made");
  return sel ? sel->mask.data() : nullptr;
}

// Converts the arguments of an upsert; `keep` receives the arrays the batch points into.
UpsertBatch make_batch(const Collection& c, const py::list& ids, const py::list& vectors,
                       const py::object& metadata, const py::object& texts, py::list& keep) {
  UpsertBatch b;
  b.ids = to_strings(ids, "ids");
  const size_t n = b.ids.size();
  if (vectors.size() != c.n_fields())
    throw py::value_error("expected vectors for " + std::to_string(c.n_fields()) + " fields, got " +
                          std::to_string(vectors.size()));
  for (size_t f = 0; f < c.n_fields(); ++f) {
    const std::string& name = c.field(f).name();
    auto arr = FloatArray::ensure(vectors[f]);
    if (!arr) throw py::type_error("vectors for field '" + name + "' must be a float array");
    if (arr.ndim() == 1 && n == 1) arr = arr.reshape({py::ssize_t(1), arr.shape(0)});
    if (arr.ndim() != 2)
      throw py::value_error("vectors for field '" + name + "' must be a 2-D array (n, dim), got " +
                            std::to_string(arr.ndim()) + "-D");
    if (static_cast<size_t>(arr.shape(0)) != n)
      throw py::value_error("got " + std::to_string(n) + " ids but " + std::to_string(arr.shape(0)) +
                            " vectors for field '" + name + "'");
    b.field_names.push_back(name);
    b.dims.push_back(static_cast<size_t>(arr.shape(1)));
    b.data.push_back(arr.data());
    keep.append(arr);
  }
  if (!metadata.is_none()) {
    b.has_meta = true;
    size_t i = 0;
    if (py::isinstance<py::list>(metadata)) b.meta.reserve(py::len(metadata));
    for (auto m : metadata) {
      MetaRow row;
      if (!m.is_none() && !(PyDict_CheckExact(m.ptr()) && fast_meta_row(m.ptr(), row))) {
        row.clear();
        row = to_meta_row(m, "metadata[" + std::to_string(i) + "]");
      }
      b.meta.push_back(std::move(row));
      ++i;
    }
  }
  if (!texts.is_none()) {
    b.has_texts = true;
    b.texts = to_strings(texts, "texts");
  }
  return b;
}

void upsert(Collection& c, const py::list& ids, const py::list& vectors, const py::object& metadata,
            const py::object& texts) {
  py::list keep;
  UpsertBatch b = make_batch(c, ids, vectors, metadata, texts, keep);
  py::gil_scoped_release nogil;
  c.upsert(std::move(b));
}

// First half of a two-phase upsert (see Collection::begin_upsert). Returns the arrays the
// log append reads from: the caller holds them until upsert_finish().
py::list upsert_begin(Collection& c, const py::list& ids, const py::list& vectors,
                      const py::object& metadata, const py::object& texts) {
  py::list keep;
  UpsertBatch b = make_batch(c, ids, vectors, metadata, texts, keep);
  {
    py::gil_scoped_release nogil;
    c.begin_upsert(std::move(b));
  }
  return keep;
}

py::tuple exact_search(const Collection& c, py::handle field, const FloatArray& q, size_t k,
                       const Selection* sel) {
  const size_t f = field_arg(c, field);
  size_t nq;
  std::vector<float> queries = prepare_queries(c, f, q, nq);
  mask_of(sel, c);
  std::vector<int64_t> labels(nq * k);
  std::vector<float> scores(nq * k);
  {
    py::gil_scoped_release nogil;
    std::vector<int64_t> cand;
    if (sel) {
      cand = sel->slots();
    } else {
      cand.reserve(c.count());
      for (size_t s = 0; s < c.n_slots(); ++s)
        if (c.alive(s)) cand.push_back(static_cast<int64_t>(s));
    }
    exact_topk(c.field(f), c.metric(), queries.data(), nq, cand, k, labels.data(), scores.data());
  }
  const auto snq = static_cast<py::ssize_t>(nq), sk = static_cast<py::ssize_t>(k);
  return py::make_tuple(to_numpy(std::move(labels), {snq, sk}), to_numpy(std::move(scores), {snq, sk}));
}

// FAISS labels -> string ids, dropping -1, tombstoned and unselected slots; keeps k per row.
py::tuple resolve(const Collection& c, const LabelArray& labels, const FloatArray& scores, size_t k,
                  const Selection* sel) {
  if (labels.ndim() != 2 || scores.ndim() != 2 || labels.shape(0) != scores.shape(0) ||
      labels.shape(1) != scores.shape(1))
    throw py::value_error("labels and scores must be 2-D arrays of the same shape");
  const uint8_t* mask = mask_of(sel, c);
  const size_t nq = static_cast<size_t>(labels.shape(0)), kk = static_cast<size_t>(labels.shape(1));
  std::vector<int64_t> slots(nq * k, -1);
  std::vector<float> out(nq * k, std::numeric_limits<float>::quiet_NaN());
  std::vector<int64_t> counts(nq, 0);
  py::list ids;
  const int64_t* L = labels.data();
  const float* S = scores.data();
  for (size_t qi = 0; qi < nq; ++qi) {
    py::list row;
    size_t got = 0;
    for (size_t j = 0; j < kk && got < k; ++j) {
      const int64_t s = L[qi * kk + j];
      if (s < 0 || static_cast<size_t>(s) >= c.n_slots() || !c.alive(static_cast<size_t>(s))) continue;
      if (mask && !mask[s]) continue;
      slots[qi * k + got] = s;
      out[qi * k + got] = S[qi * kk + j];
      row.append(py::str(c.id_of(static_cast<size_t>(s))));
      ++got;
    }
    counts[qi] = static_cast<int64_t>(got);
    ids.append(row);
  }
  const auto snq = static_cast<py::ssize_t>(nq), sk = static_cast<py::ssize_t>(k);
  return py::make_tuple(ids, to_numpy(std::move(out), {snq, sk}), to_numpy(std::move(counts), {snq}),
                        to_numpy(std::move(slots), {snq, sk}));
}

py::tuple pairs_to_arrays(std::vector<std::pair<int64_t, float>>&& v) {
  std::vector<int64_t> s(v.size());
  std::vector<float> f(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    s[i] = v[i].first;
    f[i] = v[i].second;
  }
  const auto n = static_cast<py::ssize_t>(v.size());
  return py::make_tuple(to_numpy(std::move(s), {n}), to_numpy(std::move(f), {n}));
}

py::dict header_dict(const FileHeader& h, const char* kind) {
  py::dict d;
  d["kind"] = kind;
  d["version"] = h.version;
  d["base_lsn"] = h.base_lsn;
  d["config"] = h.config;
  d["size"] = h.size;
  return d;
}

// Reads the header only (a log behind it can be hundreds of MiB). A missing or unreadable
// file raises OSError (FileNotFoundError, PermissionError), as Python's open() does.
py::dict read_header(const std::string& path) {
  std::vector<uint8_t> head;
  try {
    head = read_header_bytes(path);
  } catch (const std::system_error& e) {
    errno = e.code().value();
    PyErr_SetFromErrnoWithFilename(PyExc_OSError, path.c_str());
    throw py::error_already_set();
  }
  if (head.size() >= 8 && std::equal(head.begin(), head.begin() + 8, kWalMagic))
    return header_dict(decode_header(head.data(), head.size(), kWalMagic, "'" + path + "'"), "wal");
  return header_dict(decode_header(head.data(), head.size(), kSnapMagic, "'" + path + "'"), "snapshot");
}

// (field, index bytes) pairs viewing the callers' buffers (bytes or NumPy uint8 arrays);
// `keep` holds the buffers while the views are used.
std::vector<std::pair<std::string, std::string_view>> to_blobs(const py::object& blobs,
                                                               std::vector<py::buffer_info>& keep) {
  std::vector<std::pair<std::string, std::string_view>> out;
  if (blobs.is_none()) return out;
  for (auto item : blobs) {
    auto t = item.cast<py::tuple>();
    keep.push_back(py::reinterpret_borrow<py::buffer>(t[1]).request());
    const py::buffer_info& info = keep.back();
    out.emplace_back(t[0].cast<std::string>(),
                     std::string_view(static_cast<const char*>(info.ptr),
                                      static_cast<size_t>(info.size * info.itemsize)));
  }
  return out;
}

// Index blobs as NumPy uint8 arrays that take over the strings (no copy).
py::list from_blobs(std::vector<std::pair<std::string, std::string>>& blobs) {
  py::list out;
  for (auto& b : blobs) {
    auto* heap = new std::string(std::move(b.second));
    py::capsule owner(heap, [](void* p) { delete static_cast<std::string*>(p); });
    py::array_t<uint8_t> arr({static_cast<py::ssize_t>(heap->size())},
                             reinterpret_cast<const uint8_t*>(heap->data()), owner);
    out.append(py::make_tuple(b.first, arr));
  }
  return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "sage_db compiled core: id maps, metadata filters, BM25, fusion, WAL and snapshots";
  m.attr("__version__") = "0.1.0";
  m.attr("FORMAT_VERSION") = kFormatVersion;

  py::register_exception<CorruptionError>(m, "CorruptionError", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const std::invalid_argument& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });

  m.def("tokenize", &tokenize, py::arg("text"), "Split text into BM25 tokens (see docs).");
  m.def("crc32", [](const py::bytes& b) {
    std::string s = b;
    return crc32(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }, py::arg("data"));
  m.def("read_header", &read_header, py::arg("path"), "Header of a WAL or snapshot file.");
  m.def("truncate_file", &truncate_file, py::arg("path"), py::arg("size"));

  py::class_<Filter>(m, "Filter")
      .def(py::init([](const py::object& where) { return Filter{parse_where(where)}; }), py::arg("where"))
      .def("__repr__", [](const Filter&) { return "<sage_db._core.Filter>"; });

  py::class_<Selection>(m, "Selection")
      .def_readonly("count", &Selection::count)
      .def_property_readonly("size", [](const Selection& s) { return s.mask.size(); })
      .def("bitmap", [](const Selection& s) {
        auto b = s.bitmap();
        auto n = static_cast<py::ssize_t>(b.size());
        return to_numpy(std::move(b), {n});
      }, "Packed bitmap: bit i of byte i/8 set when slot i is selected (FAISS IDSelectorBitmap).")
      .def("slots", [](const Selection& s) {
        auto v = s.slots();
        auto n = static_cast<py::ssize_t>(v.size());
        return to_numpy(std::move(v), {n});
      });

  py::class_<Collection>(m, "CollectionCore")
      .def(py::init([](const std::vector<std::pair<std::string, size_t>>& fields, const std::string& metric,
                       const std::string& config) {
             return std::make_unique<Collection>(fields, parse_metric(metric), config);
           }),
           py::arg("fields"), py::arg("metric"), py::arg("config"))
      .def("upsert", &upsert, py::arg("ids"), py::arg("vectors"), py::arg("metadata") = py::none(),
           py::arg("texts") = py::none())
      .def("upsert_begin", &upsert_begin, py::arg("ids"), py::arg("vectors"),
           py::arg("metadata") = py::none(), py::arg("texts") = py::none())
      .def("upsert_finish", &Collection::finish_upsert, py::call_guard<py::gil_scoped_release>())
      .def_property_readonly("upsert_pending", &Collection::upsert_pending)
      .def("staged_vectors", [](py::object self, py::handle field) {
        Collection& c = self.cast<Collection&>();
        const size_t f = field_arg(c, field);
        size_t n = 0;
        const float* p = c.staged_rows(f, n);
        // A view into C++ memory, valid until upsert_finish: use it at once.
        return py::array_t<float>({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(c.field(f).dim())},
                                  p, self);
      }, py::arg("field"))
      .def("delete", [](Collection& c, const py::list& ids) {
        auto v = to_strings(ids, "ids");
        py::gil_scoped_release nogil;
        return c.remove(v);
      }, py::arg("ids"))
      .def("attach_wal", &Collection::attach_wal, py::arg("path"), py::arg("sync") = true,
           py::call_guard<py::gil_scoped_release>())
      .def("detach_wal", &Collection::detach_wal)
      .def("reset_wal", &Collection::reset_wal, py::arg("path"), py::arg("sync") = true,
           py::call_guard<py::gil_scoped_release>())
      .def("replay_wal", [](Collection& c, const std::string& path, size_t offset, int64_t expected_base) {
        ReplayInfo info;
        {
          py::gil_scoped_release nogil;
          info = c.replay_wal(path, offset, expected_base);
        }
        py::dict d;
        d["status"] = info.status == ScanStatus::Ok ? "ok" : (info.status == ScanStatus::TornTail ? "torn_tail" : "corrupt");
        d["offset"] = info.offset;
        d["base_lsn"] = info.base_lsn;
        d["applied"] = info.applied;
        d["message"] = info.message;
        d["reset"] = info.reset;
        return d;
      }, py::arg("path"), py::arg("offset") = 0, py::arg("expected_base") = -1)
      .def("snapshot", [](const Collection& c, const py::object& blobs) {
        std::vector<py::buffer_info> keep;
        auto b = to_blobs(blobs, keep);
        std::vector<uint8_t> out;
        {
          py::gil_scoped_release nogil;
          out = c.snapshot(b);
        }
        return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
      }, py::arg("index_blobs") = py::none())
      .def("write_snapshot", [](const Collection& c, const std::string& path, const py::object& blobs) {
        std::vector<py::buffer_info> keep;
        auto b = to_blobs(blobs, keep);
        py::gil_scoped_release nogil;
        write_file_atomic(path, c.snapshot(b));
      }, py::arg("path"), py::arg("index_blobs") = py::none())
      .def("load_snapshot_file", [](Collection& c, const std::string& path) {
        std::vector<std::pair<std::string, std::string>> blobs;
        {
          py::gil_scoped_release nogil;
          MappedFile data(path);
          blobs = c.load_snapshot(data.data(), data.size(), "snapshot '" + path + "'");
        }
        return from_blobs(blobs);
      }, py::arg("path"))
      .def("load_snapshot_bytes", [](Collection& c, const py::bytes& data) {
        std::string_view v = data;
        std::vector<std::pair<std::string, std::string>> blobs;
        {
          py::gil_scoped_release nogil;
          blobs = c.load_snapshot(reinterpret_cast<const uint8_t*>(v.data()), v.size(), "snapshot bytes");
        }
        return from_blobs(blobs);
      }, py::arg("data"))
      .def("compact", &Collection::compact, py::call_guard<py::gil_scoped_release>())
      .def("select", [](const Collection& c, const Filter* f) {
        py::gil_scoped_release nogil;
        return c.select(f ? f->root.get() : nullptr);
      }, py::arg("where") = nullptr)
      .def("vectors", [](py::object self, py::handle field, size_t start, size_t stop) {
        Collection& c = self.cast<Collection&>();
        const size_t f = field_arg(c, field);
        stop = std::min(stop, c.n_slots());
        start = std::min(start, stop);
        const VectorStore& vs = c.field(f);
        // A view into C++ memory, valid until the next write: use it at once.
        return py::array_t<float>({static_cast<py::ssize_t>(stop - start), static_cast<py::ssize_t>(vs.dim())},
                                  vs.data() + start * vs.dim(), self);
      }, py::arg("field"), py::arg("start"), py::arg("stop"))
      .def("prepare_queries", [](const Collection& c, py::handle field, const FloatArray& q) {
        const size_t f = field_arg(c, field);
        size_t nq;
        auto v = prepare_queries(c, f, q, nq);
        return to_numpy(std::move(v), {static_cast<py::ssize_t>(nq), static_cast<py::ssize_t>(c.field(f).dim())});
      }, py::arg("field"), py::arg("queries"))
      .def("exact_search", &exact_search, py::arg("field"), py::arg("queries"), py::arg("k"),
           py::arg("selection") = nullptr)
      .def("resolve", &resolve, py::arg("labels"), py::arg("scores"), py::arg("k"),
           py::arg("selection") = nullptr)
      .def("score_slots", [](const Collection& c, py::handle field, const FloatArray& q, const LabelArray& slots) {
        const size_t f = field_arg(c, field);
        size_t nq;
        auto qv = prepare_queries(c, f, q, nq);
        if (nq != 1) throw py::value_error("score_slots takes one query vector");
        const int64_t* s = slots.data();
        const size_t n = static_cast<size_t>(slots.size());
        for (size_t i = 0; i < n; ++i)
          if (s[i] < 0 || static_cast<size_t>(s[i]) >= c.n_slots()) throw py::index_error("slot out of range");
        std::vector<float> out(n);
        {
          py::gil_scoped_release nogil;
          score_slots(c.field(f), c.metric(), qv.data(), s, n, out.data());
        }
        return to_numpy(std::move(out), {static_cast<py::ssize_t>(n)});
      }, py::arg("field"), py::arg("query"), py::arg("slots"))
      .def("bm25_search", [](const Collection& c, const std::string& query, size_t k, const Selection* sel) {
        const uint8_t* mask = mask_of(sel, c);
        std::vector<std::pair<int64_t, float>> res;
        {
          py::gil_scoped_release nogil;
          res = c.bm25().search(query, k, mask);
        }
        return pairs_to_arrays(std::move(res));
      }, py::arg("query"), py::arg("k"), py::arg("selection") = nullptr)
      .def("bm25_scores", [](const Collection& c, const std::string& query, const LabelArray& slots) {
        std::vector<int64_t> s(slots.data(), slots.data() + slots.size());
        auto v = c.bm25().score_slots(query, s);
        return to_numpy(std::move(v), {static_cast<py::ssize_t>(s.size())});
      }, py::arg("query"), py::arg("slots"))
      .def("set_bm25_params", [](Collection& c, double k1, double b) {
        c.bm25().k1 = k1;
        c.bm25().b = b;
      }, py::arg("k1"), py::arg("b"))
      .def("fuse", [](const Collection&, const py::list& lists, const std::string& method, size_t k, double rrf_k) {
        std::vector<RankedList> ls;
        for (auto item : lists) {
          auto t = item.cast<py::tuple>();
          RankedList l;
          auto s = LabelArray::ensure(t[0]);
          auto f = FloatArray::ensure(t[1]);
          l.slots.assign(s.data(), s.data() + s.size());
          l.scores.assign(f.data(), f.data() + f.size());
          if (l.slots.size() != l.scores.size()) throw py::value_error("slots and scores differ in length");
          l.higher_is_better = t[2].cast<bool>();
          l.weight = t[3].cast<double>();
          ls.push_back(std::move(l));
        }
        std::vector<std::pair<int64_t, float>> res;
        if (method == "rrf") res = fuse_rrf(ls, rrf_k, k);
        else if (method == "weighted") res = fuse_weighted(ls, k);
        else throw py::value_error("unknown fusion '" + method + "'; use 'rrf' or 'weighted'");
        return pairs_to_arrays(std::move(res));
      }, py::arg("lists"), py::arg("method"), py::arg("k"), py::arg("rrf_k") = 60.0)
      .def("ids_of", [](const Collection& c, const LabelArray& slots) {
        py::list out;
        const int64_t* s = slots.data();
        for (py::ssize_t i = 0; i < slots.size(); ++i) {
          if (s[i] < 0 || static_cast<size_t>(s[i]) >= c.n_slots()) throw py::index_error("slot out of range");
          out.append(py::str(c.id_of(static_cast<size_t>(s[i]))));
        }
        return out;
      }, py::arg("slots"))
      .def("slots_of", [](const Collection& c, const py::list& ids) {
        auto v = to_strings(ids, "ids");
        std::vector<int64_t> out(v.size());
        for (size_t i = 0; i < v.size(); ++i) out[i] = c.slot_of(v[i]);
        return to_numpy(std::move(out), {static_cast<py::ssize_t>(v.size())});
      }, py::arg("ids"))
      .def("record", [](const Collection& c, int64_t slot) {
        if (slot < 0 || static_cast<size_t>(slot) >= c.n_slots()) throw py::index_error("slot out of range");
        const size_t s = static_cast<size_t>(slot);
        py::dict d;
        d["id"] = c.id_of(s);
        d["metadata"] = from_meta_row(c.metadata().row(s));
        d["text"] = c.has_text(s) ? py::object(py::str(c.text(s))) : py::object(py::none());
        return d;
      }, py::arg("slot"))
      .def("__contains__", [](const Collection& c, const std::string& id) { return c.slot_of(id) >= 0; })
      .def_property_readonly("count", &Collection::count)
      .def_property_readonly("n_slots", &Collection::n_slots)
      .def_property_readonly("n_dead", &Collection::n_dead)
      .def_property_readonly("lsn", &Collection::lsn)
      .def_property_readonly("layout_version", &Collection::layout_version)
      .def_property_readonly("has_wal", &Collection::has_wal)
      .def_property_readonly("metric", [](const Collection& c) { return metric_name(c.metric()); })
      .def_property_readonly("config", &Collection::config)
      .def_property_readonly("fields", [](const Collection& c) {
        std::vector<std::pair<std::string, size_t>> out;
        for (size_t i = 0; i < c.n_fields(); ++i) out.emplace_back(c.field(i).name(), c.field(i).dim());
        return out;
      })
      .def_property_readonly("bm25_stats", [](const Collection& c) {
        py::dict d;
        d["n_docs"] = c.bm25().n_docs();
        d["vocab_size"] = c.bm25().vocab_size();
        d["avgdl"] = c.bm25().avgdl();
        d["k1"] = c.bm25().k1;
        d["b"] = c.bm25().b;
        return d;
      })
      .def("__repr__", [](const Collection& c) {
        return "<sage_db._core.CollectionCore count=" + std::to_string(c.count()) +
               " slots=" + std::to_string(c.n_slots()) + " metric=" + metric_name(c.metric()) + ">";
      });
}
