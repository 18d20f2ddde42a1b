#include "common/shard.h"

#include <cstdint>
#include <regex>

#include "common/digest.h"

bool parse_shard(const std::string& text, Shard* shard, std::string* err) {
  std::smatch parts;
  if (std::regex_match(text, parts, std::regex("([0-9]{1,9})/([0-9]{1,9})"))) {
    unsigned index = std::stoul(parts[1]), count = std::stoul(parts[2]);
    if (index >= 1 && index <= count) {
      *shard = Shard{index, count};
      return true;
    }
  }
  *err = "--shard is not K/N with 1 <= K <= N '" + text + "'";
  return false;
}

unsigned shard_of(const std::string& model_type, unsigned count) {
  uint64_t number = std::stoull(digest::sha256_hex(model_type).substr(0, 16), nullptr, 16);
  return static_cast<unsigned>(number % count) + 1;
}
