"""The diffusers baseline for the Cosmos 3 Generator bench (issue 12 item 9), run on the GPU machine.

diffusers' own classes (src/ at commit 58eb52c0, carried as .dev/diffusers_src.tgz, on PYTHONPATH), random bf16
weights built on the GPU directly (torch's default device = cuda, default dtype = bf16, so the 15 B parameters
take seconds, not a host copy):

  forward   a Nano-shape Cosmos3OmniTransformer (hidden 4096, 36 layers, 32 / 8 heads, intermediate 12288, action
            and sound heads as the real config), one t2v forward = one CFG branch, 512 text tokens, 189 frames
            (48 latent frames, every frame noisy) at 256p 320x192 / 480p 832x480 / 720p 1280x720 = 2,880 /
            18,720 / 44,160 vision tokens. The inputs are built as Cosmos3OmniPipeline builds them
            (_prepare_text_segment / _prepare_vision_segment: float mRoPE positions with fps modulation at 24 fps,
            the vision segment offset by the text length + 15000). Warm-up, then the median of --reps.
  vae       AutoencoderKLWan with the Wan2.2 config (§3.2 of cosmos3-generator.md; latents mean / std 0 / 1: they
            do not change the work), decode of 48 latent frames -> 189 frames at 480p (and 720p), after a 2-frame
            warm-up, one timed decode each (they take seconds).
  e2e       480p t2v as the pipeline's loop runs it, tokenization excluded: 35 UniPC steps (the converter's
            scheduler config with the documented video setting flow_shift 10, Karras off) x (cond + uncond
            forward, CFG 6) + the latent denormalisation and VAE decode.

  pipeline  whole requests through Cosmos3OmniPipeline.__call__ itself (the same transformer, VAE, the UniPC above,
            the cosmos3-tiny fixture's text tokenizer, safety checker off, output_type "np"): --pipeline-runs
              t2v480   480x832, 189 frames, 35 steps, CFG 6;
              policy   CosmosActionCondition policy, chunk 16 (17 frames), tier 256, a 256x320 image (= the
                       tier's 1.25 canvas, no padding), bridge_orig_lerobot (10 wide), 30 steps, guidance 1, fps 15;
              fdyn     forward dynamics, chunk 60 (61 frames), tier 480, a 480x640 image (padded to 544x736),
                       60 x 10 raw actions, 30 steps, guidance 1, fps 15.
            Each row says how many transformer calls ran and the text length of the first (cond) and second call
            (bench/run.sh passes those to ours). The pipeline VAE-encodes the whole conditioning clip for action
            runs (the first frame repeated to 17 / 61 frames); ours encodes the clean frame only.

Prints JSON lines {"row", "impl": "diffusers", "s", "peak_gib", ...}; bench/cosmos3_bench_join.py pairs them with
ours (same row names). Peak = torch.cuda.max_memory_allocated during the row (weights included).

  PYTHONPATH=/tmp/dsrc/src python3 bench/cosmos3_diffusers_bench.py forward vae e2e pipeline [--reps 3]
      [--shapes 256p,480p,720p] [--vae-shapes 480p,720p] [--vae-720p-latent-frames N] [--pipeline-runs ...]
"""

import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

SHAPES = {"256p": (192, 320), "480p": (480, 832), "720p": (720, 1280)}  # height, width
FRAMES = 189
TEXT_TOKENS = 512
NANO = dict(
    hidden_size=4096,
    intermediate_size=12288,
    num_hidden_layers=36,
    num_attention_heads=32,
    num_key_value_heads=8,
    head_dim=128,
    vocab_size=151936,
    rope_theta=5e6,
    rope_scaling={"mrope_interleaved": True, "mrope_section": [24, 20, 20], "rope_type": "default"},
    action_gen=True,
    action_dim=64,
    sound_gen=True,
    sound_dim=64,
)
WAN22_VAE = dict(
    base_dim=160,
    z_dim=48,
    is_residual=True,
    in_channels=12,
    out_channels=12,
    decoder_base_dim=256,
    scale_factor_temporal=4,
    scale_factor_spatial=16,
    patch_size=2,
    latents_mean=[0.0] * 48,
    latents_std=[1.0] * 48,
)


