// CPU GEMM in the nn.Linear layout, two kernels:
//
// - the packed SIMD kernel (x86-64 with AVX2 + FMA or AVX-512, picked at run time, so the addon stays a
//   baseline x86-64 build): w is packed into panels of NR columns laid out [k][NR], and a register tile of MR
//   rows x NR columns is accumulated as outer products, one fused multiply-add per output per kk — so every
//   output is the same sequential FMA chain over k (0 + x0*w0, + x1*w1, ...) whatever the tile it falls in, the
//   thread split or the vector width: AVX2 and AVX-512 give the same numbers, 1 and N threads too.
// - the portable blocked kernel (4x4 tiles of dot products, split by w rows): CPUs without FMA, tiny n (decode,
//   where packing w would cost as much as the product), and COSMOS_CPU_GEMM=portable.
//
// The packed path is also gemm_f32_cpu (matmul.h) for the attention's Q·K^T and P·V on strided operands.
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../core/parallel.h"
#include "matmul.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define COSMOS_GEMM_X86 1
#endif

namespace {
constexpr int KB = 512;  // portable kernel's k block: 4 x rows + 4 w rows of 512 floats stay in L1/L2

inline float dot(const float* a, const float* b, int k) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int i = 0;
  for (; i + 4 <= k; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < k; ++i) s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

void tile(float* out, const float* x, const float* w, int n, int k, int m, int m0, int m1) {
  for (int i0 = 0; i0 < n; i0 += 4) {
    int ni = std::min(4, n - i0);
    for (int j0 = m0; j0 < m1; j0 += 4) {
      int nj = std::min(4, m1 - j0);
      float acc[4][4] = {};
      for (int kb = 0; kb < k; kb += KB) {
        int kl = std::min(KB, k - kb);
        if (ni == 4 && nj == 4) {
          const float* xr[4] = {x + (size_t)(i0 + 0) * k + kb, x + (size_t)(i0 + 1) * k + kb,
                                x + (size_t)(i0 + 2) * k + kb, x + (size_t)(i0 + 3) * k + kb};
          const float* wr[4] = {w + (size_t)(j0 + 0) * k + kb, w + (size_t)(j0 + 1) * k + kb,
                                w + (size_t)(j0 + 2) * k + kb, w + (size_t)(j0 + 3) * k + kb};
          for (int kk = 0; kk < kl; ++kk) {
            float a0 = xr[0][kk], a1 = xr[1][kk], a2 = xr[2][kk], a3 = xr[3][kk];
            float b0 = wr[0][kk], b1 = wr[1][kk], b2 = wr[2][kk], b3 = wr[3][kk];
            acc[0][0] += a0 * b0;
            acc[0][1] += a0 * b1;
            acc[0][2] += a0 * b2;
            acc[0][3] += a0 * b3;
            acc[1][0] += a1 * b0;
            acc[1][1] += a1 * b1;
            acc[1][2] += a1 * b2;
            acc[1][3] += a1 * b3;
            acc[2][0] += a2 * b0;
            acc[2][1] += a2 * b1;
            acc[2][2] += a2 * b2;
            acc[2][3] += a2 * b3;
            acc[3][0] += a3 * b0;
            acc[3][1] += a3 * b1;
            acc[3][2] += a3 * b2;
            acc[3][3] += a3 * b3;
          }
        } else {
          for (int a = 0; a < ni; ++a)
            for (int b = 0; b < nj; ++b)
              acc[a][b] += dot(x + (size_t)(i0 + a) * k + kb, w + (size_t)(j0 + b) * k + kb, kl);
        }
      }
      for (int a = 0; a < ni; ++a)
        for (int b = 0; b < nj; ++b) out[(size_t)(i0 + a) * m + j0 + b] = acc[a][b];
    }
  }
}

void matmul_portable(float* out, const float* x, const float* w, int n, int k, int m, const cosmos::CpuContext& ctx) {
  // Chunks of w rows, rounded to the 4-wide tile; ~64k multiply-adds minimum per thread.
  int min_rows = std::max(4, (int)(65536 / std::max(1L, (long)n * k)));
  int groups = (m + 3) / 4;
  cosmos::parallel_for(ctx, groups, (min_rows + 3) / 4,
                       [&](int g0, int g1) { tile(out, x, w, n, k, m, g0 * 4, std::min(m, g1 * 4)); });
}

// ---- packed SIMD kernel ----
enum class Isa { Portable, Avx2, Avx512 };

Isa gemm_isa() {
  static const Isa isa = [] {
    const char* e = std::getenv("COSMOS_CPU_GEMM");
    if (e && std::strcmp(e, "portable") == 0) return Isa::Portable;
#ifdef COSMOS_GEMM_X86
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (avx512 && !(e && std::strcmp(e, "avx2") == 0)) return Isa::Avx512;
    if (avx2) return Isa::Avx2;
#endif
    return Isa::Portable;
  }();
  return isa;
}

// The register tile of each kernel: MR rows x NR columns (AVX-512: 12 x 32 = 24 zmm accumulators of the 32;
// AVX2: 6 x 16 = 12 ymm of the 16), so the packed panel width NR is the ISA's.
constexpr int kMr512 = 12, kNr512 = 32, kMr256 = 6, kNr256 = 16;

// B(kk, j) of the product: w[j*ldb + kk] (nn.Linear: w [m, k]) or, b_kmajor, w[kk*ldb + j] (a [k, m] matrix).
// Packs columns j0 .. j0+nc-1 (nc <= nr) into panel[kk*nr + c], zero beyond nc.
void pack_panel(float* panel, const float* b, int ldb, bool b_kmajor, int k, int j0, int nc, int nr) {
  if (b_kmajor) {
    for (int kk = 0; kk < k; ++kk) {
      const float* src = b + (size_t)kk * ldb + j0;
      float* dst = panel + (size_t)kk * nr;
      std::memcpy(dst, src, sizeof(float) * nc);
      std::fill(dst + nc, dst + nr, 0.f);
    }
    return;
  }
  if (nc < nr) std::fill(panel, panel + (size_t)k * nr, 0.f);
  for (int c = 0; c < nc; ++c) {
    const float* src = b + (size_t)(j0 + c) * ldb;
    for (int kk = 0; kk < k; ++kk) panel[(size_t)kk * nr + c] = src[kk];
  }
}

// A register-tile kernel: (c, ldc, a, lda, panel, k, nc).
using TileFn = void (*)(float*, int, const float*, int, const float*, int, int);

#ifdef COSMOS_GEMM_X86
// c[r*ldc + 0..nc) = sum_kk a[r*lda + kk] * panel[kk*32 + ...], r < MR; one FMA chain per output.
template <int MR>
__attribute__((target("avx512f"))) void tile512(float* c, int ldc, const float* a, int lda, const float* panel, int k,
                                                int nc) {
  __m512 acc[MR][2];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  const float* ar[MR];
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) ar[r] = a + (size_t)r * lda;
  for (int kk = 0; kk < k; ++kk) {
    const __m512 b0 = _mm512_loadu_ps(panel + (size_t)kk * kNr512);
    const __m512 b1 = _mm512_loadu_ps(panel + (size_t)kk * kNr512 + 16);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const __m512 av = _mm512_set1_ps(ar[r][kk]);
      acc[r][0] = _mm512_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  const __mmask16 m0 = nc >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nc) - 1);
  const __mmask16 m1 = nc >= 32 ? (__mmask16)0xffff : nc <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nc - 16)) - 1);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    _mm512_mask_storeu_ps(c + (size_t)r * ldc, m0, acc[r][0]);
    _mm512_mask_storeu_ps(c + (size_t)r * ldc + 16, m1, acc[r][1]);
  }
}

