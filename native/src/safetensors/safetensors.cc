#include "safetensors.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "../core/json.h"
#include "../core/tensor.h"

namespace cosmos {

const char* st_err_code(StErr e) {
  switch (e) {
    case StErr::Io:
      return "IO";
    case StErr::HeaderSize:
      return "HEADER_SIZE";
    case StErr::HeaderJson:
      return "HEADER_JSON";
    case StErr::HeaderSchema:
      return "HEADER_SCHEMA";
    case StErr::Dtype:
      return "DTYPE";
    case StErr::ShapeBytes:
      return "SHAPE_BYTES";
    case StErr::Offsets:
      return "OFFSETS";
    case StErr::Alignment:
      return "ALIGNMENT";
    case StErr::Index:
      return "INDEX";
    case StErr::Missing:
      return "MISSING";
    case StErr::Convert:
      return "CONVERT";
  }
  return "UNKNOWN";
}

namespace {
struct DtInfo {
  const char* name;
  StDType t;
  size_t size;
};
const DtInfo kDtypes[] = {
    {"F64", StDType::F64, 8},   {"F32", StDType::F32, 4},         {"F16", StDType::F16, 2},
    {"BF16", StDType::BF16, 2}, {"I64", StDType::I64, 8},         {"I32", StDType::I32, 4},
    {"I16", StDType::I16, 2},   {"I8", StDType::I8, 1},           {"U8", StDType::U8, 1},
    {"BOOL", StDType::BOOL, 1}, {"F8_E4M3", StDType::F8_E4M3, 1}, {"F8_E5M2", StDType::F8_E5M2, 1},
    {"U16", StDType::U16, 2},   {"U32", StDType::U32, 4},         {"U64", StDType::U64, 8},
};
}  // namespace

bool st_dtype_parse(const std::string& s, StDType* out) {
  for (auto& d : kDtypes)
    if (s == d.name) {
      *out = d.t;
      return true;
    }
  return false;
}
size_t st_dtype_size(StDType t) {
  for (auto& d : kDtypes)
    if (d.t == t) return d.size;
  return 0;
}
const char* st_dtype_name(StDType t) {
  for (auto& d : kDtypes)
    if (d.t == t) return d.name;
  return "?";
}

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

Header parse_header(const uint8_t* file, size_t file_len, const std::string& what) {
  auto err = [&](StErr c, const std::string& m) { return SafetensorsError(c, what + ": " + m); };
  if (file_len < 8)
    throw err(StErr::HeaderSize,
              "file is " + std::to_string(file_len) + " bytes, shorter than the 8-byte header length");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[i];  // little-endian u64
  if (n > kMaxHeaderBytes)
    throw err(StErr::HeaderSize, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
  if (n > file_len - 8)
    throw err(StErr::HeaderSize, "header length " + std::to_string(n) + " runs past the end of the file (" +
                                     std::to_string(file_len) + " bytes)");
  if (n < 2) throw err(StErr::HeaderSize, "header length " + std::to_string(n) + " is too small for a JSON object");
  if ((8 + n) % 8 != 0)
    throw err(StErr::Alignment, "data section starts at byte " + std::to_string(8 + n) + ", not 8-byte aligned");
  const char* js = reinterpret_cast<const char*>(file + 8);
  if (js[0] != '{') throw err(StErr::HeaderJson, "header does not start with '{'");
  Json root;
  try {
    root = json_parse(js, n, 16);
  } catch (const JsonError& e) {
    throw err(StErr::HeaderJson, std::string("header is not valid JSON: ") + e.what());
  }
  if (!root.is_obj()) throw err(StErr::HeaderSchema, "header is not a JSON object");
  uint64_t data_len = file_len - 8 - n;
  Header h;
  h.header_len = n;
  for (auto& kv : root.obj) {
    const std::string& name = kv.first;
    const Json& v = kv.second;
    if (name == "__metadata__") {
      if (!v.is_obj()) throw err(StErr::HeaderSchema, "__metadata__ is not an object");
      for (auto& m : v.obj) {
        if (!m.second.is_str()) throw err(StErr::HeaderSchema, "__metadata__." + m.first + " is not a string");
        h.metadata[m.first] = m.second.str;
      }
      continue;
    }
    std::string tn = "tensor '" + name + "'";
    if (!v.is_obj()) throw err(StErr::HeaderSchema, tn + " entry is not an object");
    const Json* dt = v.get("dtype");
    const Json* sh = v.get("shape");
    const Json* off = v.get("data_offsets");
    if (!dt || !dt->is_str()) throw err(StErr::HeaderSchema, tn + " has no string 'dtype'");
    if (!sh || !sh->is_arr()) throw err(StErr::HeaderSchema, tn + " has no array 'shape'");
    if (!off || !off->is_arr() || off->arr.size() != 2)
      throw err(StErr::HeaderSchema, tn + " has no 2-element 'data_offsets'");
    if (v.obj.size() != 3) throw err(StErr::HeaderSchema, tn + " has keys other than dtype, shape, data_offsets");
    TensorInfo t;
    t.name = name;
    if (!st_dtype_parse(dt->str, &t.dtype)) throw err(StErr::Dtype, tn + " has unknown dtype '" + dt->str + "'");
    if (sh->arr.size() > 16) throw err(StErr::HeaderSchema, tn + " has more than 16 dimensions");
    unsigned __int128 elems = 1;
    for (auto& d : sh->arr) {
      if (!d.is_num() || !d.is_integer || d.i64 < 0)
        throw err(StErr::HeaderSchema, tn + " shape has a non-integer or negative dimension");
      t.shape.push_back(d.i64);
      elems *= (unsigned __int128)d.i64;
      if (elems > ((unsigned __int128)1 << 62)) throw err(StErr::ShapeBytes, tn + " shape is absurdly large");
    }
    for (int i = 0; i < 2; ++i)
      if (!off->arr[i].is_num() || !off->arr[i].is_integer || off->arr[i].i64 < 0)
        throw err(StErr::HeaderSchema, tn + " data_offsets are not non-negative integers");
    t.begin = (uint64_t)off->arr[0].i64;
    t.end = (uint64_t)off->arr[1].i64;
    if (t.end < t.begin) throw err(StErr::Offsets, tn + " data_offsets end before they begin");
    if (t.end > data_len)
      throw err(StErr::Offsets, tn + " data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                                    ") run past the data section (" + std::to_string(data_len) + " bytes)");
    unsigned __int128 want = elems * st_dtype_size(t.dtype);
    if (want != (unsigned __int128)(t.end - t.begin))
      throw err(StErr::ShapeBytes, tn + " shape x " + dt->str + " size = " + std::to_string((uint64_t)want) +
                                       " bytes but data_offsets span " + std::to_string(t.end - t.begin));
    h.tensors.push_back(std::move(t));
  }
  // Offsets: sorted, they must tile the data section exactly (no overlap, no hole, nothing after).
  std::vector<const TensorInfo*> by_off;
  for (auto& t : h.tensors) by_off.push_back(&t);
  std::sort(by_off.begin(), by_off.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin < b->begin || (a->begin == b->begin && a->end < b->end);
  });
  uint64_t pos = 0;
  for (auto* t : by_off) {
    if (t->begin < pos) throw err(StErr::Offsets, "tensor '" + t->name + "' overlaps the previous tensor's bytes");
    if (t->begin > pos) throw err(StErr::Offsets, "hole in the data section before tensor '" + t->name + "'");
    pos = t->end;
  }
  if (pos != data_len)
    throw err(StErr::Offsets,
              "data section is " + std::to_string(data_len) + " bytes but tensors cover " + std::to_string(pos));
  return h;
}

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw SafetensorsError(StErr::Io, path + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw SafetensorsError(StErr::Io, path + ": not a regular file");
  }
  len_ = (size_t)st.st_size;
  identity_ = std::to_string((unsigned long long)st.st_dev) + ":" + std::to_string((unsigned long long)st.st_ino) +
              ":" + std::to_string((long long)st.st_size) + ":" + std::to_string((long long)st.st_mtim.tv_sec) + "." +
              std::to_string((long long)st.st_mtim.tv_nsec);
  if (len_ < 8) {
    ::close(fd);
    throw SafetensorsError(StErr::HeaderSize, path + ": file is " + std::to_string(len_) +
                                                  " bytes, shorter than the 8-byte header length");
  }
  void* m = mmap(nullptr, len_, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (m == MAP_FAILED) throw SafetensorsError(StErr::Io, path + ": mmap failed (" + std::strerror(errno) + ")");
  base_ = static_cast<const uint8_t*>(m);
  try {
    header_ = parse_header(base_, len_, path);
  } catch (...) {
    munmap(const_cast<uint8_t*>(base_), len_);
    base_ = nullptr;
    throw;
  }
  for (size_t i = 0; i < header_.tensors.size(); ++i) index_[header_.tensors[i].name] = i;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) munmap(const_cast<uint8_t*>(base_), len_);
}

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &header_.tensors[it->second];
}

