// Seeded random-mutation fuzz of the safetensors header parser (parse_header). Starts from real
// files (the qwen3vl-tiny checkpoint and references) plus a small synthetic one, mutates the length
// field, header bytes and file length, and requires every outcome to be either a valid Header whose
// tensors lie inside the data section, or a SafetensorsError. Anything else (another exception, a
// crash, an ASan report) fails. Also checks hand-made corruptions map to the expected error codes.
// Usage: safetensors_fuzz <file.safetensors>... [--iters N] [--seed S]  -> prints a JSON summary.
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../src/safetensors/safetensors.h"

using namespace cosmos;
using Bytes = std::vector<uint8_t>;

static Bytes read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

static Bytes make_file(const std::string& json, size_t data_len) {
  std::string h = json;
  while ((8 + h.size()) % 8) h += ' ';
  Bytes b(8 + h.size() + data_len, 0);
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) b[i] = (uint8_t)(n >> (8 * i));
  std::memcpy(b.data() + 8, h.data(), h.size());
  return b;
}

static int failures = 0;
static std::map<std::string, int> outcomes;

// Returns "OK" or the error code; counts a failure for anything that is not a SafetensorsError.
static std::string check(const Bytes& b) {
  try {
    Header h = parse_header(b.data(), b.size());
    uint64_t data_len = b.size() - 8 - h.header_len;
    for (auto& t : h.tensors)
      if (t.end > data_len || t.begin > t.end) {
        ++failures;
        std::fprintf(stderr, "accepted a tensor outside the data section\n");
      }
    return "OK";
  } catch (const SafetensorsError& e) {
    return st_err_code(e.code);
  } catch (const std::exception& e) {
    ++failures;
    std::fprintf(stderr, "non-typed exception: %s\n", e.what());
    return "OTHER";
  }
}

static void expect(const char* what, const Bytes& b, const std::string& code) {
  std::string got = check(b);
  if (got != code) {
    ++failures;
    std::fprintf(stderr, "case '%s': expected %s, got %s\n", what, code.c_str(), got.c_str());
  }
}

int main(int argc, char** argv) {
  std::vector<Bytes> seeds;
  long iters = 20000;
  unsigned seed = 1234;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--iters" && i + 1 < argc)
      iters = std::atol(argv[++i]);
    else if (a == "--seed" && i + 1 < argc)
      seed = (unsigned)std::atol(argv[++i]);
    else
      seeds.push_back(read_file(a));
  }
  const std::string good =
      R"({"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"BF16","shape":[4],"data_offsets":[24,32]}})";
  seeds.push_back(make_file(good, 32));

  // Hand-made corruptions with the error class each must give.
  expect("valid synthetic", make_file(good, 32), "OK");
  expect("empty file", Bytes{}, "HEADER_SIZE");
  expect(
      "length past end",
      [] {
        Bytes b(16, 0);
        b[0] = 200;
        return b;
      }(),
      "HEADER_SIZE");
  expect(
      "huge length",
      [] {
        Bytes b(16, 0xFF);
        return b;
      }(),
      "HEADER_SIZE");
  expect("not json", make_file("{\"a\":", 0), "HEADER_JSON");
  expect("unknown dtype", make_file(R"({"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}})", 4), "DTYPE");
  expect("shape vs bytes", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", 4), "SHAPE_BYTES");
  expect("offset past data", make_file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "OFFSETS");
  expect(
      "overlap",
      make_file(
          R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
          8),
      "OFFSETS");
  expect("hole", make_file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8), "OFFSETS");
  expect("negative dim", make_file(R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4), "HEADER_SCHEMA");
  expect("overflowing shape",
         make_file(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,4]}})", 4),
         "SHAPE_BYTES");
  {
    Bytes b = make_file(good, 32);  // unaligned data start: header one byte longer than padded
    std::string h = good + " ";
    while ((8 + h.size()) % 8 != 1) h += ' ';
    b = Bytes(8 + h.size() + 32, 0);
    for (int i = 0; i < 8; ++i) b[i] = (uint8_t)((uint64_t)h.size() >> (8 * i));
    std::memcpy(b.data() + 8, h.data(), h.size());
    expect("unaligned data start", b, "ALIGNMENT");
  }

  std::mt19937_64 rng(seed);
  auto rnd = [&](uint64_t n) { return n ? rng() % n : 0; };
  const char* tokens[] = {"{",
                          "}",
                          "[",
                          "]",
                          ",",
                          ":",
                          "\"",
                          "\\",
                          "-1",
                          "0",
                          "1e308",
                          "18446744073709551615",
                          "null",
                          "true",
                          "\"F32\"",
                          "\"BF16\"",
                          "\"dtype\"",
                          "\"shape\"",
                          "\"data_offsets\"",
                          "\\u0000",
                          "\xff"};
  for (long it = 0; it < iters; ++it) {
    Bytes b = seeds[rnd(seeds.size())];
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | b[i];
    size_t hend = (size_t)std::min<uint64_t>(8 + n, b.size());
    int muts = 1 + (int)rnd(4);
    for (int m = 0; m < muts; ++m) {
      switch (rnd(7)) {
        case 0:  // flip a header byte
          if (hend > 8) b[8 + rnd(hend - 8)] ^= (uint8_t)(1 + rnd(255));
          break;
        case 1: {  // overwrite a header byte with a token's bytes
          if (hend <= 8) break;
          const char* t = tokens[rnd(sizeof(tokens) / sizeof(tokens[0]))];
          size_t at = 8 + rnd(hend - 8);
          for (size_t k = 0; t[k] && at + k < hend; ++k) b[at + k] = (uint8_t)t[k];
          break;
        }
        case 2:  // change the length field a little or a lot
          b[rnd(8)] ^= (uint8_t)(1 << rnd(8));
          break;
        case 3:  // truncate the file
          b.resize(rnd(b.size() + 1));
          break;
        case 4: {  // append junk
          size_t k = 1 + rnd(64);
          for (size_t i = 0; i < k; ++i) b.push_back((uint8_t)rnd(256));
          break;
        }
        case 5: {  // change a digit inside the header (offsets, shapes)
          if (hend <= 8) break;
          for (int tries = 0; tries < 32; ++tries) {
            size_t at = 8 + rnd(hend - 8);
            if (at < b.size() && b[at] >= '0' && b[at] <= '9') {
              b[at] = (uint8_t)('0' + rnd(10));
              break;
            }
          }
          break;
        }
        case 6: {  // delete a header byte and keep the length field (JSON shifts)
          if (hend > 9 && hend <= b.size()) b.erase(b.begin() + 8 + rnd(hend - 8));
          break;
        }
      }
    }
    outcomes[check(b)]++;
  }
  std::printf("{\"iterations\":%ld,\"seed\":%u,\"failures\":%d,\"outcomes\":{", iters, seed, failures);
  bool first = true;
  for (auto& kv : outcomes) {
    std::printf("%s\"%s\":%d", first ? "" : ",", kv.first.c_str(), kv.second);
    first = false;
  }
  std::printf("}}\n");
  return failures ? 1 : 0;
}