def emit(row, **fields):
    print(json.dumps({"row": row, "impl": "diffusers", **fields}), flush=True)


def gib(n):
    return round(n / 2**30, 2)


def timed(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0, out


def on_gpu_bf16(make):
    """Builds a module on the GPU in bf16 directly (default device cuda, default dtype bf16); where this torch
    refuses bf16 as the default dtype, in f32 on the GPU and then cast (the transformer's f32 copy fits on an H200)."""
    try:
        torch.set_default_dtype(torch.bfloat16)
    except (TypeError, RuntimeError):
        pass
    try:
        with torch.device("cuda"):
            module = make()
    finally:
        torch.set_default_dtype(torch.float32)
    module = module.to(torch.bfloat16)
    torch.cuda.empty_cache()
    return module.eval().requires_grad_(False)


def build_transformer():
    from diffusers import Cosmos3OmniTransformer

    return on_gpu_bf16(lambda: Cosmos3OmniTransformer(**NANO))


def latent_shape(height, width):
    return 48, 1 + (FRAMES - 1) // 4, height // 16, width // 16


def forward_kwargs(model, latents, timestep):
    """The pipeline's cond pass for a t2v request with every latent frame noisy (pipeline_cosmos3_omni.py
    _prepare_text_segment, _prepare_vision_segment, the transformer call in the denoising loop)."""
    from diffusers.pipelines.cosmos.pipeline_cosmos3_omni import (
        get_3d_mrope_ids_text_tokens,
        get_3d_mrope_ids_vae_tokens,
    )

    cfg = model.config
    dev = latents.device
    und_len = TEXT_TOKENS
    text_pos, next_offset = get_3d_mrope_ids_text_tokens(und_len, 0, use_float_positions=cfg.enable_fps_modulation)
    _, _, t, h, w = latents.shape
    p = cfg.latent_patch_size
    ph, pw = math.ceil(h / p), math.ceil(w / p)
    n_vision = t * ph * pw
    vision_pos, _ = get_3d_mrope_ids_vae_tokens(
        grid_t=t,
        grid_h=ph,
        grid_w=pw,
        temporal_offset=next_offset + cfg.unified_3d_mrope_temporal_modality_margin,
        reset_spatial_indices=cfg.unified_3d_mrope_reset_spatial_ids,
        fps=24.0,
        base_fps=float(cfg.base_fps),
        temporal_compression_factor=4,
    )
    gen = torch.Generator(device="cpu").manual_seed(0)
    ids = torch.randint(0, cfg.vocab_size, (und_len,), generator=gen)
    return dict(
        input_ids=ids.to(dev),
        text_indexes=torch.arange(und_len, device=dev),
        position_ids=torch.cat([text_pos, vision_pos], dim=1).to(dev),
        und_len=und_len,
        sequence_length=und_len + n_vision,
        vision_tokens=[latents],
        vision_token_shapes=[(t, ph, pw)],
        vision_sequence_indexes=torch.arange(und_len, und_len + n_vision, device=dev),
        vision_mse_loss_indexes=torch.arange(und_len, und_len + n_vision, device=dev),
        vision_timesteps=torch.full((n_vision,), float(timestep), device=dev),
        vision_noisy_frame_indexes=[torch.arange(t, device=dev)],
        return_dict=False,
    )


def bench_forward(model, shapes, reps):
    for name in shapes:
        height, width = SHAPES[name]
        latents = torch.randn(1, *latent_shape(height, width), device="cuda", dtype=torch.bfloat16)
        kw = forward_kwargs(model, latents, 900.0)
        n_vision = kw["sequence_length"] - TEXT_TOKENS
        torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            model(**kw)  # warm-up
            times = [timed(lambda: model(**kw))[0] for _ in range(reps)]
        emit(
            f"transformer_forward_{name}",
            s=round(statistics.median(times), 4),
            times=[round(x, 4) for x in times],
            vision_tokens=n_vision,
            text_tokens=TEXT_TOKENS,
            peak_gib=gib(torch.cuda.max_memory_allocated()),
        )
        del kw, latents
        torch.cuda.empty_cache()


def build_vae():
    from diffusers import AutoencoderKLWan

    return on_gpu_bf16(lambda: AutoencoderKLWan(**WAN22_VAE))


def bench_vae(vae, shapes, latent_frames_720p=None):
    for name in shapes:
        height, width = SHAPES[name]
        _, t, h, w = latent_shape(height, width)
        if name == "720p" and latent_frames_720p:
            t = min(t, latent_frames_720p)
        z = torch.randn(1, 48, t, h, w, device="cuda", dtype=torch.bfloat16)
        with torch.no_grad():
            vae.decode(z[:, :, :2]).sample  # warm-up (cuDNN plans, allocator)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            s, video = timed(lambda: vae.decode(z).sample)
        emit(
            f"vae_decode_{name}",
            s=round(s, 3),
            latent=[48, t, h, w],
            frames=int(video.shape[2]),
            peak_gib=gib(torch.cuda.max_memory_allocated()),
            weights_gib=gib(sum(p.numel() * p.element_size() for p in vae.parameters())),
            chunking="AutoencoderKLWan.decode as the pipeline calls it: no tiling / slicing (off by default), "
            "its _decode loops one latent frame at a time with the causal cache",
        )
        del z, video
        torch.cuda.empty_cache()


def bench_e2e(model, vae, steps, guidance):
    """480p t2v, 35 steps + CFG: the pipeline's denoising loop and decode, without its tokenizer."""
    sched = unipc()
    height, width = SHAPES["480p"]
    gen = torch.Generator(device="cuda").manual_seed(0)
    latents = torch.randn(1, *latent_shape(height, width), device="cuda", dtype=torch.float32, generator=gen)
    cond = forward_kwargs(model, latents.to(torch.bfloat16), 0.0)
    uncond = dict(cond)  # same length: the figure is per forward; a different prompt length changes nothing here
    torch.cuda.reset_peak_memory_stats()

    def run():
        nonlocal latents
        sched.set_timesteps(steps, device="cuda")
        for t in sched.timesteps:
            tokens = latents.to(torch.bfloat16)
            ts = torch.full_like(cond["vision_timesteps"], t.item())
            v_cond = model(**{**cond, "vision_tokens": [tokens], "vision_timesteps": ts})[0][0]
            v_uncond = model(**{**uncond, "vision_tokens": [tokens], "vision_timesteps": ts})[0][0]
            velocity = v_uncond + guidance * (v_cond - v_uncond)
            velocity = velocity.to(latents.dtype)
            latents = sched.step(velocity.unsqueeze(0), t, latents.unsqueeze(0), return_dict=False)[0].squeeze(0)
        return vae.decode(latents.to(torch.bfloat16)).sample

    with torch.no_grad():
        s, video = timed(run)
    emit(
        "e2e_t2v_480p_35steps_cfg",
        s=round(s, 2),
        steps=steps,
        frames=int(video.shape[2]),
        finite=bool(torch.isfinite(video).all().item()),
        peak_gib=gib(torch.cuda.max_memory_allocated()),
    )


def unipc():
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        use_karras_sigmas=False,
        use_flow_sigmas=True,
        prediction_type="flow_prediction",
        sigma_max=200.0,
        sigma_min=0.147,
        flow_shift=10.0,
    )


