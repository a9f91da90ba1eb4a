// On-disk framing shared by the write-ahead log and snapshots: file headers, checksummed
// records, scanning with torn-tail detection, durable appends and atomic file replacement.
// Knows nothing about what record payloads mean (records.hpp does).
//
// File header:  magic[8] | u32 format_version | u64 base_lsn | u32 config_len | config
//               | u32 crc32(all preceding header bytes)
// Record:       u32 payload_len | u32 crc32(payload_len, type, lsn, payload) | u8 type
//               | u64 lsn | payload
// All integers little-endian.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

namespace sagedb {

constexpr uint32_t kFormatVersion = 1;

// A file is damaged (bad magic, checksum, truncation) or inconsistent with another file.
struct CorruptionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
constexpr char kWalMagic[9] = "SAGEWAL\0";
constexpr char kSnapMagic[9] = "SAGESNP\0";
constexpr size_t kRecordHeader = 17;

enum RecordType : uint8_t {
  kUpsert = 1,
  kDelete = 2,
  kSnapChunk = 3,
  kSnapIndex = 4,
  kSnapEnd = 5,
};

struct FileHeader {
  uint32_t version = 0;
  uint64_t base_lsn = 0;
  std::string config;
  size_t size = 0;  // header bytes, i.e. offset of the first record
};

std::vector<uint8_t> encode_header(const char* magic, uint64_t base_lsn, const std::string& config);
// Throws std::runtime_error with a message naming `what` when the header is bad.
FileHeader decode_header(const uint8_t* data, size_t n, const char* magic, const std::string& what);

void frame_record(std::vector<uint8_t>& out, uint8_t type, uint64_t lsn,
                  const std::vector<uint8_t>& payload);

// A byte range that is part of a record payload (not owned).
struct Piece {
  const void* data;
  size_t size;
};

// The 17-byte record head for a payload given as consecutive pieces (checksum over all).
void frame_head(uint8_t (&head)[kRecordHeader], uint8_t type, uint64_t lsn,
                const std::vector<Piece>& payload);

enum class ScanStatus { Ok, TornTail, Corrupt };

struct ScanResult {
  ScanStatus status = ScanStatus::Ok;
  size_t good_end = 0;  // offset just past the last intact record
  std::string message;
};

// Walks records from `offset`; calls fn(type, lsn, payload, len) for each intact record.
// An incomplete or checksum-failing record that reaches the end of the data (or is followed
// only by zero bytes) is a torn tail; a checksum failure with intact data after it is
// corruption. Either stops the scan at good_end.
ScanResult scan_records(const uint8_t* data, size_t n, size_t offset,
                        const std::function<void(uint8_t, uint64_t, const uint8_t*, size_t)>& fn);

std::vector<uint8_t> read_file(const std::string& path);
// Only the header bytes of a log or snapshot (magic .. header crc, or fewer if the file is
// shorter), not the records behind them. An unopenable file throws std::system_error.
std::vector<uint8_t> read_header_bytes(const std::string& path);

// A whole file mapped read-only (no copy, no zero-fill). Only for files that are replaced by
// rename and never cut in place (snapshots): a mapping of a file truncated under it faults.
class MappedFile {
 public:
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool mapped_ = false;
  std::vector<uint8_t> fallback_;
};
// Writes to path + ".tmp", fsyncs, renames over path and fsyncs the directory.
void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes);
void truncate_file(const std::string& path, size_t size);

// Append-only log file. Each append is one write() followed by fdatasync() when `sync`.
class WalWriter {
 public:
  WalWriter(const std::string& path, bool sync);
  ~WalWriter();
  WalWriter(const WalWriter&) = delete;
  WalWriter& operator=(const WalWriter&) = delete;
  void append(const std::vector<uint8_t>& bytes);
  // One record written with a single writev() straight from the pieces (no copy), then one
  // fdatasync() when `sync`. On failure the file is cut back to its previous length.
  void append_pieces(const std::vector<Piece>& pieces);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool sync_;
};

}  // namespace sagedb
