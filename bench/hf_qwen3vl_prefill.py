"""transformers baseline for bench/qwen3vl_prefill_bench.cu: the same Qwen3-VL-8B shapes
(Qwen3VLForConditionalGeneration, bf16, random init on the GPU, default attention = sdpa, eager PyTorch),
one forward (vision tower + prefill, logits of the last token only) for a 1280x720 image (grid [1, 44, 80])
and a 16-frame 854x480 video (grid [8, 30, 54], one <t seconds> label + vision_start/end per frame group as
the processor lays it out), with the same token counts as the CUDA bench. Prints time, tokens/s and
torch.cuda.max_memory_allocated. Each case is timed twice: from pixels made on the GPU in bf16 (the figure of record
since issue 14's first table), and from the processor's form, float32 pixels in host memory, sent up inside the timed
call as `inputs.to(model.device)` does (the model casts them to bf16 on the GPU): ours is timed from host float32
pixels too (qwen3vl_prefill_bench stages and sends them up inside its tower). Run on the GPU machine: python3 bench/hf_qwen3vl_prefill.py"""
import json
import os
import time

import torch
from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

IMG, VID, START, END = 151655, 151656, 151652, 151653
cfg = Qwen3VLConfig(
    text_config=dict(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                     num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-6,
                     max_position_embeddings=262144, tie_word_embeddings=False,
                     rope_parameters=dict(rope_type="default", rope_theta=5e6, mrope_section=[24, 20, 20],
                                          mrope_interleaved=True)),
    vision_config=dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16, out_hidden_size=4096,
                       patch_size=16, spatial_merge_size=2, temporal_patch_size=2, num_position_embeddings=2304,
                       deepstack_visual_indexes=[8, 16, 24], hidden_act="gelu_pytorch_tanh"),
    image_token_id=IMG, video_token_id=VID, vision_start_token_id=START, vision_end_token_id=END,
    tie_word_embeddings=False)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
t0 = time.time()
with torch.device("cuda"):
    model = Qwen3VLForConditionalGeneration(cfg).eval()
torch.cuda.synchronize()
weights = torch.cuda.memory_allocated()
print(f"init {time.time() - t0:.1f} s, weights {weights / 2**30:.2f} GiB, attn {model.config._attn_implementation}",
      flush=True)


def text(n):
    return torch.randint(0, 150000, (n,)).tolist()


def image_case():
    ids = text(14) + [START] + [IMG] * 880 + [END] + text(14)
    px = torch.rand(3520, 1536, device="cuda") * 2 - 1
    return ids, dict(pixel_values=px, image_grid_thw=torch.tensor([[1, 44, 80]], device="cuda"))


def video_case():
    ids = text(15)
    for _ in range(8):  # per frame group: "<t seconds>" label, then its 405 merged patches
        ids += text(4) + [START] + [VID] * 405 + [END]
    ids += text(15)
    px = torch.rand(12960, 1536, device="cuda") * 2 - 1
    return ids, dict(pixel_values_videos=px, video_grid_thw=torch.tensor([[8, 30, 54]], device="cuda"))


@torch.inference_mode()
def run(ids, media, host_pixels=False):
    """One timed forward; host_pixels: media holds the processor's host float32 tensors, sent up inside the timing."""
    torch.cuda.synchronize()
    t = time.time()
    if host_pixels:
        media = {k: v.to("cuda") for k, v in media.items()}  # BatchFeature.to(device): pageable, float32 kept
    x = torch.tensor([ids], device="cuda")
    # What the processor returns beside input_ids (transformers 5 needs it for the M-RoPE positions):
    # 1 at image pads, 2 at video pads.
    tt = torch.zeros_like(x)
    tt[x == IMG] = 1
    tt[x == VID] = 2
    out = model(input_ids=x, attention_mask=torch.ones_like(x), mm_token_type_ids=tt, use_cache=True,
                logits_to_keep=1, **media)
    out.logits.argmax(-1)
    torch.cuda.synchronize()
    return time.time() - t


rows = []
for name, make in (("image 1280x720", image_case), ("video 16 x 854x480", video_case)):
    ids, media = make()
    host = {k: v.to("cpu", torch.float32 if v.is_floating_point() else v.dtype) for k, v in media.items()}
    run(ids, media)  # warm-up
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    # The median of REPS timed runs (HF_REPS, default 5): one run's time moved by tens of percent between calls
    # (58.4 and 99.2 ms for the image on the same H200 model, 2026-12-01).
    reps = int(os.environ.get("HF_REPS", "5"))
    times = sorted(run(ids, media) for _ in range(reps))
    dt = times[len(times) // 2]
    peak = torch.cuda.max_memory_allocated()
    host_times = sorted(run(ids, host, host_pixels=True) for _ in range(reps))
    dt_host = host_times[len(host_times) // 2]
    print(f"{name:20s} tokens {len(ids)}: tower+prefill {dt * 1e3:.1f} ms = {len(ids) / dt:.0f} tokens/s "
          f"(median of {len(times)}: {', '.join(f'{t * 1e3:.1f}' for t in times)} ms), "
          f"peak allocated {peak / 2**30:.2f} GiB (weights {weights / 2**30:.2f}); from host float32 pixels "
          f"{dt_host * 1e3:.1f} ms (median of {len(host_times)}: {', '.join(f'{t * 1e3:.1f}' for t in host_times)} ms)",
          flush=True)
    rows.append({"case": name, "tokens": len(ids), "ms": round(dt * 1e3, 1), "tokens_per_s": round(len(ids) / dt),
                 "peak_bytes": peak, "ms_host_pixels": round(dt_host * 1e3, 1)})
print(json.dumps({"bench": "qwen3vl_8b_tower_prefill_transformers", "device": torch.cuda.get_device_name(),
                  "weight_bytes": weights, "cases": rows}))
