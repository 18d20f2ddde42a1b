#include "common/shard.h"

#include <doctest/doctest.h>

#include <set>
#include <vector>

TEST_CASE("parse_shard reads K/N") {
  Shard shard;
  std::string err;
  REQUIRE(parse_shard("2/3", &shard, &err));
  CHECK(shard.index == 2);
  CHECK(shard.count == 3);
  REQUIRE(parse_shard("1/1", &shard, &err));
  CHECK(shard.count == 1);
}

TEST_CASE("parse_shard refuses K outside 1..N and anything that is not K/N, quoting it") {
  for (const char* bad : {"0/2", "3/2", "1/0", "2", "1/2/3", "-1/2", "a/b", "1 /2", "", "1/9999999999"}) {
    Shard shard;
    std::string err;
    CHECK_FALSE(parse_shard(bad, &shard, &err));
    CHECK(err == std::string("--shard is not K/N with 1 <= K <= N '") + bad + "'");
  }
}

TEST_CASE("shard_of puts every model type in exactly one shard of 1..N, the same each time") {
  std::vector<std::string> types;
  for (int i = 0; i < 300; ++i) types.push_back("type" + std::to_string(i));
  for (unsigned count : {1u, 2u, 3u, 7u}) {
    std::vector<size_t> sizes(count + 1);
    for (const auto& type : types) {
      unsigned shard = shard_of(type, count);
      REQUIRE(shard >= 1);
      REQUIRE(shard <= count);
      CHECK(shard_of(type, count) == shard);
      ++sizes[shard];
    }
    // A hash spreads them: no shard is empty or holds twice its share.
    for (unsigned k = 1; k <= count; ++k) CHECK(sizes[k] > 0);
    for (unsigned k = 1; k <= count; ++k) CHECK(sizes[k] < 2 * types.size() / count);
  }
}

TEST_CASE("shard_of is a fixed function of the name, the same on every machine") {
  // Pinned (computed with Python's hashlib): a change of hash would split a suite
  // differently on machines running different versions of the tools.
  CHECK(shard_of("bert", 2) == 1);
  CHECK(shard_of("bert", 3) == 3);
  CHECK(shard_of("t5", 2) == 2);
  CHECK(shard_of("t5", 4) == 4);
  CHECK(shard_of("whisper", 3) == 3);
  CHECK(shard_of("vit", 4) == 1);
}
