// Test driver of the vision tower (not part of the addon): runs qwen3_vision_forward_cpu on a
// checkpoint and raw pixel_values so the TS tests can compare with transformers' references
// before the tower is wired into the engine's binding.
//
//   vision_cli <model.safetensors> <pixel_values.f32> <grids "t,h,w;t,h,w"> <out_dir>
//     depth hidden intermediate heads out_hidden num_pos "8,16,24"
//
// Writes <out_dir>/embeds.f32 and <out_dir>/deepstack_K.f32 (raw little-endian fp32).
// The safetensors reader here is the minimum for a trusted test fixture (mmap-free, whole
// file read); the engine's validated loader replaces it in the addon.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <stdexcept>
#include <sstream>
#include <string>
#include <vector>
#include "../models/qwen3_vision.h"

namespace {

struct Tensor { std::string dtype; std::vector<int64_t> shape; uint64_t begin = 0, end = 0; std::vector<float> f32; };

// Tiny JSON walker for the safetensors header: {"name": {"dtype": "..", "shape": [..],
// "data_offsets": [a, b]}, "__metadata__": {...}}.
struct Json {
    const std::string& s;
    size_t i = 0;
    void ws() { while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++; }
    bool eat(char c) { ws(); if (i < s.size() && s[i] == c) { i++; return true; } return false; }
    std::string str() {
        ws();
        std::string out;
        if (s[i] != '"') throw std::runtime_error("json: expected string");
        for (i++; i < s.size() && s[i] != '"'; i++) {
            if (s[i] == '\\') i++;
            out += s[i];
        }
        i++;
        return out;
    }
    long long num() { ws(); size_t j = i; while (j < s.size() && (isdigit((unsigned char)s[j]) || s[j] == '-')) j++; long long v = std::stoll(s.substr(i, j - i)); i = j; return v; }
    std::vector<long long> arr() { std::vector<long long> v; eat('['); if (eat(']')) return v; do v.push_back(num()); while (eat(',')); eat(']'); return v; }
    void skip() {  // any value
        ws();
        if (s[i] == '"') { str(); return; }
        if (s[i] == '{') { i++; if (eat('}')) return; do { str(); eat(':'); skip(); } while (eat(',')); eat('}'); return; }
        if (s[i] == '[') { i++; if (eat(']')) return; do skip(); while (eat(',')); eat(']'); return; }
        while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
    }
};

float bf16_to_f32(uint16_t v) { uint32_t u = (uint32_t)v << 16; float f; memcpy(&f, &u, 4); return f; }
float f16_to_f32(uint16_t h) {
    const uint32_t s = (h & 0x8000u) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    uint32_t u;
    if (e == 0) { if (m == 0) u = s; else { int ee = -1; uint32_t mm = m; do { ee++; mm <<= 1; } while (!(mm & 0x400)); u = s | ((uint32_t)(127 - 15 - ee) << 23) | ((mm & 0x3ff) << 13); } }
    else if (e == 31) u = s | 0x7f800000u | (m << 13);
    else u = s | ((e + 112) << 23) | (m << 13);
    float f; memcpy(&f, &u, 4); return f;
}

std::vector<char> read_all(const char* path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) { fprintf(stderr, "cannot open %s\n", path); exit(2); }
    return std::vector<char>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<int> ints(const std::string& s) {
    std::vector<int> v; std::stringstream ss(s); std::string t;
    while (std::getline(ss, t, ',')) if (!t.empty()) v.push_back(std::stoi(t));
    return v;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 12) { fprintf(stderr, "usage: see vision_cli.cpp\n"); return 2; }
    std::vector<char> file = read_all(argv[1]);
    uint64_t hlen; memcpy(&hlen, file.data(), 8);
    const std::string header(file.data() + 8, hlen);
    const char* data = file.data() + 8 + hlen;
    std::map<std::string, Tensor> tensors;
    Json j{header};
    j.eat('{');
    do {
        const std::string name = j.str();
        j.eat(':');
        if (name == "__metadata__") { j.skip(); continue; }
        Tensor t;
        j.eat('{');
        do {
            const std::string k = j.str(); j.eat(':');
            if (k == "dtype") t.dtype = j.str();
            else if (k == "shape") for (long long v : j.arr()) t.shape.push_back(v);
            else if (k == "data_offsets") { auto o = j.arr(); t.begin = o[0]; t.end = o[1]; }
            else j.skip();
        } while (j.eat(','));
        j.eat('}');
        tensors[name] = t;
    } while (j.eat(','));

