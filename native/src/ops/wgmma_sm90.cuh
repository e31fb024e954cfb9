// Hopper (sm_90a) building blocks shared by the wgmma kernels (ops/gemm_wgmma.cu, ops/flash_attention_wgmma.cu,
// ops/conv3d_igemm_wgmma.cu): mbarriers, TMA tile copies (2-D to 4-D), warpgroup register hand-over, wgmma with
// shared-memory descriptors (and with A in registers; bf16, e4m3 and s8), and the host's TMA descriptors for bf16
// and byte (e4m3, int8) tensors in the 128-byte swizzle. Written from the PTX ISA. The device functions assemble only
// for sm_90a: callers guard their kernel bodies with __CUDA_ARCH_FEAT_SM90_ALL.
#pragma once
#include <cuda.h>  // CUtensorMap and its enums only: the encode function comes from cudaGetDriverEntryPointByVersion
#include <cudaTypedefs.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "../core/cuda_common.h"
#include "../core/cuda_mbarrier.cuh"
#include "mma_bf16.cuh"

namespace cosmos::sm90 {
using cosmos::smem_u32;

// The mbarrier basics live in core/cuda_mbarrier.cuh (plain sm_90 code, shared with the persistent decode step).
using cosmos::mbar_arrive;
using cosmos::mbar_expect_tx;
using cosmos::mbar_init;
using cosmos::mbar_wait;
// 2-D tile copy global -> shared; completion is counted in bytes on `bar`. c0 = k (innermost), c1 = row.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap* map, int c0, int c1, uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n" ::"r"(
          dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
// 3-D and 4-D tile copies (c0 innermost), as tma_load_2d: zero-filled where the box leaves the tensor, on either side
// (coordinates may be negative), and counted in full box bytes on `bar` either way.
__device__ __forceinline__ void tma_load_3d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4}], [%5];\n" ::
          "r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void tma_load_4d(uint32_t dst, const CUtensorMap* map, int c0, int c1, int c2, int c3,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.4d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5}], "
      "[%6];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(c2), "r"(c3), "r"(bar)
      : "memory");
}
template <int R>
__device__ __forceinline__ void setmaxnreg_inc() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(R));
}
template <int R>
__device__ __forceinline__ void setmaxnreg_dec() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(R));
}
// Makes this thread's earlier generic-proxy writes to shared memory (st.shared, cp.async) visible to the async proxy
// that wgmma reads through; then a barrier hands them to the warpgroups that issue the wgmma.
__device__ __forceinline__ void fence_proxy_async_shared() {
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// This thread's values of p at columns 8j + {0, 1}, j < J (p already at the thread's first column: the m64nN
// accumulator's column layout), read once into registers for an epilogue's rows: column scales, biases.
template <int J>
__device__ __forceinline__ void load_col_pairs(float (&dst)[2 * J], const float* __restrict__ p) {
#pragma unroll
  for (int j = 0; j < J; ++j) dst[2 * j] = __ldg(p + 8 * j), dst[2 * j + 1] = __ldg(p + 8 * j + 1);
}
// Keeps the compiler from moving accumulator reads or writes across a wgmma fence / wait.
template <int R>
__device__ __forceinline__ void fence_regs(float (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+f"(d[i])::"memory");
}
template <int R>
__device__ __forceinline__ void fence_regs(uint32_t (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) asm volatile("" : "+r"(d[i])::"memory");
}

// Shared-memory matrix descriptor for a K-major operand in the 128-byte swizzle: start address >> 4 (bits 0-13),
// leading byte offset 16 >> 4 (unused by this layout), stride byte offset 1024 >> 4 between 8-row groups
// (bits 32-45), layout 1 = 128B swizzle (bits 62-63). The k16 steps inside a 64-wide stage advance the start by
// 32 bytes; the hardware applies the swizzle to the final address, so this works from a 1024-aligned tile base.
__device__ __forceinline__ uint64_t sw128_desc(uint32_t saddr) {
  return (uint64_t)((saddr & 0x3FFFF) >> 4) | ((uint64_t)1 << 16) | ((uint64_t)(1024 >> 4) << 32) | ((uint64_t)1 << 62);
}

// The 64 accumulator registers of an m64n128 wgmma: the asm's first 64 operands (%0..%63) and their constraints
// ("+f" for f32 accumulators, "+r" for s32), shared by the m64n128 wrappers below.
#define COSMOS_WGMMA_D64_REGS                                        \
  "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"           \
  "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31," \
  "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47," \
  "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
#define COSMOS_WGMMA_D64_OPERANDS_AS(c, d)                                                                          \
  c(d[0]), c(d[1]), c(d[2]), c(d[3]), c(d[4]), c(d[5]), c(d[6]), c(d[7]), c(d[8]), c(d[9]), c(d[10]), c(d[11]),     \
      c(d[12]), c(d[13]), c(d[14]), c(d[15]), c(d[16]), c(d[17]), c(d[18]), c(d[19]), c(d[20]), c(d[21]), c(d[22]), \
      c(d[23]), c(d[24]), c(d[25]), c(d[26]), c(d[27]), c(d[28]), c(d[29]), c(d[30]), c(d[31]), c(d[32]), c(d[33]), \
      c(d[34]), c(d[35]), c(d[36]), c(d[37]), c(d[38]), c(d[39]), c(d[40]), c(d[41]), c(d[42]), c(d[43]), c(d[44]), \
      c(d[45]), c(d[46]), c(d[47]), c(d[48]), c(d[49]), c(d[50]), c(d[51]), c(d[52]), c(d[53]), c(d[54]), c(d[55]), \
      c(d[56]), c(d[57]), c(d[58]), c(d[59]), c(d[60]), c(d[61]), c(d[62]), c(d[63])
#define COSMOS_WGMMA_D64_OPERANDS(d) COSMOS_WGMMA_D64_OPERANDS_AS("+f", d)

// d[64] (+)= A(64x16, smem desc) * B(16x128, smem desc); scale_d 0 overwrites d (first k step of a tile).
__device__ __forceinline__ void wgmma_m64n128k16(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" COSMOS_WGMMA_D64_REGS "}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : COSMOS_WGMMA_D64_OPERANDS(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d[128] (+)= A(64x16, smem desc) * B(16x256, smem desc); scale_d 0 overwrites d (first k step of a tile).
__device__ __forceinline__ void wgmma_m64n256k16(float (&d)[128], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
      "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,"
      "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,"
      "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,"
      "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,"
      "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,"
      "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,"
      "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,"
      "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127"
      "}, %128, %129, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),
        "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]),
        "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),
        "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]),
        "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]),
        "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]),
        "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]),
        "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]),
        "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]),
        "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]),
        "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]),
        "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]),
        "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d[8] (+)= A(64x16, smem desc) * B(16x16, smem desc): narrow outputs (the VAE's 12-channel conv_out).
__device__ __forceinline__ void wgmma_m64n16k16(float (&d)[8], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7}, %8, %9, p, 1, 1, 0, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// The m64 shape by its width N (16, 128 or 256), for kernels templated on their tile width.
template <int BN>
struct Wgmma;
template <>
struct Wgmma<16> {
  static __device__ __forceinline__ void run(float (&d)[8], uint64_t a, uint64_t b, int scale_d) {
    wgmma_m64n16k16(d, a, b, scale_d);
  }
};
template <>
struct Wgmma<128> {
  static __device__ __forceinline__ void run(float (&d)[64], uint64_t a, uint64_t b, int scale_d) {
    wgmma_m64n128k16(d, a, b, scale_d);
  }
};
template <>
struct Wgmma<256> {
  static __device__ __forceinline__ void run(float (&d)[128], uint64_t a, uint64_t b, int scale_d) {
    wgmma_m64n256k16(d, a, b, scale_d);
  }
};

// d[64] (+)= A(64x16, registers) * B(16x128, smem desc); scale_d 0 overwrites d. A is the m16n8k16 A fragment of
// each warp's 16 rows (warp w of the warpgroup: rows 16w..16w+15), i.e. what an m64nN accumulator packed to bf16
// pairs already is, so a softmax's probabilities feed the next product without leaving registers (P V).
__device__ __forceinline__ void wgmma_m64n128k16_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b,
                                                    int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {" COSMOS_WGMMA_D64_REGS
      "}, {%64,%65,%66,%67}, %68, p, 1, 1, 0;\n}\n"
      : COSMOS_WGMMA_D64_OPERANDS(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}

// d[40] (+)= A(64x16, registers) * B(16x80, smem desc): as wgmma_m64n128k16_rs for 80 output columns (P V of the
// flash kernel at head dims <= 80: the Qwen3-VL tower's 72).
__device__ __forceinline__ void wgmma_m64n80k16_rs(float (&d)[40], const uint32_t (&a)[4], uint64_t desc_b,
                                                   int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %45, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n80k16.f32.bf16.bf16 {"
      "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,"
      "%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39"
      "}, {%40,%41,%42,%43}, %44, p, 1, 1, 0;\n}\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]),
        "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),
        "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),
        "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]),
        "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}

// d[64] (+)= A(64x32 e4m3, smem desc) * B(32x128 e4m3, smem desc); scale_d 0 overwrites d. fp8 wgmma takes
// K-major operands only, so there are no transpose immediates (the bf16 form's trailing 0, 0).
__device__ __forceinline__ void wgmma_m64n128k32_e4m3(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {" COSMOS_WGMMA_D64_REGS "}, %64, %65, p, 1, 1;\n}\n"
      : COSMOS_WGMMA_D64_OPERANDS(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// d[64] (+)= A(64x32 e4m3, registers) * B(32x128 e4m3, smem desc); scale_d 0 overwrites d. A is each warp's 16 rows
// in the 8-bit A fragment (as mma.sync m16n8k32's): a[0] row lane/4, k 4(lane%4) .. +3 (lowest byte first), a[1]
// the row 8 below, a[2] / a[3] the same at k + 16. Unlike the bf16 form this is not an accumulator's layout (that
// holds k 2(lane%4) + {0, 1} + 8j): see ops/flash_attention_wgmma.cu for how P V uses it anyway.
__device__ __forceinline__ void wgmma_m64n128k32_e4m3_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b,
                                                         int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.f32.e4m3.e4m3 {" COSMOS_WGMMA_D64_REGS
      "}, {%64,%65,%66,%67}, %68, p, 1, 1;\n}\n"
      : COSMOS_WGMMA_D64_OPERANDS(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(scale_d));
}

// d[64] (+)= A(64x32 s8, smem desc) * B(32x128 s8, smem desc), s32 accumulators; scale_d 0 overwrites d. Integer
// wgmma has no scale or transpose immediates and, like fp8, takes K-major operands only; it runs at the fp8 rate.
__device__ __forceinline__ void wgmma_m64n128k32_s8(uint32_t (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {" COSMOS_WGMMA_D64_REGS "}, %64, %65, p;\n}\n"
      : COSMOS_WGMMA_D64_OPERANDS_AS("+r", d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

// ---------------------------------------------------------------- host side
inline PFN_cuTensorMapEncodeTiled_v12000 tma_encode_fn() {
  static PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* p = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &p, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || !p)
      throw std::runtime_error("the CUDA driver has no cuTensorMapEncodeTiled (driver older than 12.0?)");
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(p);
  }();
  return fn;
}

// The current device's SM count, for persistent grids and wave estimates (asked once per process: one device).
inline int sm_count() {
  static const int sms = [] {
    int dev = 0, n = 0;
    CUDA_CHECK(cudaGetDevice(&dev));
    CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    return n;
  }();
  return sms;
}

// A bf16 tensor of `rank` dimensions (dims[0] innermost and contiguous, byte strides of dims 1.. in `strides`) ->
// tensor map with box `box` (box[0] = 64 bf16: one 128-byte row) in the 128-byte swizzle (the layout sw128_desc
// describes); elements outside the tensor read as zeros. `what` names the operand in the error.
inline CUtensorMap tma_map_bf16_sw128_nd(const __nv_bfloat16* ptr, int rank, const cuuint64_t* dims,
                                         const cuuint64_t* strides, const cuuint32_t* box, const char* what) {
  CUtensorMap map;
  const cuuint32_t elem_strides[5] = {1, 1, 1, 1, 1};
  const CUresult r =
      tma_encode_fn()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, rank, const_cast<__nv_bfloat16*>(ptr), dims, strides, box,
                      elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error(std::string("cuTensorMapEncodeTiled failed for ") + what + " (CUresult " +
                             std::to_string((int)r) + ")");
  return map;
}

// Row-major bf16 [rows, k] -> tensor map with a box of box_rows x 64 in the 128-byte swizzle.
inline CUtensorMap tma_map_bf16_sw128(const __nv_bfloat16* ptr, int rows, int k, int box_rows, const char* what) {
  const cuuint64_t dims[2] = {(cuuint64_t)k, (cuuint64_t)rows};
  const cuuint64_t strides[1] = {(cuuint64_t)k * sizeof(__nv_bfloat16)};
  const cuuint32_t box[2] = {64, (cuuint32_t)box_rows};
  return tma_map_bf16_sw128_nd(ptr, 2, dims, strides, box, what);
}

// Row-major e4m3 [rows, k] -> tensor map with a box of box_rows x 128 bytes in the 128-byte swizzle (the layout
// sw128_desc describes); reads past rows or k come back as zero bytes.
inline CUtensorMap tma_map_u8_sw128(const uint8_t* ptr, int rows, int k, int box_rows, const char* what) {
  CUtensorMap map;
  const cuuint64_t dims[2] = {(cuuint64_t)k, (cuuint64_t)rows};
  const cuuint64_t strides[1] = {(cuuint64_t)k};
  const cuuint32_t box[2] = {128, (cuuint32_t)box_rows};
  const cuuint32_t elem_strides[2] = {1, 1};
  const CUresult r = tma_encode_fn()(&map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<uint8_t*>(ptr), dims, strides,
                                     box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                                     CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    throw std::runtime_error(std::string("cuTensorMapEncodeTiled failed for ") + what + " (CUresult " +
                             std::to_string((int)r) + ")");
  return map;
}

// Whether a file's sm_90a kernels can run (its own probe, below): the current device is compute capability 9.0 and
// the object carries sm_90a code, so a build without it reports false instead of running empty kernels. Answered
// once per `state` (-1: not probed yet). The probe (a launch and a synchronous copy) is not allowed while `stream` is
// being captured into a graph, so a first call during capture answers false without probing and a later call probes.
template <class RunProbe>
bool sm90a_kernels_available(std::atomic<int>& state, cudaStream_t stream, RunProbe run_probe) {
  const int known = state.load();
  if (known >= 0) return known == 1;
  cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(stream, &capture) != cudaSuccess || capture != cudaStreamCaptureStatusNone) return false;
  const bool ok = [&] {
    int dev = 0, major = 0, minor = 0;
    if (cudaGetDevice(&dev) != cudaSuccess) return false;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) != cudaSuccess)
      return false;
    if (major != 9 || minor != 0) return false;
    return run_probe() == 1;
  }();
  state.store(ok ? 1 : 0);
  return ok;
}

}  // namespace cosmos::sm90

// The probe of the including object (each ops/*_wgmma.cu is its own CUDA module, compiled apart: one built for plain
// sm_90 by some script must not be trusted because another carries sm_90a), in that file's anonymous namespace.
namespace {
__device__ int g_sm90a_built;  // set by the probe kernel: 1 when this object carries sm_90a code

__global__ void sm90a_probe_kernel() {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  g_sm90a_built = 1;
#else
  g_sm90a_built = 0;
#endif
}

// True when the current device is sm_90 and this object's kernels were built for sm_90a (probed once per object).
bool this_object_sm90a_available(cudaStream_t stream) {
  static std::atomic<int> state{-1};
  return cosmos::sm90::sm90a_kernels_available(state, stream, [] {
    sm90a_probe_kernel<<<1, 1>>>();
    if (cudaGetLastError() != cudaSuccess) return 0;  // no sm_90a image in this build: no kernel for the device
    int built = 0;
    return cudaMemcpyFromSymbol(&built, g_sm90a_built, sizeof(int)) == cudaSuccess ? built : 0;
  });
}
}  // namespace