template <int MR>
__attribute__((target("avx2,fma"))) void tile256(float* c, int ldc, const float* a, int lda, const float* panel, int k,
                                                 int nc) {
  __m256 acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  const float* ar[MR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) ar[r] = a + (size_t)r * lda;
  for (int kk = 0; kk < k; ++kk) {
    const __m256 b0 = _mm256_loadu_ps(panel + (size_t)kk * kNr256);
    const __m256 b1 = _mm256_loadu_ps(panel + (size_t)kk * kNr256 + 8);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m256 av = _mm256_broadcast_ss(ar[r] + kk);
      acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
    }
  }
  if (nc == kNr256) {
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      _mm256_storeu_ps(c + (size_t)r * ldc, acc[r][0]);
      _mm256_storeu_ps(c + (size_t)r * ldc + 8, acc[r][1]);
    }
    return;
  }
  alignas(32) float tmp[kNr256];
  for (int r = 0; r < MR; ++r) {
    _mm256_store_ps(tmp, acc[r][0]);
    _mm256_store_ps(tmp + 8, acc[r][1]);
    std::memcpy(c + (size_t)r * ldc, tmp, sizeof(float) * nc);
  }
}

template <int MR>
struct T512 {
  static constexpr TileFn fn = tile512<MR>;
};
template <int MR>
struct T256 {
  static constexpr TileFn fn = tile256<MR>;
};
// tile function for mr rows (1..MR): the full tile and every remainder height
const TileFn kTiles512[kMr512 + 1] = {nullptr,      T512<1>::fn,  T512<2>::fn, T512<3>::fn, T512<4>::fn,
                                      T512<5>::fn,  T512<6>::fn,  T512<7>::fn, T512<8>::fn, T512<9>::fn,
                                      T512<10>::fn, T512<11>::fn, T512<12>::fn};
const TileFn kTiles256[kMr256 + 1] = {nullptr,     T256<1>::fn, T256<2>::fn, T256<3>::fn,
                                      T256<4>::fn, T256<5>::fn, T256<6>::fn};
#endif

