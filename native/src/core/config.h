// config.json reading shared by every model family: the document as one JSON object, and the field
// readers that turn a missing or malformed field into a ModelError naming it ("text_config.head_dim
// must be a positive integer").
#pragma once
#include <string>

#include "errors.h"
#include "json.h"

namespace cosmos {

// A model config.json parsed as a JSON object (depth-limited); ModelError when it is not one.
Json parse_config_object(const std::string& text);

// obj[key] as an int in [1, 2^30]. Missing: `fallback` when given (>= 0), else ModelError. Present but not
// a positive integer: ModelError "<where>.<key> must be a positive integer".
int config_positive_int(const Json& obj, const char* key, const std::string& where, int fallback = -1);

}  // namespace cosmos
