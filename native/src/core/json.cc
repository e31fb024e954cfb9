#include "json.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace cosmos {

const Json* Json::get(const std::string& key) const {
  if (type != Type::Object) return nullptr;
  for (auto& kv : obj)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

namespace {
struct Parser {
  const char* p;
  const char* end;
  const char* begin;
  int max_depth;

  [[noreturn]] void fail(const char* what) {
    throw JsonError(std::string(what) + " at byte " + std::to_string(p - begin));
  }
  void ws() {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) ++p;
  }
  bool lit(const char* s) {
    size_t n = std::strlen(s);
    if ((size_t)(end - p) >= n && std::memcmp(p, s, n) == 0) {
      p += n;
      return true;
    }
    return false;
  }
  static void put_utf8(std::string& o, uint32_t c) {
    if (c < 0x80)
      o += (char)c;
    else if (c < 0x800) {
      o += (char)(0xC0 | (c >> 6));
      o += (char)(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      o += (char)(0xE0 | (c >> 12));
      o += (char)(0x80 | ((c >> 6) & 0x3F));
      o += (char)(0x80 | (c & 0x3F));
    } else {
      o += (char)(0xF0 | (c >> 18));
      o += (char)(0x80 | ((c >> 12) & 0x3F));
      o += (char)(0x80 | ((c >> 6) & 0x3F));
      o += (char)(0x80 | (c & 0x3F));
    }
  }
  uint32_t hex4() {
    if (end - p < 4) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = *p++;
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        fail("bad hex digit in \\u escape");
    }
    return v;
  }
  std::string string() {
    if (p >= end || *p != '"') fail("expected string");
    ++p;
    std::string o;
    while (true) {
      if (p >= end) fail("unterminated string");
      unsigned char c = (unsigned char)*p++;
      if (c == '"') break;
      if (c < 0x20) fail("control character in string");
      if (c != '\\') {
        o += (char)c;
        continue;
      }
      if (p >= end) fail("truncated escape");
      char e = *p++;
      switch (e) {
        case '"':
          o += '"';
          break;
        case '\\':
          o += '\\';
          break;
        case '/':
          o += '/';
          break;
        case 'b':
          o += '\b';
          break;
        case 'f':
          o += '\f';
          break;
        case 'n':
          o += '\n';
          break;
        case 'r':
          o += '\r';
          break;
        case 't':
          o += '\t';
          break;
        case 'u': {
          uint32_t c1 = hex4();
          if (c1 >= 0xD800 && c1 < 0xDC00) {
            if (end - p < 2 || p[0] != '\\' || p[1] != 'u') fail("unpaired surrogate");
            p += 2;
            uint32_t c2 = hex4();
            if (c2 < 0xDC00 || c2 >= 0xE000) fail("bad low surrogate");
            c1 = 0x10000 + ((c1 - 0xD800) << 10) + (c2 - 0xDC00);
          } else if (c1 >= 0xDC00 && c1 < 0xE000) {
            fail("unpaired surrogate");
          }
          put_utf8(o, c1);
          break;
        }
        default:
          fail("bad escape");
      }
    }
    return o;
  }
  Json number() {
    const char* s = p;
    bool integer = true;
    if (p < end && *p == '-') ++p;
    if (p >= end) fail("bad number");
    if (*p == '0')
      ++p;
    else if (*p >= '1' && *p <= '9')
      while (p < end && *p >= '0' && *p <= '9') ++p;
    else
      fail("bad number");
    if (p < end && *p == '.') {
      integer = false;
      ++p;
      if (p >= end || !(*p >= '0' && *p <= '9')) fail("bad fraction");
      while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
      integer = false;
      ++p;
      if (p < end && (*p == '+' || *p == '-')) ++p;
      if (p >= end || !(*p >= '0' && *p <= '9')) fail("bad exponent");
      while (p < end && *p >= '0' && *p <= '9') ++p;
    }
    std::string tok(s, p);  // strtod needs a terminated copy: the buffer is an mmap, not a C string
    Json j;
    j.type = Json::Type::Number;
    j.num = std::strtod(tok.c_str(), nullptr);
    if (integer && tok.size() <= 19) {
      errno = 0;
      long long v = std::strtoll(tok.c_str(), nullptr, 10);
      if (errno == 0) {
        j.is_integer = true;
        j.i64 = v;
      }
    }
    return j;
  }
  Json value(int depth) {
    if (depth > max_depth) fail("nesting too deep");
    ws();
    if (p >= end) fail("unexpected end");
    Json j;
    char c = *p;
    if (c == '{') {
      ++p;
      j.type = Json::Type::Object;
      ws();
      if (p < end && *p == '}') {
        ++p;
        return j;
      }
      while (true) {
        ws();
        std::string k = string();
        for (auto& kv : j.obj)
          if (kv.first == k) fail("duplicate key");
        ws();
        if (p >= end || *p != ':') fail("expected ':'");
        ++p;
        j.obj.emplace_back(std::move(k), value(depth + 1));
        ws();
        if (p < end && *p == ',') {
          ++p;
          continue;
        }
        if (p < end && *p == '}') {
          ++p;
          break;
        }
        fail("expected ',' or '}'");
      }
    } else if (c == '[') {
      ++p;
      j.type = Json::Type::Array;
      ws();
      if (p < end && *p == ']') {
        ++p;
        return j;
      }
      while (true) {
        j.arr.push_back(value(depth + 1));
        ws();
        if (p < end && *p == ',') {
          ++p;
          continue;
        }
        if (p < end && *p == ']') {
          ++p;
          break;
        }
        fail("expected ',' or ']'");
      }
    } else if (c == '"') {
      j.type = Json::Type::String;
      j.str = string();
    } else if (lit("true")) {
      j.type = Json::Type::Bool;
      j.b = true;
    } else if (lit("false")) {
      j.type = Json::Type::Bool;
    } else if (lit("null")) {
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      j = number();
    } else {
      fail("unexpected character");
    }
    return j;
  }
};
}  // namespace

Json json_parse(const char* data, size_t len, int max_depth) {
  Parser ps{data, data + len, data, max_depth};
  Json j = ps.value(0);
  ps.ws();
  if (ps.p != ps.end) ps.fail("trailing characters");
  return j;
}

}  // namespace cosmos