struct Packed {
  int mr = 0, nr = 0;
  const TileFn* tiles = nullptr;
};
Packed packed_kernel() {
  Packed p;
#ifdef COSMOS_GEMM_X86
  switch (gemm_isa()) {
    case Isa::Avx512:
      p = {kMr512, kNr512, kTiles512};
      break;
    case Isa::Avx2:
      p = {kMr256, kNr256, kTiles256};
      break;
    case Isa::Portable:
      break;
  }
#endif
  return p;
}

// Rows [r0, r1) x panels [p0, p1) of c = a · B over packed panels (panel p at packed + p*k*nr).
void packed_rows(const Packed& K, float* c, int ldc, const float* a, int lda, const float* packed, int k, int m, int r0,
                 int r1, int p0, int p1) {
  for (int i = r0; i < r1; i += K.mr) {
    const int mr = std::min(K.mr, r1 - i);
    for (int p = p0; p < p1; ++p) {
      const int j0 = p * K.nr, nc = std::min(K.nr, m - j0);
      K.tiles[mr](c + (size_t)i * ldc + j0, ldc, a + (size_t)i * lda, lda, packed + (size_t)p * k * K.nr, k, nc);
    }
  }
}

// Packed w of at most this many floats at a time (16 MiB): the columns go in chunks beyond it.
constexpr size_t kPackBudget = (size_t)4 << 20;
}  // namespace

bool gemm_f32_cpu_packed() { return packed_kernel().tiles != nullptr; }

void gemm_f32_cpu(float* c, int ldc, const float* a, int lda, const float* b, int ldb, bool b_kmajor, int n, int k,
                  int m, std::vector<float>& scratch) {
  const Packed K = packed_kernel();
  if (n <= 0 || m <= 0) return;
  if (!K.tiles) {  // portable: plain FMA-free loops (same layout rules)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) {
        float s = 0;
        for (int kk = 0; kk < k; ++kk)
          s += a[(size_t)i * lda + kk] * (b_kmajor ? b[(size_t)kk * ldb + j] : b[(size_t)j * ldb + kk]);
        c[(size_t)i * ldc + j] = s;
      }
    return;
  }
  const int panels = (m + K.nr - 1) / K.nr;
  scratch.resize((size_t)panels * std::max(1, k) * K.nr);
  for (int p = 0; p < panels; ++p)
    pack_panel(scratch.data() + (size_t)p * k * K.nr, b, ldb, b_kmajor, k, p * K.nr, std::min(K.nr, m - p * K.nr),
               K.nr);
  packed_rows(K, c, ldc, a, lda, scratch.data(), k, m, 0, n, 0, panels);
}

void matmul_cpu(float* out, const float* x, const float* w, const float* bias, int n, int k, int m,
                const cosmos::CpuContext& ctx) {
  const Packed K = packed_kernel();
  // Packing w costs one pass over it: worth it once a few rows share the panel.
  if (!K.tiles || n < 4 || k <= 0) {
    matmul_portable(out, x, w, n, k, m, ctx);
  } else {
    const int panels_all = (m + K.nr - 1) / K.nr;
    const int chunk = (int)std::max<size_t>(1, kPackBudget / ((size_t)k * K.nr));  // panels per packing pass
    std::vector<float> packed((size_t)std::min(chunk, panels_all) * k * K.nr);
    for (int pc = 0; pc < panels_all; pc += chunk) {
      const int np = std::min(chunk, panels_all - pc);
      cosmos::parallel_for(ctx, np, std::max(1, 65536 / (k * K.nr)), [&](int p0, int p1) {
        for (int p = p0; p < p1; ++p) {
          const int j0 = (pc + p) * K.nr;
          pack_panel(packed.data() + (size_t)p * k * K.nr, w, k, false, k, j0, std::min(K.nr, m - j0), K.nr);
        }
      });
      // Work items: (row block of MR rows, panel); a thread's chunk walks rows of blocks, so an x block stays
      // in L1 across the chunk's panels. ~256k FMAs minimum per thread (a thread start costs ~20-50 us).
      const int row_blocks = (n + K.mr - 1) / K.mr;
      const long long items = (long long)row_blocks * np;
      const int min_items = std::max(1, (int)(262144 / std::max(1LL, (long long)K.mr * K.nr * k)));
      const float* pk = packed.data();
      cosmos::parallel_for(ctx, (int)items, min_items, [&](int t0, int t1) {
        for (int t = t0; t < t1;) {
          const int rb = t / np, p = t % np;
          const int pe = std::min(np, p + (t1 - t));  // this row block's panels in the chunk
          const int r0 = rb * K.mr, r1 = std::min(n, r0 + K.mr);
          packed_rows(K, out + (size_t)pc * K.nr, m, x, k, pk, k, m - pc * K.nr, r0, r1, p, pe);
          t += pe - p;
        }
      });
    }
  }
  if (bias)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < m; ++j) out[(size_t)i * m + j] += bias[j];
}
