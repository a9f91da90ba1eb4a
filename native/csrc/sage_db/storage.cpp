// Checksummed framing, scanning and durable file I/O (see storage.hpp for the layout).
#include "storage.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <system_error>

#include "binio.hpp"

namespace sagedb {

namespace {
[[noreturn]] void sys_error(const std::string& what, const std::string& path) {
  throw std::runtime_error(what + " '" + path + "': " + std::strerror(errno));
}

void write_all(int fd, const uint8_t* p, size_t n, const std::string& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      sys_error("cannot write", path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

std::string dir_of(const std::string& path) {
  auto pos = path.find_last_of('/');
  return pos == std::string::npos ? "." : (pos == 0 ? "/" : path.substr(0, pos));
}
}  // namespace

std::vector<uint8_t> encode_header(const char* magic, uint64_t base_lsn, const std::string& config) {
  ByteWriter w;
  w.raw(magic, 8);
  w.u32(kFormatVersion);
  w.u64(base_lsn);
  w.str(config);
  w.u32(crc32(w.buf.data(), w.buf.size()));
  return w.buf;
}

FileHeader decode_header(const uint8_t* data, size_t n, const char* magic, const std::string& what) {
  if (n < 8 || std::memcmp(data, magic, 8) != 0)
    throw CorruptionError(what + ": not a sage_db file (bad magic bytes)");
  ByteReader r(data, n);
  FileHeader h;
  try {
    r.span(8);
    h.version = r.u32();
    if (h.version != kFormatVersion)
      throw CorruptionError(what + ": format version " + std::to_string(h.version) +
                               " is not supported (this build reads version " +
                               std::to_string(kFormatVersion) + ")");
    h.base_lsn = r.u64();
    h.config = r.str();
    const size_t body = r.pos();
    const uint32_t stored = r.u32();
    if (stored != crc32(data, body))
      throw CorruptionError(what + ": header checksum mismatch (file is damaged)");
    h.size = r.pos();
  } catch (const DecodeError&) {
    throw CorruptionError(what + ": header is truncated");
  }
  return h;
}

void frame_record(std::vector<uint8_t>& out, uint8_t type, uint64_t lsn,
                  const std::vector<uint8_t>& payload) {
  const uint32_t len = static_cast<uint32_t>(payload.size());
  uint8_t head[kRecordHeader];
  std::memcpy(head, &len, 4);
  head[8] = type;
  std::memcpy(head + 9, &lsn, 8);
  uint32_t c = crc32(head, 4);
  c = crc32(head + 8, 9, c);
  c = crc32(payload.data(), payload.size(), c);
  std::memcpy(head + 4, &c, 4);
  out.insert(out.end(), head, head + kRecordHeader);
  out.insert(out.end(), payload.begin(), payload.end());
}

void frame_head(uint8_t (&head)[kRecordHeader], uint8_t type, uint64_t lsn,
                const std::vector<Piece>& payload) {
  size_t total = 0;
  for (const auto& p : payload) total += p.size;
  if (total > 0xFFFFFFFFull)
    throw std::invalid_argument("one write may hold at most 4 GiB of data; split the upsert");
  const uint32_t len = static_cast<uint32_t>(total);
  std::memcpy(head, &len, 4);
  head[8] = type;
  std::memcpy(head + 9, &lsn, 8);
  uint32_t c = crc32(head, 4);
  c = crc32(head + 8, 9, c);
  for (const auto& p : payload) c = crc32(static_cast<const uint8_t*>(p.data), p.size, c);
  std::memcpy(head + 4, &c, 4);
}

ScanResult scan_records(const uint8_t* data, size_t n, size_t offset,
                        const std::function<void(uint8_t, uint64_t, const uint8_t*, size_t)>& fn) {
  ScanResult res;
  size_t pos = offset;
  auto zeros_from = [&](size_t p) {
    for (size_t i = p; i < n; ++i)
      if (data[i] != 0) return false;
    return true;
  };
  while (pos < n) {
    if (n - pos < kRecordHeader) {
      res.status = ScanStatus::TornTail;
      res.message = "incomplete record header at offset " + std::to_string(pos);
      break;
    }
    uint32_t len, stored;
    std::memcpy(&len, data + pos, 4);
    std::memcpy(&stored, data + pos + 4, 4);
    if (len > n - pos - kRecordHeader) {
      res.status = ScanStatus::TornTail;
      res.message = "record at offset " + std::to_string(pos) + " is cut short (needs " +
                    std::to_string(len) + " payload bytes, file has " +
                    std::to_string(n - pos - kRecordHeader) + ")";
      break;
    }
    uint32_t c = crc32(data + pos, 4);
    c = crc32(data + pos + 8, 9 + len, c);
    if (c != stored) {
      const size_t end = pos + kRecordHeader + len;
      if (end == n || zeros_from(pos)) {
        res.status = ScanStatus::TornTail;
        res.message = "last record at offset " + std::to_string(pos) + " fails its checksum";
      } else {
        res.status = ScanStatus::Corrupt;
        res.message = "record at offset " + std::to_string(pos) +
                      " fails its checksum and intact data follows it";
      }
      break;
    }
    uint8_t type = data[pos + 8];
    uint64_t lsn;
    std::memcpy(&lsn, data + pos + 9, 8);
    fn(type, lsn, data + pos + kRecordHeader, len);
    pos += kRecordHeader + len;
  }
  res.good_end = pos;
  return res;
}

std::vector<uint8_t> read_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) sys_error("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    sys_error("cannot stat", path);
  }
  std::vector<uint8_t> buf(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  buf.resize(got);
  return buf;
}

std::vector<uint8_t> read_header_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open '" + path + "'");
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    throw std::system_error(err, std::generic_category(), "cannot stat '" + path + "'");
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    throw std::system_error(EISDIR, std::generic_category(), "cannot read '" + path + "'");
  }
  const size_t file_size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> buf;
  auto read_to = [&](size_t want) {  // reads up to `want` bytes in total, never past the end
    want = std::min(want, file_size);
    const size_t got = buf.size();
    buf.resize(want);
    size_t pos = got;
    while (pos < want) {
      ssize_t r = ::pread(fd, buf.data() + pos, want - pos, static_cast<off_t>(pos));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      pos += static_cast<size_t>(r);
    }
    buf.resize(pos);
  };
  read_to(24);  // magic[8] | u32 version | u64 base_lsn | u32 config_len
  if (buf.size() == 24) {
    uint32_t config_len;
    std::memcpy(&config_len, buf.data() + 20, 4);
    read_to(24 + static_cast<size_t>(config_len) + 4);
  }
  ::close(fd);
  return buf;
}

