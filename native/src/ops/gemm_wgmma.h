// gemm_wgmma: out[n,m] = a[n,k] · b[m,k]^T (+ bias[m]) on Hopper tensor cores (wgmma + TMA), bf16 operands,
// f32 accumulate and f32 out. a is the bf16 copy of the activations (row-major, k-contiguous), b the weights in
// the nn.Linear layout ([m,k], k-contiguous), the same operands matmul_cuda's mma.sync GEMM (ops/matmul.cu) uses.
//
// Needs sm_90a machine code (wgmma and setmaxnreg exist only there): gemm_wgmma.cu is compiled with
// -gencode arch=compute_90a,code=sm_90a. Built for anything else the kernels are empty and
// gemm_wgmma_available() says false, so callers keep the mma.sync path.
#pragma once
#ifdef COSMOS_CUDA
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "../core/cuda_context.h"

namespace cosmos {

// Every version stays selectable, so one device run checks and times them all (bench/wgmma_notes.md).
enum class WgmmaVariant : int {
  Tile128x128OneConsumer = 0,  // simplest: 1 producer + 1 consumer warpgroup (2 x m64n128), 1 block per tile
  Tile128x256TwoConsumers,     // 2 consumer warpgroups (m64n256 each), 1 block per tile
  Tile128x256Persistent,       // as above, grid = SM count, tiles walked in L2-friendly groups
  Tile256x128Persistent,       // 2 consumers of 128 x 128 (2 x m64n128 each), persistent
  PingPong128x128,             // persistent; each consumer owns whole 128 x 128 tiles, in turns (6 stages)
  PingPong64x256,              // persistent; each consumer owns whole 64 x 256 tiles (m64n256), in turns (5 stages)
};
constexpr int kWgmmaVariantCount = 6;
const char* wgmma_variant_name(WgmmaVariant v);

// Shapes the kernels take: n >= 128 rows, k % 8 == 0 (rows of whole 16-byte units, as TMA needs; a last k-tile short
// of 64 is zero-filled by TMA), m >= 1, and 16-byte aligned a and b. Everything else belongs to the mma.sync path.
bool gemm_wgmma_shape_ok(const void* a, const void* b, int n, int k, int m);

// True when this build carries the sm_90a kernels and the current device is compute capability 9.0 (checked once
// per process with a probe kernel, so a build without sm_90a code reports false instead of running empty kernels).
// While `stream` is being captured into a graph the probe cannot run: an unprobed call then answers false.
bool gemm_wgmma_available(cudaStream_t stream = nullptr);

// The version to use for a shape, from the H200 measurements in bench/wgmma_notes.md: 256x128 cooperative tiles,
// unless they fill the last wave of blocks poorly (fewer than 80% of the slots busy, e.g. 1024 x 4096 -> 6144) or k
// is short (<= 2048: a tile's epilogue is then a large share of its time, and the ping-pong tiles hide it behind the
// other consumer's products; the Qwen3-VL tower's q|k|v and o at k 1152 measured +18% / +25%), then the ping-pong
// 128x128 tiles (finer, and the two consumers of a block drift apart). COSMOS_WGMMA_PICK=pingpong or =256x128 puts
// every shape on those tiles instead (a measurement switch, read once; tools/device/tower_check.sh).
WgmmaVariant gemm_wgmma_pick(int n, int k, int m);

// Enqueues the GEMM on ctx.stream (no workspace: ctx.pool may be null). CPU twin: matmul_cpu. Throws
// std::invalid_argument naming the field when gemm_wgmma_shape_ok fails, std::runtime_error when the driver cannot
// encode the TMA descriptors or the launch fails.
void gemm_wgmma(float* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias /*nullable*/, int n,
                int k, int m, WgmmaVariant variant, const CudaContext& ctx);

// out [n, inter] bf16 = silu(a · b[0:inter]^T) * (a · b[inter:2 inter]^T): a SwiGLU MLP's gate and up projections
// with the activation in the epilogue (b = the gate_up weight [2 inter, k], gate rows first), 128 x 256 persistent
// tiles whose 256 columns are 128 gate and the same 128 up channels. Needs gemm_wgmma_swiglu_shape_ok.
bool gemm_wgmma_swiglu_shape_ok(const void* a, const void* b, int n, int k, int inter);
void gemm_wgmma_swiglu(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, int n, int k, int inter,
                       const CudaContext& ctx);

// out [n, m] bf16 = gelu(a · b^T + bias): a GELU MLP's fc1 with its bias and activation in the epilogue (tanh:
// gelu_pytorch_tanh on the SFU's tanh.approx, within bf16's rounding of ops/gelu.cu's tanhf, which
// COSMOS_GELU_TANH_APPROX=0 gives; else erf, ops/gelu.cu's expression), on gemm_wgmma_pick's tiles. Needs
// gemm_wgmma_gelu_shape_ok (gemm_wgmma_shape_ok and m even: the epilogue stores bf16 pairs).
bool gemm_wgmma_gelu_shape_ok(const void* a, const void* b, int n, int k, int m);
void gemm_wgmma_gelu(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias /*nullable*/,
                     int n, int k, int m, bool tanh, const CudaContext& ctx);

// out [n, m] f32 += a · b^T + bias: a residual add in the epilogue (each value gemm_wgmma writes, added to out's old
// one: bit for bit gemm_wgmma then add_cuda, without the [n, m] f32 product written and read back), on
// gemm_wgmma_pick's tiles. Shapes as gemm_wgmma_shape_ok; out must not overlap a or b.
void gemm_wgmma_add(float* out, const __nv_bfloat16* a, const __nv_bfloat16* b, const float* bias /*nullable*/, int n,
                    int k, int m, const CudaContext& ctx);

// out [n, m] bf16 = a · b^T + bias: gemm_wgmma's values rounded once to bf16 in the epilogue (cast_bf16 of its f32 out,
// bit for bit), half the bytes out (the Qwen3-VL tower's q|k|v, which its rotary reads). Shapes as
// gemm_wgmma_gelu_shape_ok (m even), tiles as gemm_wgmma_gelu's.
void gemm_wgmma_bf16_out(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b,
                         const float* bias /*nullable*/, int n, int k, int m, const CudaContext& ctx);

// out [n, m] bf16 += a · b^T + bias: gemm_wgmma's value added to out's old bf16 value in f32 and rounded once (bit for
// bit gemm_wgmma, then the old value widened, add_cuda, cast_bf16): the residual add of a stream held in bf16, as
// transformers' bf16 models hold it (the decoder prefill's o and down). Shapes as
// gemm_wgmma_gelu_shape_ok (m even), tiles as gemm_wgmma_gelu's; out must not overlap a or b.
void gemm_wgmma_add_bf16(__nv_bfloat16* out, const __nv_bfloat16* a, const __nv_bfloat16* b,
                         const float* bias /*nullable*/, int n, int k, int m, const CudaContext& ctx);

}  // namespace cosmos
#endif
