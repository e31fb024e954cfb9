#include "config.h"

namespace cosmos {

Json parse_config_object(const std::string& text) {
  Json root;
  try {
    root = json_parse(text.data(), text.size(), 64);
  } catch (const JsonError& e) {
    throw ModelError(std::string("config JSON: ") + e.what());
  }
  if (!root.is_obj()) throw ModelError("config JSON is not an object");
  return root;
}

int config_positive_int(const Json& obj, const char* key, const std::string& where, int fallback) {
  const Json* v = obj.get(key);
  if (!v && fallback >= 0) return fallback;
  if (!v || !v->is_num() || !v->is_integer || v->i64 <= 0 || v->i64 > (1 << 30))
    throw ModelError(where + "." + key + " must be a positive integer");
  return (int)v->i64;
}

}  // namespace cosmos
