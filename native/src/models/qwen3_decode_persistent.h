// Qwen3's decode step, every decoder layer of one token, as one persistent kernel (issue 14: decode at the bandwidth
// limit). On by default where it is served (Qwen3TextCuda::set_decode_persistent; COSMOS_DECODE_PERSISTENT=0 at load
// keeps the graph of kernels): on an H200 it decodes 13% faster than that graph at 128/128 and 14% at 1024/256 (247.1
// / 239.0 tokens/s, 87% / 85% of the copy roofline), on an H100 6-7% (bench/README, "Where the persistent step's time
// goes").
//
// Why: each of the graph step's GEMVs reads at 86-90% of a bare read of its bytes, and the layer still takes ~30 us
// more than its 386 MB need at the copy bandwidth (Qwen3-VL-8B, H200), because every kernel ramps up and drains and
// HBM idles through the norm / RoPE / attention kernels between the GEMVs (bench/README.md, "The decode GEMVs against
// a plain read"). Weights depend on nothing, so here, in one block an SM, producer warps stream the block's share of
// every GEMV's rows, layer after layer, through rings of 8 KB slots in shared memory (cp.async.bulk; full / empty
// mbarriers) and wait only for a free slot, while consumer warps wait for each phase's input through a counter a
// phase in global memory (a grid-wide barrier only the consumers pay) and take their rows from the ring. A layer's
// phases: q|k|v (after the previous layer's down); attention, a warp a (KV head, key split) for all the head's q heads,
// with the q / k RMSNorm + RoPE and the KV-cache write in its prologue, a block's four splits of a KV head combined in
// its shared memory and the last of the head's blocks combining the blocks' (so the next phase waits for the KV heads,
// not for another round of every block); o (+ the residual);
// gate|up + SwiGLU; down (+ the residual). Each GEMV's input is staged in shared memory by every block (the RMSNorms
// computed there), a 4096-wide one then held in registers for its phase. The GEMVs sum in the graph GEMVs' order
// (chunk c = lane + 32 i of a row, in increasing i, then a warp sum); the norms and the attention in their own order,
// so the step agrees with the graph step to f32 rounding, not bit for bit (native/test/qwen3_cuda_test).
//
// With fp8 weights (Qwen3PersistentShape::fp8_weights) the layers' e4m3 copies stream through 4 KB slots and each row
// sums as ops/gemv_fp8's: 1.17x the graph of fp8 GEMVs on an H100 (302.0 / 289.0 tokens/s at 128/128 / 1024/256, 81%
// / 78% of their roofline), where the consumers, not the stream, are what the step waits on (bench/README
// "The persistent step with fp8 weights").
//
// Bounded waits: a wait that lasts 4 s prints where it was and traps (a schedule bug or a block that could not be
// resident fails the step instead of hanging the process). bench/decode_chain_bench.cu is the model it grew from.
// Tuning and diagnostics (Qwen3PersistentStep::tuning, ::timing) are swept and printed by bench/qwen3_decode_bench.cu.
#pragma once
#ifndef COSMOS_CUDA
#define COSMOS_CUDA 1
#endif
#include <cuda_bf16.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../core/cuda_context.h"

