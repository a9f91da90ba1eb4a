// CRC-32 (IEEE), as zlib.crc32: zlib's implementation when available, else slicing-by-8.
#include "binio.hpp"

#ifdef SAGEDB_HAVE_ZLIB
#include <zlib.h>
#endif

namespace sagedb {

#ifdef SAGEDB_HAVE_ZLIB
uint32_t crc32(const uint8_t* p, size_t len, uint32_t crc) {
  return static_cast<uint32_t>(::crc32_z(crc, p, len));
}
#else
namespace {

struct Tables {
  uint32_t t[8][256];
  Tables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i)
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
  }
};
const Tables kTables;

}  // namespace

uint32_t crc32(const uint8_t* p, size_t len, uint32_t crc) {
  const auto& t = kTables.t;
  crc = ~crc;
  while (len >= 8) {
    uint32_t a, b;
    std::memcpy(&a, p, 4);
    std::memcpy(&b, p + 4, 4);
    a ^= crc;
    crc = t[7][a & 0xFF] ^ t[6][(a >> 8) & 0xFF] ^ t[5][(a >> 16) & 0xFF] ^ t[4][a >> 24] ^
          t[3][b & 0xFF] ^ t[2][(b >> 8) & 0xFF] ^ t[1][(b >> 16) & 0xFF] ^ t[0][b >> 24];
    p += 8;
    len -= 8;
  }
  while (len--) crc = t[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
  return ~crc;
}

#endif

}  // namespace sagedb
