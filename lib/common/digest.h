// SHA-256 and SHA-1: the digest a generated file carries of its own text, and the
// checks of files downloaded from the Hub (SHA-256 of LFS files, git's blob SHA-1 of
// the others).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace digest {

/// A hash fed in pieces, as a download arrives: update() any number of times, then
/// hex() once.
class Hasher {
 public:
  enum class Kind { kSha1, kSha256 };
  explicit Hasher(Kind kind);
  Hasher& update(std::string_view data);
  /// The digest as lower-case hex (what `sha256sum` or `sha1sum` print); the hasher is
  /// spent afterwards.
  std::string hex();

 private:
  void compress(const unsigned char* block);
  Kind kind_;
  std::array<uint32_t, 8> state_;
  std::array<unsigned char, 64> pending_;
  size_t pending_size_ = 0;
  uint64_t length_ = 0;
};

/// The SHA-256 of `data` as 64 lower-case hex digits (what `sha256sum` prints).
std::string sha256_hex(const std::string& data);

}  // namespace digest