namespace cosmos {

// One decoder layer's device pointers: matmul weights bf16 [out, in], norm weights f32, the layer's K / V cache.
struct Qwen3PersistentLayer {
  const float* in_ln = nullptr;            // [hidden]
  const float* post_ln = nullptr;          // [hidden]
  const __nv_bfloat16* qkv = nullptr;      // [(heads + 2 kv_heads) head_dim, hidden]: q rows, k rows, v rows
  const float* q_norm = nullptr;           // [head_dim]
  const float* k_norm = nullptr;           // [head_dim]
  const __nv_bfloat16* o = nullptr;        // [hidden, heads head_dim]
  const __nv_bfloat16* gate_up = nullptr;  // [2 inter, hidden]: gate rows, then up rows
  const __nv_bfloat16* down = nullptr;     // [hidden, inter]
  void* k_cache = nullptr;  // [capacity, kv_heads, head_dim]: f32, or bf16 (Qwen3PersistentShape::kv_bf16)
  void* v_cache = nullptr;
  // With Qwen3PersistentShape::fp8_weights: the four matmuls' e4m3 copies ([out, in] bytes, layers/fp8_copies) and
  // their f32 scales a row (w[r, c] ~ scale[r] * dec(w8[r, c]), ops/gemv_fp8's operands), read instead of the bf16
  // ones.
  const uint8_t* qkv8 = nullptr;
  const uint8_t* o8 = nullptr;
  const uint8_t* gate_up8 = nullptr;
  const uint8_t* down8 = nullptr;
  const float* qkv_scale = nullptr;
  const float* o_scale = nullptr;
  const float* gate_up_scale = nullptr;
  const float* down_scale = nullptr;
};

struct Qwen3PersistentShape {
  int hidden = 0, inter = 0, heads = 0, kv_heads = 0, head_dim = 0, layers = 0;
  float eps = 1e-6f;  // every RMSNorm's (in_ln, post_ln, q / k norm, the final norm)
  // The layers' matmuls in e4m3 with a scale a row (issue 14 item 4, Qwen3TextCuda::set_fp8_weights), lm_head still in
  // bf16: half a layer's bytes, so the ring's slots are 4 KB (a 4096-wide e4m3 row) and each GEMV row sums as
  // ops/gemv_fp8's (16-value chunks, chunk c = lane + 32 i in increasing i, a warp sum, then the row's scale).
  bool fp8_weights = false;
  // The K / V cache in bf16 (layers/attention_block.h KvCache::k_bf16): the keys and values widened as read, the new
  // row rounded to nearest even as written; the arithmetic as with f32 rows.
  bool kv_bf16 = false;
};

// Tuning (bench/qwen3_decode_bench sweeps it; the defaults are what the engine runs). Measured and removed
// (bench/README "The persistent step measured"): the producers keeping rows ahead of the ring in L2 (much slower at any
// depth); the KV rows asked into L2 as a layer starts, and the producers holding a layer's o rows until its attention
// is combined (no change either). Session 59 ("The attention's splits combined in their block"): a split's first K
// rows asked for before its prologue, and down's input staged in one batch of loads (within the noise, ~0.4%).
struct Qwen3PersistentTuning {
  // The ring's copies read with an evict-first L2 policy (a weight row is read once a step), so that they do not push
  // out the activations, the partials or the KV cache (2-3% faster on an H100).
  bool copies_evict_first = true;
  // lm_head in the step (when Qwen3PersistentStep::lm_head is given): the producers stream its rows right after the
  // last layer's, the consumers take them after the final norm, so HBM does not drain and ramp up again between the
  // layers and a separate lm_head GEMV. Its logits sum in this kernel's order, not gemv_decode's (f32 rounding apart).
  bool lm_head_in_step = true;
  // The attention's key splits of one KV head at most (1..64; a split is one consumer warp's item). With the warp
  // combine below, 32: at Qwen3-8B's 8 KV heads 64 gave every warp an item half as long for a combine of twice the
  // partials, 3% slower at 1024/256 on an H100. With the block combine (the default) 64 (16 blocks a KV head): a
  // split's combine is cheap there (2026-12-07, H100, 1024/256: 179.0 against 178.0 tokens/s with 32).
  int max_splits = 64;
  // The splits combined in two levels once they make at least this many groups of 8 (0: always one level), with the
  // warp combine only: the last split of each group combines its group, the last group's the groups (two dependent
  // rounds of ~1-2 L2 round trips and a counter, where one warp takes ~8 round trips for 32 splits x 4 heads). At
  // 1024/256 (32 splits, 4 groups) the step 1.1% faster on an H200 (226.7 against 224.2 tokens/s) and 0.6% on an H100;
  // at 128/128 (12 splits, 2 groups) two levels were 1.3% slower on both, a level more for little to combine.
  int two_level_from_groups = 4;
  // Keys a split at least, before another split pays for its combine: 8 (one batch a split) with the block combine,
  // whose splits are cheap to combine; the warp combine had 16.
  int keys_per_split = 8;
  // The attention a block an item (the default): a block's four consumer warps take four splits of one KV head and
  // combine them in shared memory, and the last of the head's blocks combines the blocks' partials (splits then a
  // multiple of four; a shape whose four partials do not fit the block's staging keeps the warp combine). Off: a warp
  // an item, the last split of a KV head combining every split's partial from L2 (~8
  // dependent round trips for 32 splits x 4 heads). 2026-12-07, H100, against the warp combine's 32 splits of 16 keys:
  // 128/128 179.8 -> 184.1 tokens/s, 1024/256 172.2 -> 179.0; "wait: attention for o" 346 -> 178 us a step (128/128).
  bool block_combine = true;
  // Blocks in the grid (0: one an SM, 132 on an H100 / H200). Every GEMV's rows go round-robin over the grid's
  // 4 x blocks consumer warps, so at 132 blocks (528 warps) Qwen3-8B's phases end unevenly: gate|up's 12288 row pairs
  // give 144 warps one pair more than the rest (~2.8 us of HBM share), down's 4096 rows 400 warps one row more (~4 us),
  // q|k|v's 6144 rows 336 one more; the next phase's grid-wide wait waits for those. At 128 blocks (512 warps) all four
  // divide evenly, for 3% fewer SMs streaming. The same bits at any count (a row's sum is one warp's, in the same
  // order; the block combine's blocks a KV head stay within max_splits; the warp combine's splits, capped at the grid's
  // warps a KV head, may change below 64 x kv_heads warps). Session 60 (2026-12-07, four H100 calls and an H200 one):
  // +0.4% on average (-0.3% to +0.8%), the timed twin's waits hardly changed; kept an opt-in. Also measured there and
  // removed: the producers claiming rows from a counter (the waits gone, the step no faster on an H100 and 9% slower
  // on an H200: an atomic a row).
  int grid_blocks = 0;
  // A ring's slots at most (0: as many as fit beside the staging, 5 of 8 KB a warp for Qwen3-8B). 4 slots ran as
  // fast as 5 (session 60): the step is not short of bytes in flight; its ring is full at every grid-wide wait.
  int ring_slots = 0;
  // KB of its next rows beyond the ring each producer asks L2 for (cp.async.bulk.prefetch.L2), once each time the
  // block's consumers end a phase while its ring is full (0: never). The timed twin finds every ring full at every
  // grid-wide wait (session 60), so a block's share of HBM stops for the wait, the staging after it and the attention
  // (~0.6-0.7 ms a step over the stream alone); rows asked of L2 there keep HBM busy and refill the ring at L2's speed
  // after it. The look-ahead of 2026-12-05 asked all the time (64-160 KB a warp, 34-85 MB in all) and was much slower;
  // this asks at the boundaries alone (24 KB a warp: 12.7 MB). Session 61 (H100, three calls): +0.9-1.5% at 128/128,
  // -0.2-+0.7% at 1024/256, -0.5% / -1.7% with fp8 weights (the rings stay full at the waits; the attention's KV reads
  // slower). qwen3_cuda_test's bit-for-bit row has it at 32, bench/qwen3_decode_bench sweeps 24.
  int boundary_prefetch_kb = 0;
  // Diagnostic, never the engine's: the consumers only take and give back the ring's slots (no phases waited for, no
  // arithmetic; the logits are garbage), so the step times the producers' stream of the real rows alone: the ceiling
  // of this scheme on the device (bench/qwen3_decode_bench prints it apart from the sweep). Session 60: 104-106% of
  // the D2D roofline (H100 209.8, H200 299.6 tokens/s against the defaults' 183.2 and 247.7).
  bool stream_only = false;
  // Diagnostics as stream_only (garbage logits), each leaving one part of the consumers' work out, so that the step's
  // time between the stream's and the defaults' can be placed: skip_attention, the attention items and the wait for
  // them (o reads whatever att holds); skip_waits, every grid-wide wait (a phase reads its input as it stands).
  // Session 60, 128/128: without the attention 191.2 (H100) / 260.4 (H200) tokens/s, without it and the waits 205.0 /
  // 269.1.
  bool skip_attention = false;
  bool skip_waits = false;
};

struct Qwen3PersistentStep {
  const Qwen3PersistentLayer* layers = nullptr;  // device array of shape.layers entries
  const float* final_norm = nullptr;             // [hidden]
  float* x = nullptr;                            // [hidden]: the token's embedding in, the residual stream out
  float* h = nullptr;                            // [hidden]: final_norm(x) out, lm_head's input (not with lm_head)
  // With tuning.lm_head_in_step: lm_head's bf16 weights [vocab, hidden] and the logits row out (h is then not written).
  const __nv_bfloat16* lm_head = nullptr;
  float* logits = nullptr;
  int vocab = 0;
  const float* cos = nullptr;  // [head_dim]: the token's rotary tables (mrope_tables_cuda)
  const float* sin = nullptr;
  const int* row_dev = nullptr;   // the KV-cache row this token writes (n_past)
  const int* n_kv_dev = nullptr;  // the keys it attends to (n_past + 1; the last is its own)
  float* workspace = nullptr;     // qwen3_decode_persistent_workspace_floats(shape) floats
  unsigned* counters = nullptr;   // qwen3_decode_persistent_counters(shape) (zeroed by every call)
  Qwen3PersistentTuning tuning;
  // Diagnostics, optional: qwen3_decode_persistent_blocks() rows of kQwen3PersistentTimeFields, where each block's
  // time goes (Qwen3PersistentTime), added up over every step run (a kernel of its own: the untimed one is unchanged).
  unsigned long long* timing = nullptr;
};

// The fields of a block's timing row: clock64 cycles, but kTimeStepNs (global nanoseconds, to convert them).
enum Qwen3PersistentTime {
  kTimeStep,           // consumer warp 0: the kernel, first instruction to last
  kTimeStepNs,         // the same in ns
  kTimeSteps,          // steps run (a count)
  kTimeWaitX,          // consumer warp 0 waiting for x whole (the previous layer's down) before q|k|v or lm_head
  kTimeWaitQkv,        // ... for q|k|v before the attention
  kTimeWaitAttention,  // ... for every KV head's attention before o
  kTimeWaitO,          // ... for o (x whole) before gate|up
  kTimeWaitGateUp,     // ... for the SwiGLU's output before down
  kTimeStage,          // consumer warp 0 staging GEMV inputs (the RMSNorms)
  kTimeAttention,      // consumer warps in attention work items (added over the block's consumer warps)
  kTimeSlotWait,       // consumer warps waiting for a full ring slot (added over them): the stream is behind
  kTimeFreeWait,       // producer warps waiting for a free slot (added over them): the consumers are behind
  kTimeProducer,       // producer warps, first row to last (added over them)
  // The attention items' parts, added over the block's items (reported an item): the prologue (q, k, v loaded, q normed
  // and rotated, the token's k / v written), the keys, the partials stored and counted (block_combine: stored in shared
  // memory, and the block's barrier), and the combine (reported a combine; kTimeAttCombines of them: with
  // block_combine every warp of an item's block, its share of the block's combine and, in the last block, the head's).
  kTimeAttItems,
  kTimeAttPrologue,
  kTimeAttKeys,
  kTimeAttPartials,
  kTimeAttCombines,
  kTimeAttCombine,
  // Consumer warp 0's grid-wide waits (a count), and the slots of its ring that had landed (full, the consumer not
  // there yet) at each one's start and at its end, added up: a ring full at a wait's end stopped its share of HBM.
  kTimeGridWaits,
  kTimeLandedAtWaitStart,
  kTimeLandedAtWaitEnd,
  kQwen3PersistentTimeFields
};
// The grid the kernel runs (one block an SM): the timing buffer's rows. 0 without a CUDA device.
int qwen3_decode_persistent_blocks();
// The timing buffer (copied to the host) as lines for a person: each field in us a step, mean and max over the blocks
// (a field added over warps: a warp's mean).
std::string qwen3_decode_persistent_timing_report(const unsigned long long* rows, int blocks);

// Whether the kernel serves this shape on the current device: sm_90, head_dim 128, heads a multiple of kv_heads,
// hidden, inter and heads * head_dim multiples of 8 (of 16 with fp8_weights), and one block an SM with a ring of >= 2
// slots a warp.
bool qwen3_decode_persistent_fits(const Qwen3PersistentShape& s);
size_t qwen3_decode_persistent_workspace_floats(const Qwen3PersistentShape& s);
size_t qwen3_decode_persistent_counters(const Qwen3PersistentShape& s);

// Enqueues one step on ctx.stream: a memset of the counters and one launch (both capturable in a CUDA graph). Ask
// qwen3_decode_persistent_fits first (it alone checks that one block an SM is resident, which the grid-wide waits
// need); a shape it refuses for its size or head_dim throws ModelError here.
void qwen3_decode_persistent_cuda(const Qwen3PersistentShape& s, const Qwen3PersistentStep& step,
                                  const CudaContext& ctx);

}  // namespace cosmos