namespace {
bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool is_file(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool ends_with(const std::string& s, const std::string& suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}
std::string dirname_of(const std::string& p) {
  auto i = p.find_last_of('/');
  return i == std::string::npos ? "." : p.substr(0, i);
}
}  // namespace

void Checkpoint::add_file(const std::string& path, const std::vector<std::string>* only) {
  files_.push_back(std::make_unique<SafetensorsFile>(path));
  size_t fi = files_.size() - 1;
  auto& f = *files_.back();
  auto add = [&](const TensorInfo& t) {
    if (where_.count(t.name))
      throw SafetensorsError(StErr::Index, "tensor '" + t.name + "' appears in more than one file (" + path + ")");
    where_[t.name] = {fi, &t};
  };
  if (only) {
    for (auto& n : *only) {
      const TensorInfo* t = f.find(n);
      if (!t)
        throw SafetensorsError(StErr::Index, "index maps '" + n + "' to " + path + " but that file has no such tensor");
      add(*t);
    }
  } else {
    for (auto& t : f.header().tensors) add(t);
  }
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& path) {
  std::string index;
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  if (is_dir(p)) {
    if (is_file(p + "/model.safetensors.index.json"))
      index = p + "/model.safetensors.index.json";
    else if (is_file(p + "/model.safetensors"))
      return open_files({p + "/model.safetensors"});
    else {
      std::vector<std::string> fs;
      if (DIR* d = opendir(p.c_str())) {
        while (dirent* e = readdir(d)) {
          std::string n = e->d_name;
          if (ends_with(n, ".safetensors")) fs.push_back(p + "/" + n);
        }
        closedir(d);
      }
      std::sort(fs.begin(), fs.end());
      if (fs.empty())
        throw SafetensorsError(StErr::Io, p + ": no model.safetensors.index.json or *.safetensors in this folder");
      return open_files(fs);
    }
  } else if (ends_with(p, ".json")) {
    index = p;
  } else {
    return open_files({p});
  }
  // Sharded: weight_map name -> file (relative to the index's folder).
  std::ifstream in(index, std::ios::binary);
  if (!in) throw SafetensorsError(StErr::Io, index + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string txt = ss.str();
  if (txt.size() > kMaxHeaderBytes) throw SafetensorsError(StErr::Index, index + ": larger than 100 MB");
  Json root;
  try {
    root = json_parse(txt.data(), txt.size(), 16);
  } catch (const JsonError& e) {
    throw SafetensorsError(StErr::Index, index + ": not valid JSON: " + e.what());
  }
  const Json* wm = root.get("weight_map");
  if (!wm || !wm->is_obj() || wm->obj.empty())
    throw SafetensorsError(StErr::Index, index + ": no non-empty 'weight_map' object");
  std::map<std::string, std::vector<std::string>> per_file;
  for (auto& kv : wm->obj) {
    if (!kv.second.is_str())
      throw SafetensorsError(StErr::Index, index + ": weight_map['" + kv.first + "'] is not a string");
    const std::string& f = kv.second.str;
    if (f.empty() || f.find('/') != std::string::npos || f == "." || f == "..")
      throw SafetensorsError(StErr::Index, index + ": weight_map['" + kv.first + "'] = '" + f +
                                               "' is not a file name in the index's folder");
    per_file[f].push_back(kv.first);
  }
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  std::string dir = dirname_of(index);
  for (auto& pf : per_file) ck->add_file(dir + "/" + pf.first, &pf.second);
  return ck;
}

std::unique_ptr<Checkpoint> Checkpoint::open_files(const std::vector<std::string>& files) {
  if (files.empty()) throw SafetensorsError(StErr::Io, "no safetensors files given");
  auto ck = std::unique_ptr<Checkpoint>(new Checkpoint());
  for (auto& f : files) ck->add_file(f, nullptr);
  return ck;
}

std::unique_ptr<Checkpoint> Checkpoint::open_files(const std::vector<std::string>& files,
                                                   const std::map<std::string, std::string>& renames) {
  auto ck = open_files(files);
  if (renames.empty()) return ck;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> renamed;
  for (auto& [stored, wanted] : renames) {
    auto it = ck->where_.find(stored);
    if (it == ck->where_.end())
      throw SafetensorsError(StErr::Missing, "checkpoint has no tensor '" + stored + "' (read as '" + wanted + "')");
    if (!renamed.emplace(wanted, it->second).second)
      throw SafetensorsError(StErr::Index, "two stored tensors are renamed to '" + wanted + "'");
  }
  ck->where_ = std::move(renamed);
  return ck;
}

const TensorInfo& Checkpoint::info(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw SafetensorsError(StErr::Missing, "checkpoint has no tensor '" + name + "'");
  return *it->second.second;
}

void Checkpoint::read_f32(const std::string& name, float* out, size_t out_len) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw SafetensorsError(StErr::Missing, "checkpoint has no tensor '" + name + "'");
  const TensorInfo& t = *it->second.second;
  const uint8_t* src = files_[it->second.first]->data_of(t);
  size_t n = (size_t)t.numel();
  if (n != out_len)
    throw SafetensorsError(StErr::ShapeBytes, "tensor '" + name + "' has " + std::to_string(n) +
                                                  " elements, expected " + std::to_string(out_len));
  // memcpy per element: the data section is 8-byte aligned but a tensor's offset need not be.
  switch (t.dtype) {
    case StDType::F32:
      std::memcpy(out, src, n * 4);
      break;
    case StDType::BF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = bf16_to_f32(v);
      }
      break;
    case StDType::F16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, src + 2 * i, 2);
        out[i] = f16_to_f32(v);
      }
      break;
    default:
      throw SafetensorsError(StErr::Convert, "tensor '" + name + "' is " + st_dtype_name(t.dtype) +
                                                 "; only F32, BF16 and F16 convert to f32");
  }
}

std::string Checkpoint::source_of(const std::string& name) const {
  auto it = where_.find(name);
  if (it == where_.end()) throw SafetensorsError(StErr::Missing, "checkpoint has no tensor '" + name + "'");
  return files_[it->second.first]->identity() + "/" + it->second.second->name;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> v;
  for (auto& kv : where_) v.push_back(kv.first);
  return v;
}

}  // namespace cosmos
