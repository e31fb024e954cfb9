// safetensors reader: mmap + strict header validation, single files and sharded checkpoints
// (model.safetensors.index.json). Every malformed input ends in a SafetensorsError whose code names
// the problem class; nothing here may crash on untrusted bytes (the header fuzz test checks that).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace cosmos {

// Error class codes, stable strings for JS ("SAFETENSORS_" + code in the binding).
enum class StErr {
  Io,
  HeaderSize,
  HeaderJson,
  HeaderSchema,
  Dtype,
  ShapeBytes,
  Offsets,
  Alignment,
  Index,
  Missing,
  Convert
};
const char* st_err_code(StErr e);

struct SafetensorsError : std::runtime_error {
  StErr code;
  SafetensorsError(StErr c, const std::string& msg) : std::runtime_error(msg), code(c) {}
};

enum class StDType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, F8_E4M3, F8_E5M2, U16, U32, U64 };
bool st_dtype_parse(const std::string& s, StDType* out);
size_t st_dtype_size(StDType t);
const char* st_dtype_name(StDType t);

struct TensorInfo {
  std::string name;
  StDType dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // byte offsets relative to the data section
  int64_t numel() const;
};

struct Header {
  uint64_t header_len;  // N: bytes of JSON after the 8-byte length
  std::vector<TensorInfo> tensors;
  std::map<std::string, std::string> metadata;
};

// Largest header we accept (the format's reference implementation uses 100 MB).
constexpr uint64_t kMaxHeaderBytes = 100ull * 1024 * 1024;

// Validates a whole file image (8-byte length, JSON header, data section) held in memory.
// Checks: size bound, JSON syntax, schema, known dtype, shape x dtype size = byte length (overflow-safe),
// offsets within the data section, sorted offsets cover the data section exactly with no overlap or hole,
// data section start 8-byte aligned (the writer pads the header with spaces).
Header parse_header(const uint8_t* file, size_t file_len, const std::string& what = "safetensors file");

// One mmapped file.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::string& path);  // throws SafetensorsError
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const Header& header() const { return header_; }
  const std::string& path() const { return path_; }
  // The file as the filesystem knows it when opened: device, inode, size and modification time. Two paths
  // to one file (a symlink, dir/../dir, a hard link) have one identity; a file rewritten since has another.
  const std::string& identity() const { return identity_; }
  const TensorInfo* find(const std::string& name) const;
  const uint8_t* data_of(const TensorInfo& t) const { return base_ + 8 + header_.header_len + t.begin; }

 private:
  std::string path_;
  std::string identity_;
  const uint8_t* base_ = nullptr;
  size_t len_ = 0;
  Header header_;
  std::map<std::string, size_t> index_;
};

// A checkpoint = one or more files. open() accepts: a directory (model.safetensors.index.json, else
// model.safetensors, else every *.safetensors in it), an index.json path, or a single .safetensors file.
class Checkpoint {
 public:
  static std::unique_ptr<Checkpoint> open(const std::string& path);
  static std::unique_ptr<Checkpoint> open_files(const std::vector<std::string>& files);
  // The files' tensors under other names: `renames` maps a stored name to the name the model asks for,
  // and only the renamed tensors are visible. A Cosmos 3 checkpoint stores the Qwen3-VL und tower under
  // diffusers names (layers.0.self_attn.to_q.weight for model.language_model.layers.0.self_attn.q_proj.
  // weight) next to the generation tower, which the Reasoner must not see. A stored name that is missing
  // is a Missing error naming both names; two stored names renamed to one is an Index error.
  static std::unique_ptr<Checkpoint> open_files(const std::vector<std::string>& files,
                                                const std::map<std::string, std::string>& renames);

  bool has(const std::string& name) const { return where_.count(name) > 0; }
  const TensorInfo& info(const std::string& name) const;  // throws Missing
  // Copies the tensor into out as f32 (F32/BF16/F16 accepted); numel must equal out_len.
  void read_f32(const std::string& name, float* out, size_t out_len) const;
  std::vector<std::string> names() const;
  // Where a tensor's bytes come from, whatever name it is read under: its file's identity() and its stored
  // name. Equal sources hold equal values, so models loaded from one checkpoint can share them (weights.h).
  std::string source_of(const std::string& name) const;  // throws Missing
  size_t file_count() const { return files_.size(); }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::pair<size_t, const TensorInfo*>> where_;
  void add_file(const std::string& path, const std::vector<std::string>* only);
};

}  // namespace cosmos
