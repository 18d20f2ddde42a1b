#include "common/digest.h"

#include <doctest/doctest.h>

TEST_CASE("sha256_hex matches the FIPS 180-4 examples") {
  CHECK(digest::sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(digest::sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(digest::sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("sha256_hex handles messages across block boundaries") {
  CHECK(digest::sha256_hex(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // 55 bytes leave room for the length in one block; 56 and 64 need a second.
  CHECK(digest::sha256_hex(std::string(55, 'x')) ==
        "d5e285683cd4efc02d021a5c62014694958901005d6f71e89e0989fac77e4072");
  CHECK(digest::sha256_hex(std::string(56, 'x')) ==
        "04c26261370ee7541549d16dee320c723e3fd14671e66a099afe0a377c16888e");
  CHECK(digest::sha256_hex(std::string(64, 'x')) ==
        "7ce100971f64e7001e8fe5a51973ecdfe1ced42befe7ee8d5fd6219506b5393c");
}

TEST_CASE("a hasher fed in pieces gives the digest of the whole") {
  std::string data;
  for (int i = 0; i < 3000; ++i) data += static_cast<char>(i * 7 % 251);
  for (size_t piece : {1u, 7u, 63u, 64u, 65u, 1000u}) {
    digest::Hasher hasher(digest::Hasher::Kind::kSha256);
    for (size_t at = 0; at < data.size(); at += piece) hasher.update(std::string_view(data).substr(at, piece));
    CHECK_MESSAGE(hasher.hex() == digest::sha256_hex(data), piece);
  }
}

TEST_CASE("sha1 matches the FIPS 180-4 examples and git's blob ids") {
  auto sha1 = [](const std::string& s) { return digest::Hasher(digest::Hasher::Kind::kSha1).update(s).hex(); };
  CHECK(sha1("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  CHECK(sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
  CHECK(sha1(std::string(1000000, 'a')) == "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
  // `printf 'hello\n' | git hash-object --stdin`
  CHECK(sha1(std::string("blob 6") + '\0' + "hello\n") == "ce013625030ba8dba906f756967f9e9ca394464a");
}