MappedFile::MappedFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) sys_error("cannot open", path);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    sys_error("cannot stat", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    if (p != MAP_FAILED) {
      ::madvise(p, size_, MADV_SEQUENTIAL);
      data_ = static_cast<const uint8_t*>(p);
      mapped_ = true;
    }
  }
  ::close(fd);
  if (!mapped_) {
    fallback_ = read_file(path);
    data_ = fallback_.data();
    size_ = fallback_.size();
  }
}

MappedFile::~MappedFile() {
  if (mapped_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) sys_error("cannot create", tmp);
  write_all(fd, bytes.data(), bytes.size(), tmp);
  if (::fsync(fd) != 0) {
    ::close(fd);
    sys_error("cannot fsync", tmp);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) sys_error("cannot rename onto", path);
  int dfd = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

void truncate_file(const std::string& path, size_t size) {
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) sys_error("cannot truncate", path);
}

WalWriter::WalWriter(const std::string& path, bool sync) : path_(path), sync_(sync) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) sys_error("cannot open write-ahead log", path);
}

WalWriter::~WalWriter() {
  if (fd_ >= 0) ::close(fd_);
}

void WalWriter::append(const std::vector<uint8_t>& bytes) {
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  try {
    write_all(fd_, bytes.data(), bytes.size(), path_);
    if (sync_ && ::fdatasync(fd_) != 0) sys_error("cannot fdatasync", path_);
  } catch (...) {
    // A failed append (disk full, I/O error) must not leave half a record behind.
    if (before >= 0 && ::ftruncate(fd_, before) != 0) {
    }
    throw;
  }
}

void WalWriter::append_pieces(const std::vector<Piece>& pieces) {
  const off_t before = ::lseek(fd_, 0, SEEK_END);
  try {
    std::vector<iovec> iov;
    iov.reserve(pieces.size());
    for (const auto& p : pieces)
      if (p.size) iov.push_back({const_cast<void*>(p.data), p.size});
    size_t i = 0;
    while (i < iov.size()) {
      const int cnt = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
      ssize_t w = ::writev(fd_, iov.data() + i, cnt);
      if (w < 0) {
        if (errno == EINTR) continue;
        sys_error("cannot write", path_);
      }
      size_t left = static_cast<size_t>(w);
      while (i < iov.size() && left >= iov[i].iov_len) left -= iov[i++].iov_len;
      if (left) {
        iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
      }
    }
    if (sync_ && ::fdatasync(fd_) != 0) sys_error("cannot fdatasync", path_);
  } catch (...) {
    if (before >= 0 && ::ftruncate(fd_, before) != 0) {
    }
    throw;
  }
}

}  // namespace sagedb
