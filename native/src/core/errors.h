// The engine's error types, shared by every model and the binding (which maps each to its JS error).
// They live in core/ so a model family, a layer or the runtime can throw them without including
// another model's header.
#pragma once
#include <stdexcept>

namespace cosmos {

// Bad checkpoint, config or call arguments: the message names the field and what was expected.
struct ModelError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The caller's abort flag was seen between layers, blocks or tokens.
struct AbortedError : std::runtime_error {
  AbortedError() : std::runtime_error("aborted") {}
};

}  // namespace cosmos
