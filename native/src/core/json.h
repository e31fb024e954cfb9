// Minimal JSON reader for safetensors headers and config.json. Strict (RFC 8259), bounded recursion,
// throws JsonError with a byte offset on anything malformed — the fuzz test relies on "throw, never crash".
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cosmos {

struct JsonError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool b = false;
  double num = 0;
  bool is_integer = false;  // literal had no fraction/exponent and fits int64
  int64_t i64 = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;  // insertion order kept; duplicate keys rejected

  const Json* get(const std::string& key) const;  // nullptr when missing or not an object
  bool is_obj() const { return type == Type::Object; }
  bool is_arr() const { return type == Type::Array; }
  bool is_num() const { return type == Type::Number; }
  bool is_str() const { return type == Type::String; }
};

// Parses the whole buffer (trailing whitespace allowed, anything else is an error). max_depth bounds nesting.
Json json_parse(const char* data, size_t len, int max_depth = 64);

}  // namespace cosmos
