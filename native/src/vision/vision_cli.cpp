// Test driver of the vision tower alone (not part of the addon): loads the tower with the engine's
// safetensors loader and runs it on raw pixel_values, so test/native/vision.test.ts can compare it
// with transformers' references on checkpoints that have no text decoder (the tower-only fixture).
//
//   vision_cli <checkpoint (.safetensors, index.json or dir)> <config.json> <pixel_values.f32>
//              <grids "t,h,w;t,h,w"> <out_dir>
//
// config.json: a Qwen3-VL config (its vision_config is used) or any JSON object with a vision_config.
// Writes <out_dir>/embeds.f32 and <out_dir>/deepstack_K.f32 (raw little-endian fp32) and prints
// {"tokens", "out_dim", "deepstack"} on stdout.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "../models/qwen3_vision.h"

namespace {

std::string read_all(const char* path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error(std::string("cannot open ") + path);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

std::vector<cosmos::Qwen3VisionGrid> parse_grids(const std::string& s) {
    std::vector<cosmos::Qwen3VisionGrid> grids;
    std::stringstream ss(s);
    std::string g;
    while (std::getline(ss, g, ';')) {
        cosmos::Qwen3VisionGrid v{};
        if (sscanf(g.c_str(), "%d,%d,%d", &v.t, &v.h, &v.w) != 3) throw std::runtime_error("bad grid '" + g + "'");
        grids.push_back(v);
    }
    return grids;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: vision_cli <checkpoint> <config.json> <pixel_values.f32> <grids t,h,w;...> <out_dir>\n");
        return 2;
    }
    try {
        auto ck = cosmos::Checkpoint::open(argv[1]);
        const auto cfg = cosmos::Qwen3VisionConfig::from_json(read_all(argv[2]));
        auto tower = cosmos::Qwen3Vision::load(*ck, cfg);
        const std::string px = read_all(argv[3]);
        if (px.size() % 4) throw std::runtime_error("pixel_values file is not a whole number of f32 values");
        std::vector<float> pv(px.size() / 4);
        std::copy(px.data(), px.data() + pv.size() * 4, reinterpret_cast<char*>(pv.data()));
        cosmos::Qwen3VisionOutput out;
        tower->forward(pv.data(), pv.size(), parse_grids(argv[4]), out);
        const std::string dir = argv[5];
        auto save = [&](const std::string& name, const std::vector<float>& v) {
            std::ofstream f(dir + "/" + name, std::ios::binary);
            f.write(reinterpret_cast<const char*>(v.data()), (std::streamsize)(v.size() * 4));
        };
        save("embeds.f32", out.embeds);
        for (size_t k = 0; k < out.deepstack.size(); k++) save("deepstack_" + std::to_string(k) + ".f32", out.deepstack[k]);
        printf("{\"tokens\": %lld, \"out_dim\": %d, \"deepstack\": %zu}\n", (long long)out.tokens, out.out_dim, out.deepstack.size());
        return 0;
    } catch (const std::exception& e) {
        fprintf(stderr, "vision_cli: %s\n", e.what());
        return 3;
    }
}
