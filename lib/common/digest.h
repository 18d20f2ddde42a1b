// SHA-256, for the digest a generated file carries of its own text.
#pragma once

#include <string>

namespace digest {

/// The SHA-256 of `data` as 64 lower-case hex digits (what `sha256sum` prints).
std::string sha256_hex(const std::string& data);

}  // namespace digest
