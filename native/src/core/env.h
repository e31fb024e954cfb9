// On/off switches from the environment (COSMOS_* variables that pick an engine path: a form to compare against, or an
// opt-in). Read at every call, so tests can flip them between calls; a getenv costs nothing next to the work each
// guards.
#pragma once
#include <cstdlib>
#include <cstring>

namespace cosmos {

// `name` = "0": off, "1": on; unset or any other value: `fallback`.
inline bool env_switch(const char* name, bool fallback) {
  const char* e = std::getenv(name);
  if (e && std::strcmp(e, "0") == 0) return false;
  if (e && std::strcmp(e, "1") == 0) return true;
  return fallback;
}

}  // namespace cosmos
