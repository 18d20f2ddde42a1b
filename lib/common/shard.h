// Splitting one run's test plans over machines: run-tests --shard K/N.
#pragma once

#include <string>

/// Shard `index` of `count`, 1-based: the plans of the model types shard_of() puts there.
struct Shard {
  unsigned index = 1;
  unsigned count = 1;
};

/// Reads "K/N" (1 <= K <= N, decimal) into `*shard`.
bool parse_shard(const std::string& text, Shard* shard, std::string* err);

/// The shard (1..count) that runs `model_type`'s plans: the first 8 bytes of the SHA-256
/// of its name, as a number, modulo count. It depends on the name alone, so every
/// machine agrees whatever order or set of plans it reads, and a model type stays on
/// its machine (and its warm caches) when others are added to the suite.
unsigned shard_of(const std::string& model_type, unsigned count);