    auto lookup = [&](const std::string& name, const std::vector<int64_t>& shape) -> const float* {
        auto it = tensors.find(name);
        if (it == tensors.end() || it->second.shape != shape) return nullptr;
        Tensor& t = it->second;
        if (t.f32.empty()) {
            size_t n = 1; for (auto d : t.shape) n *= d;
            t.f32.resize(n);
            const char* p = data + t.begin;
            if (t.dtype == "F32") memcpy(t.f32.data(), p, n * 4);
            else if (t.dtype == "BF16" || t.dtype == "F16") {
                for (size_t i = 0; i < n; i++) { uint16_t v; memcpy(&v, p + 2 * i, 2); t.f32[i] = t.dtype == "BF16" ? bf16_to_f32(v) : f16_to_f32(v); }
            } else return nullptr;
        }
        return t.f32.data();
    };

    Qwen3VisionConfig cfg;
    cfg.depth = atoi(argv[5]);
    cfg.hidden_size = atoi(argv[6]);
    cfg.intermediate_size = atoi(argv[7]);
    cfg.num_heads = atoi(argv[8]);
    cfg.out_hidden_size = atoi(argv[9]);
    cfg.num_position_embeddings = atoi(argv[10]);
    cfg.deepstack_visual_indexes = ints(argv[11]);
    if (argc > 12) cfg.patch_size = atoi(argv[12]);
    if (argc > 13) cfg.spatial_merge_size = atoi(argv[13]);
    if (argc > 14) cfg.temporal_patch_size = atoi(argv[14]);

    std::vector<Qwen3VisionGrid> grids;
    { std::stringstream ss(argv[3]); std::string g; while (std::getline(ss, g, ';')) { auto v = ints(g); grids.push_back({v[0], v[1], v[2]}); } }

    Qwen3VisionWeights w;
    std::string err;
    if (!qwen3_vision_bind(cfg, lookup, w, err) || !qwen3_vision_check_grids(cfg, grids, err)) { fprintf(stderr, "%s\n", err.c_str()); return 3; }
    std::vector<char> px = read_all(argv[2]);
    const int64_t need = 0;
    (void)need;
    int64_t patches = 0; for (auto& g : grids) patches += (int64_t)g.t * g.h * g.w;
    if ((int64_t)px.size() != patches * cfg.patch_dim() * 4) { fprintf(stderr, "pixel_values: %zu bytes, expected %lld\n", px.size(), (long long)(patches * cfg.patch_dim() * 4)); return 4; }
    Qwen3VisionOutput out;
    qwen3_vision_forward_cpu(cfg, w, reinterpret_cast<const float*>(px.data()), grids, out);
    const std::string dir = argv[4];
    auto save = [&](const std::string& name, const std::vector<float>& v) {
        std::ofstream f(dir + "/" + name, std::ios::binary);
        f.write(reinterpret_cast<const char*>(v.data()), (std::streamsize)(v.size() * 4));
    };
    save("embeds.f32", out.embeds);
    for (size_t k = 0; k < out.deepstack.size(); k++) save("deepstack_" + std::to_string(k) + ".f32", out.deepstack[k]);
    printf("{\"tokens\": %lld, \"out_dim\": %d, \"deepstack\": %zu}\n", (long long)out.tokens, out.out_dim, out.deepstack.size());
    return 0;
}