TOKENIZER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "cosmos3-tiny",
                             "text_tokenizer")


def bench_pipeline(model, vae, runs):
    """Cosmos3OmniPipeline.__call__ end to end, per run: wall time, transformer calls and their text lengths, peak."""
    import numpy as np
    from PIL import Image
    from transformers import AutoTokenizer
    from diffusers import Cosmos3OmniPipeline
    from diffusers.pipelines.cosmos.pipeline_cosmos3_omni import CosmosActionCondition

    pipe = Cosmos3OmniPipeline(
        transformer=model,
        text_tokenizer=AutoTokenizer.from_pretrained(TOKENIZER_DIR),
        vae=vae,
        scheduler=unipc(),
        enable_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    calls = []

    def record(_module, _args, kwargs):
        calls.append(int(kwargs.get("und_len", 0)))

    hook = model.register_forward_pre_hook(record, with_kwargs=True)
    rng = np.random.default_rng(0)

    def image(h, w):
        return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))

    specs = {
        "t2v480": dict(prompt="A red cube slides across a wooden table while the camera pans slowly to the left.",
                       num_frames=189, height=480, width=832, num_inference_steps=35, guidance_scale=6.0),
        "policy": dict(prompt="Pick up the red cube", fps=15.0, num_inference_steps=30, guidance_scale=1.0,
                       action=CosmosActionCondition(mode="policy", chunk_size=16, domain_name="bridge_orig_lerobot",
                                                    resolution_tier=256, image=image(256, 320))),
        "fdyn": dict(prompt="Pick up the red cube", fps=15.0, num_inference_steps=30, guidance_scale=1.0,
                     action=CosmosActionCondition(mode="forward_dynamics", chunk_size=60,
                                                  domain_name="bridge_orig_lerobot", resolution_tier=480,
                                                  image=image(480, 640),
                                                  raw_actions=torch.rand(60, 10) * 2 - 1)),
    }
    try:
        for name in runs:
            kw = specs[name]
            calls.clear()
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
            gen = torch.Generator(device="cuda").manual_seed(0)
            try:
                with torch.no_grad():
                    s, out = timed(lambda: pipe(**kw, generator=gen, output_type="np", enable_safety_check=False))
            except Exception as e:  # one run failing leaves the others measured
                emit(f"engine_{name}_error", error=f"{type(e).__name__}: {e}"[:400], transformer_calls=len(calls))
                continue
            video = np.asarray(out.video)
            emit(
                f"engine_{name}",
                s=round(s, 3),
                transformer_calls=len(calls),
                text_tokens=calls[0] if calls else None,
                uncond_text_tokens=calls[1] if len(calls) > 1 and kw["guidance_scale"] != 1.0 else None,
                video_shape=list(video.shape),
                finite=bool(np.isfinite(video).all()),
                peak_gib=gib(torch.cuda.max_memory_allocated()),
                note="Cosmos3OmniPipeline.__call__ (tokenizer: cosmos3-tiny fixture), output_type np",
            )
    finally:
        hook.remove()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="+", choices=["forward", "vae", "e2e", "pipeline"])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--shapes", default="256p,480p,720p")
    ap.add_argument("--no-720p-vae", action="store_true")
    ap.add_argument("--vae-shapes", default="480p,720p")
    ap.add_argument("--vae-720p-latent-frames", type=int, default=0)
    ap.add_argument("--pipeline-runs", default="policy,fdyn,t2v480")
    ap.add_argument("--steps", type=int, default=35)
    args = ap.parse_args()
    t0 = time.perf_counter()
    model = vae = None
    if "forward" in args.what or "e2e" in args.what or "pipeline" in args.what:
        s, model = timed(build_transformer)
        params = sum(p.numel() for p in model.parameters())
        emit("transformer_build", s=round(s, 1), params_b=round(params / 1e9, 2), weights_gib=gib(2 * params))
    if "forward" in args.what:
        bench_forward(model, args.shapes.split(","), args.reps)
    if "vae" in args.what or "e2e" in args.what or "pipeline" in args.what:
        vae = build_vae()
    if "vae" in args.what:
        shapes = ["480p"] if args.no_720p_vae else args.vae_shapes.split(",")
        bench_vae(vae, shapes, args.vae_720p_latent_frames or None)
    if "e2e" in args.what:
        bench_e2e(model, vae, args.steps, 6.0)
    if "pipeline" in args.what:
        bench_pipeline(model, vae, args.pipeline_runs.split(","))
    print(json.dumps({"row": "diffusers_total", "s": round(time.perf_counter() - t0, 1)}), file=sys.stderr)


if __name__ == "__main__":
    main()
