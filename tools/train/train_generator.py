"""Trains the mini Generator (issue 16): a small Wan2.2-style `AutoencoderKLWan` and then a small
`Cosmos3OmniTransformer` with `action_gen`, on the procedural world's clips (tools/train/generator_data.ts:
raw uint8 frames + one JSON line per seed), and writes a diffusers-layout checkpoint
(`Cosmos3OmniPipeline.save_pretrained`: model_index.json, transformer/, vae/, scheduler/, text_tokenizer/,
bf16 safetensors in shards of at most 15 MB) plus `cosmos-ts.json`, which the native engine loads.

Runs on the GPU machine (torch 2.11, diffusers 58eb52c0 `src/` on PYTHONPATH, no internet):

    PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/dsrc/src python3 tools/train/train_generator.py \
        --data /dev/shm/g/* --out /tmp/ckpt --state /tmp/st --vae-seconds 120 --until 480

Phase 1, the VAE: AutoencoderKLWan (z 48, patch 2, 16x spatial / 4x temporal, as the engine and the
transformer's `latent_channel` 48 expect) trained on random 9-frame windows of the clips (the causal
first-frame chunk and one 4-frame chunk both appear): L1 + L2 on pixels and a small KL on the posterior,
sampling the posterior so the latent space is smooth. Then every clip is encoded (the posterior's mode, as
the pipeline's `_encode_video` does) and the per-channel latent mean / std are written into the VAE config
(`latents_mean` / `latents_std`: the pipeline normalises with them).

Phase 2, the transformer: flow matching exactly as `Cosmos3OmniPipeline` samples. The scheduler
(UniPC, `prediction_type="flow_prediction"`, `use_flow_sigmas`) takes `x0 = x_t - sigma * v` from the model
output, with `x_t = (1 - sigma) x0 + sigma eps`; so the target velocity is `v = eps - x0`. The transformer
sees `timestep = sigma * 1000` (the scheduler's timesteps; the model scales by `timestep_scale` 0.001).
Sigmas are drawn from the distribution the inference schedule spans (Karras rho 7 between the config's
sigma_min 0.147 and sigma_max 200, mapped to flow sigmas s / (1 + s)), 20% uniform in (0, 1).
Modes mixed in every batch, each with the conditioning the pipeline applies at inference (clean positions
keep their clean latents, get no timestep embedding, and carry no loss; the pipeline zeroes the velocity
there):
  t2v    all latent frames noisy;                         prompt + templates (tokenize_prompt)
  i2v    latent 0 clean (frame 0 alone, as the pipeline encodes the repeated first frame; the VAE is causal)
  fdyn   latent 0 and all 16 action rows clean;            action JSON prompt from the instruction
  policy latent 0 clean; the other frames and the actions noisy
  idyn   all latent frames clean; the actions noisy
  t2i    (--t2i-batch, a batch of its own added to every step) the clip's first frame alone, one latent frame,
         noisy; the prompt with the image templates (num_frames 1)
Text is dropped to the negative prompt (with the inverse templates, as the pipeline's uncond pass) 10% of
the time, for classifier-free guidance. Video prompts come half with diffusers' duration + resolution templates
(its default) and half without (vLLM-Omni's and cosmos-ts's default). Actions: the world's 10D single-arm rows (droid_lerobot), zero-padded
to action_dim 16, the loss on the 10 raw columns only (the pipeline zeroes the rest).

The diffusers transformer takes one sample per call; training batches samples through the same modules
(`batched_forward`: text padded per batch, a key mask for the padding and for the action tokens of
t2v / i2v samples, per-sample mRoPE positions from the pipeline's own `_prepare_*_segment`). At start-up it
is checked against `Cosmos3OmniTransformer.forward` with the pipeline's packing for every mode in fp32; if it
disagrees the run stops (no silent fallback). A pipeline built from a saved checkpoint is run for 2 steps
(t2v and policy) before training, and the final checkpoint is reloaded and run end to end.

Resumable: `--state DIR` (fp32 weights, AdamW moments, steps) is loaded when present and rewritten at the
end; `--init CKPT` starts from a checkpoint's weights (a phase with 0 seconds keeps its weights). The
checkpoint is written every `--save-every` seconds of transformer training.

The und tower from the Reasoner: in Cosmos 3 the Generator's und (text) tower is the Reasoner's language model
(shared/reference/cosmos3-generator.md 1.1; diffusers' und half of `Cosmos3VLTextMoTDecoderLayer` is a Qwen3
decoder layer). `--und-from DIR` copies the language model of a Qwen3-VL checkpoint (the mini Reasoner) into the
und tower, after checking every shared dimension (`--grow-width` / `--grow-mlp` / `--grow-kv` make a loaded
transformer fit: the mini Reasoner's is 256 wide, 4 heads / 2 key/value heads, MLP 640); the start-up check runs
every und layer of the pipeline's own packing against transformers' `Qwen3VLForConditionalGeneration` on the same
prompt and stops the run when they differ. `--freeze-und` then trains the gen tower only.
"""
import argparse
import copy
import glob
import json
import math
import os
import shutil
import sys
import time

T0 = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(ROOT, "test", "fixtures", "cosmos3-tiny")
DOMAIN = "droid_lerobot"
RAW_ACTION_DIM = 10
MODES = ("t2v", "i2v", "fdyn", "policy", "idyn")
MODE_WEIGHTS = (0.3, 0.2, 0.2, 0.15, 0.15)
ACTION_MODE_NAMES = {"fdyn": "forward_dynamics", "policy": "policy", "idyn": "inverse_dynamics"}
NOTE = ("a mini model trained by this project on a synthetic world, not Cosmos 3: a small Cosmos3OmniTransformer "
        "with action_gen and a small Wan2.2-style VAE (tools/train/train_generator.py)")


def mode_weights(text):
    """--mode-weights: five non-negative numbers separated by "/" (or ","), one per mode in MODES' order."""
    try:
        w = tuple(float(v) for v in text.replace(",", "/").split("/"))
    except ValueError:
        w = ()
    if len(w) != len(MODES) or min(w) < 0 or sum(w) <= 0:
        raise argparse.ArgumentTypeError(f"--mode-weights: five non-negative numbers for {'/'.join(MODES)}, "
                                         f"e.g. 0.45/0.25/0.15/0.08/0.07; got {text!r}")
    return w


def log(*a):
    print(f"[{time.time() - T0:7.1f}s]", *a, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="folders written by generator_data.ts")
    p.add_argument("--wait-data", type=float, default=0, help="wait up to this many seconds (in all) for the folders' DONE")
    p.add_argument("--delete-data", action="store_true", help="delete each frames.u8 once it is on the device")
    p.add_argument("--out", required=True, help="where the diffusers-layout checkpoint is written")
    p.add_argument("--state", help="training-state folder: loaded if present, rewritten at the end")
    p.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--fixture", default=FIXTURE, help="checkpoint whose text tokenizer and scheduler config are reused")
    p.add_argument("--vae-seconds", type=float, default=150, help="VAE training time (0: keep the VAE as loaded)")
    p.add_argument("--until", type=float, default=480, help="transformer training stops this many seconds after start")
    p.add_argument("--tail-seconds", type=float, default=40, help="time kept after training: save + final check")
    p.add_argument("--save-every", type=float, default=120)
    p.add_argument("--vae-batch", type=int, default=16)
    p.add_argument("--vae-lr", type=float, default=1e-3)
    p.add_argument("--vae-decoder-only", action="store_true",
                   help="the VAE phase trains the decoder alone, on whole clips from the frozen encoder's posterior "
                        "mode: the latents, their normalisation and so a loaded transformer stay valid")
    p.add_argument("--batch", type=int, default=96)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--text-dropout", type=float, default=0.1)
    p.add_argument("--mode-weights", type=mode_weights, default=MODE_WEIGHTS,
                   help=f"share of each mode in a batch, {'/'.join(MODES)} (default "
                        f"{'/'.join(str(w) for w in MODE_WEIGHTS)}; normalised)")
    p.add_argument("--text-push-share", type=float, default=0.0,
                   help="share of the text modes' (t2v, i2v) samples drawn from the push clips (\"the red cube slides to "
                        "the left\"), the rest from all clips; 0: every clip as often (default)")
    p.add_argument("--focus-weight", type=float, default=1.0,
                   help="weight of the latent cells that hold an object, the gripper or motion in the video loss "
                        "(focus_cells; the loss stays a weighted mean); 1: every cell the same (default)")
    p.add_argument("--first-frame-weight", type=float, default=1.0,
                   help="weight of the first latent frame in text-to-video samples' video loss (a weighted mean, on "
                        "top of --focus-weight): the frame the mini Generator's text-to-video recipe "
                        "(cosmos-ts.json \"first_frame_anchored\") keeps and moves by image-to-video; 1: off (default)")
    p.add_argument("--t2i-batch", type=int, default=0,
                   help="text-to-image samples added to every step (0: none, default): a clip's first frame alone "
                        "(latent 0 encoded by itself, one latent frame, all noisy) from its prompt with the image "
                        "templates, as the pipeline runs num_frames=1; the stage the text-to-video recipe "
                        "\"image_anchored\" starts from. Their clips are drawn as the text modes' (--text-push-share)")
    p.add_argument("--t2i-weight", type=float, default=1.0, help="weight of the text-to-image batch's loss")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-clips", type=int, default=0, help="use at most this many clips (0: all)")
    p.add_argument("--layers", type=int, default=10, help="transformer layers (a fresh model; --init keeps its own)")
    p.add_argument("--hidden", type=int, default=256, help="transformer hidden size (heads stay 64 wide)")
    p.add_argument("--heads", type=int, default=4, help="attention heads")
    p.add_argument("--kv-heads", type=int, default=2, help="key/value heads")
    p.add_argument("--mlp", type=int, default=768, help="MLP intermediate size")
    p.add_argument("--ema", type=float, default=0.0,
                   help="decay of an exponential moving average of the transformer's weights, updated every step "
                        "from the loaded ones; the final checkpoint (and --state's weights) holds the average, the "
                        "periodic saves the last weights (0: off, the last weights; e.g. 0.999: about the last "
                        "1,000 steps)")
    p.add_argument("--grow-layers", type=int, default=0,
                   help="with --init: a deeper transformer of this many layers, the loaded ones kept and each new "
                        "one a copy of the layer before it with its output projections zeroed, so the grown model "
                        "starts with the loaded one's output (0: keep the loaded depth)")
    p.add_argument("--grow-width", type=int, default=0,
                   help="with --init: a wider transformer of this hidden size (a multiple of 64: one more query head "
                        "every 64), the loaded weights kept and the new channels, heads and MLP units starting at "
                        "zero output, so the grown model starts with the loaded one's output (0: keep the width)")
    p.add_argument("--grow-mlp", type=int, default=0,
                   help="with --grow-width: the grown MLP's intermediate size (0: the loaded one's times the width's "
                        "growth)")
    p.add_argument("--grow-kv", type=int, default=0,
                   help="with --init: this many key/value heads (a multiple of the loaded count, each loaded head "
                        "repeated), so every query head still reads what it read before (0: keep them)")
    p.add_argument("--und-from", default="",
                   help="a Qwen3-VL checkpoint folder (the mini Reasoner): its language model becomes the und "
                        "tower (embed_tokens, the und half of every layer, norm, lm_head), as Cosmos 3's Generator's "
                        "und tower is its Reasoner's; its config must match the transformer's")
    p.add_argument("--freeze-und", action="store_true",
                   help="train the gen tower only: the und tower keeps the weights it was loaded with")
    p.add_argument("--repatch", type=int, default=0, choices=[0, 1],
                   help="with --init: 1 turns the loaded transformer's latent_patch_size 2 into 1 (a token per "
                        "latent cell, 16 x 16 pixels, against 32 x 32: the pushed object and the arm in tokens of "
                        "their own), its patch projections folded so a cell starts as the loaded model read a 2 x 2 "
                        "block of it; everything else kept (0: keep the loaded patch size)")
    p.add_argument("--no-self-check", dest="self_check", action="store_false")
    a = p.parse_args(argv)
    if not 0 <= a.ema < 1:
        p.error(f"--ema: a decay in [0, 1) (0: off); got {a.ema}")
    if a.grow_layers and not a.init:
        p.error("--grow-layers: only with --init (a fresh model takes --layers)")
    if (a.grow_width or a.grow_mlp) and not a.init:
        p.error("--grow-width / --grow-mlp: only with --init (a fresh model takes --hidden and --mlp)")
    if a.grow_mlp and not a.grow_width:
        p.error("--grow-mlp: with --grow-width")
    if a.grow_kv and not a.init:
        p.error("--grow-kv: only with --init (a fresh model takes --kv-heads)")
    if a.repatch and not a.init:
        p.error("--repatch: only with --init (a fresh model takes its patch size from transformer_config)")
    if not 0 <= a.text_push_share <= 1:
        p.error(f"--text-push-share: a share in [0, 1]; got {a.text_push_share}")
    if not a.focus_weight >= 1:
        p.error(f"--focus-weight: a weight >= 1 (1: off); got {a.focus_weight}")
    if not a.first_frame_weight >= 1:
        p.error(f"--first-frame-weight: a weight >= 1 (1: off); got {a.first_frame_weight}")
    if a.t2i_batch < 0 or not a.t2i_weight > 0:
        p.error(f"--t2i-batch: a count >= 0 (0: off), --t2i-weight: > 0; got {a.t2i_batch}, {a.t2i_weight}")
    return a


# ----------------------------------------------------------------------------------------------------------
# Configs: small, within the committed-weights budget (issue 16: all mini weights <= 64 MiB with the 10 MB
# mini Reasoner; bf16: transformer ~16 M params = 32 MB, VAE ~4 M = 8 MB)
# ----------------------------------------------------------------------------------------------------------


def transformer_config(vocab_size, layers=10, hidden=256, heads=4, kv_heads=2, mlp=768):
    return dict(
        action_dim=16, action_gen=True, attention_bias=False, attention_dropout=0.0, base_fps=24,
        enable_fps_modulation=True, head_dim=64, hidden_act="silu", hidden_size=hidden, intermediate_size=mlp,
        latent_channel=48, latent_patch_size=2, num_attention_heads=heads, num_embodiment_domains=32,
        num_hidden_layers=layers, num_key_value_heads=kv_heads, patch_latent_dim=192, qk_norm_for_text=True,
        rms_norm_eps=1e-6, rope_axes_dim=[12, 10, 10], rope_scaling=None, rope_theta=5000000.0,
        sound_gen=False, timestep_scale=0.001, unified_3d_mrope_reset_spatial_ids=True,
        unified_3d_mrope_temporal_modality_margin=15000, use_und_k_norm_for_gen=False, vocab_size=vocab_size)


def vae_config():
    return dict(
        attn_scales=[], base_dim=16, decoder_base_dim=24, dim_mult=[1, 2, 2, 2], dropout=0.0, in_channels=12,
        is_residual=True, latents_mean=[0.0] * 48, latents_std=[1.0] * 48, num_res_blocks=1, out_channels=12,
        patch_size=2, scale_factor_spatial=16, scale_factor_temporal=4, temperal_downsample=[False, True, True],
        z_dim=48)


# ----------------------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------------------


# The action chunks' gripper column as generator_data.ts records it (src/world/gripper.ts GRIPPER_CONVENTION):
# Cosmos 3's, 1 open ... 0 closed.
GRIPPER_CONVENTION = "1 open, 0 closed"


def load_data(folders, wait, max_clips, device, delete):
    """Clips of every folder whose writer finished (DONE; waited for up to `wait` seconds in all), as one uint8
    tensor [N, T, H, W, 3] on the device (moved folder by folder: the host never holds two copies)."""
    samples, parts = [], []
    deadline = time.time() + wait
    for d in folders:
        while wait and not os.path.exists(os.path.join(d, "DONE")) and time.time() < deadline:
            time.sleep(0.5)
        if wait and not os.path.exists(os.path.join(d, "DONE")):
            log(f"{d}: not finished in time, skipped")
            continue
        if not os.path.exists(os.path.join(d, "samples.jsonl")):
            log(f"{d}: no samples.jsonl, skipped")
            continue
        recs = [json.loads(line) for line in open(os.path.join(d, "samples.jsonl")) if line.strip()]
        if not recs:
            continue
        if recs[0].get("gripper") != GRIPPER_CONVENTION:
            # generator_data.ts before commit 92e9261 wrote the reverse (0 open, 1 closed) and no "gripper" field
            log(f"{d}: gripper column {recs[0].get('gripper', '0 open, 1 closed (no field)')!r}, not "
                f"{GRIPPER_CONVENTION!r}: skipped")
            continue
        f, h, w = recs[0]["frames"], recs[0]["height"], recs[0]["width"]
        raw = np.fromfile(os.path.join(d, "frames.u8"), dtype=np.uint8)
        if raw.size != len(recs) * f * h * w * 3:
            log(f"{d}: frames.u8 has {raw.size} bytes, expected {len(recs) * f * h * w * 3}: skipped")
            continue
        parts.append(torch.from_numpy(raw.reshape(len(recs), f, h, w, 3)).to(device))
        del raw
        if delete:
            os.remove(os.path.join(d, "frames.u8"))
        samples.extend(recs)
        if max_clips and len(samples) >= max_clips:
            break
    frames = torch.cat(parts) if len(parts) > 1 else parts[0]
    del parts
    if max_clips:
        frames, samples = frames[:max_clips], samples[:max_clips]
    return frames, samples


def to_unit(frames_u8):
    """uint8 [B, T, H, W, 3] on the GPU -> float [B, 3, T, H, W] in [-1, 1] (the pipeline's 2 x / 255 - 1)."""
    return frames_u8.permute(0, 4, 1, 2, 3).float().div(127.5).sub(1.0)


# ----------------------------------------------------------------------------------------------------------
# Phase 1: the VAE
# ----------------------------------------------------------------------------------------------------------


def pixel_weights(x):
    """Per-pixel loss weights of a [-1, 1] clip [B, 3, T, H, W]: the objects (saturated, bright) and the gripper
    (dark) count 16x the scenery. They cover ~2% of a frame; an unweighted loss let session 1's VAE (100 s)
    smooth them away (23.9 dB, objects gone)."""
    rgb = (x + 1) * 0.5
    mx, mn = rgb.max(1, keepdim=True).values, rgb.min(1, keepdim=True).values
    sat = (mx - mn) / (mx + 1e-3)
    objects = ((sat > 0.55) & (mx > 0.35)).float()
    dark = (mx < 0.3).float()
    return 1.0 + 15.0 * torch.clamp(objects + dark, max=1.0)


def focus_cells(frames_gpu, latent_shape, batch=64):
    """Latent cells [N, T', h, w] (bool) where what text-to-video is judged on lives: a cell is in focus when any
    pixel of its 16 x 16 patch, over the frames it encodes (latent 0 is frame 0 alone, the VAE being causal;
    latent k frames 4k-3 .. 4k), is an object or the gripper (pixel_weights > 1) or differs from frame 0 by more
    than 25/255 in a channel (where something was or now is): about a fifth of a clip's cells (the arm is large
    at 16 x 16). With a uniform loss the table outweighs the pushed object, and 98 of 200 held-out text-to-video
    clips (session 8) had no coherent object of the prompt's colour."""
    T, h, w = latent_shape
    out = []
    for i in range(0, frames_gpu.shape[0], batch):
        x = to_unit(frames_gpu[i:i + batch])  # [B, 3, F, H, W]
        m = (pixel_weights(x)[:, 0] > 1) | ((x - x[:, :, :1]).abs().amax(1) > 0.2)  # [B, F, H, W]
        m = m.float()
        B, Fr, H, W = m.shape
        m = torch.cat([m[:, :1], m[:, 1:].reshape(B, T - 1, (Fr - 1) // (T - 1), H, W).amax(2)], 1)
        out.append(F.max_pool2d(m, H // h) > 0)
    cells = torch.cat(out)
    assert tuple(cells.shape[1:]) == (T, h, w), (tuple(cells.shape), latent_shape)
    return cells


def train_vae(vae, frames_gpu, seconds, a):
    """Alternates 9-frame windows (batch a.vae_batch: the causal first-frame chunk and one 4-frame chunk) and
    single frames (3x the batch: the first-frame path, which i2v and the action modes condition on, at a third
    of the cost). With a.vae_decoder_only: the decoder alone (and post_quant_conv), on whole clips (what the
    pipeline decodes; half the batch) and single frames, from the encoder's posterior mode, which stays as it was:
    the transformer's latents do not move."""
    vae.train()
    dec_only = a.vae_decoder_only
    params = (list(vae.decoder.parameters()) + list(vae.post_quant_conv.parameters())) if dec_only \
        else list(vae.parameters())
    if dec_only:
        for prm in vae.parameters():
            prm.requires_grad_(False)
        for prm in params:
            prm.requires_grad_(True)
    # A fresh optimizer each session: the saved state holds the transformer's alone.
    opt = torch.optim.AdamW(params, lr=a.vae_lr, betas=(0.9, 0.99), weight_decay=0.0)
    n, t_all = frames_gpu.shape[0], frames_gpu.shape[1]
    starts = [s for s in range(0, t_all - 8, 4)]
    g = torch.Generator(device="cpu").manual_seed(a.seed + 1)
    t0, step, hist = time.time(), 0, []
    while time.time() - t0 < seconds:
        frac = (time.time() - t0) / seconds
        for pg in opt.param_groups:
            pg["lr"] = a.vae_lr * min(1.0, (step + 1) / 50) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
        if step % 2 == 0 and dec_only:
            idx = torch.randint(0, n, (max(1, a.vae_batch // 2),), generator=g)
            x = to_unit(frames_gpu[idx.to(frames_gpu.device)])
        elif step % 2 == 0:
            idx = torch.randint(0, n, (a.vae_batch,), generator=g)
            s = starts[int(torch.randint(0, len(starts), (1,), generator=g))]
            x = to_unit(frames_gpu[idx.to(frames_gpu.device), s:s + 9])
        else:
            idx = torch.randint(0, n, (3 * a.vae_batch,), generator=g)
            k = int(torch.randint(0, t_all, (1,), generator=g))
            x = to_unit(frames_gpu[idx.to(frames_gpu.device), k:k + 1])
        with torch.autocast("cuda", dtype=torch.bfloat16):
            with torch.set_grad_enabled(not dec_only):
                post = vae.encode(x).latent_dist
                # decoder only: the mode, as the pipeline's latents are (encode_all)
                z = post.mode() if dec_only else post.sample()
            rec = vae.decode(z).sample
        rec = rec.float()
        w = pixel_weights(x)
        l1 = ((rec - x).abs() * w).mean() / w.mean()
        l2 = ((rec - x).pow(2) * w).mean() / w.mean()
        kl = 0.5 * (post.mean.float().pow(2) + post.var.float() - 1.0 - post.logvar.float()).mean()
        loss = l1 + l2 + (0.0 if dec_only else 1e-4 * kl)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        if step % 10 == 0:
            with torch.no_grad():
                mse = (rec - x).pow(2).mean().item()
                mse_obj = (((rec - x).pow(2) * (w > 1)).sum() / ((w > 1).sum() * 3).clamp(min=1)).item()
            hist.append((l1.item(), mse, mse_obj, kl.item()))
        if step % 100 == 0:
            m = np.mean(hist[-10:], axis=0)
            log(f"vae step {step}: weighted l1 {m[0]:.4f}; psnr {10 * math.log10(4 / max(m[1], 1e-9)):.1f} dB, on "
                f"objects + gripper {10 * math.log10(4 / max(m[2], 1e-9)):.1f} dB; kl {m[3]:.3f}")
    vae.eval()
    log(f"vae trained {step} steps in {time.time() - t0:.0f} s")
    return step


@torch.no_grad()
def encode_all(vae, frames_gpu, batch=32):
    """Posterior modes of every clip [N, 48, 5, h, w] and of every first frame alone [N, 48, 1, h, w] (raw)."""
    lat, lat0 = [], []
    for i in range(0, frames_gpu.shape[0], batch):
        x = to_unit(frames_gpu[i:i + batch])
        with torch.autocast("cuda", dtype=torch.bfloat16):
            lat.append(vae.encode(x).latent_dist.mode().float())
            lat0.append(vae.encode(x[:, :, :1]).latent_dist.mode().float())
    return torch.cat(lat), torch.cat(lat0)


# ----------------------------------------------------------------------------------------------------------
# Phase 2: the transformer
# ----------------------------------------------------------------------------------------------------------


class Packing:
    """Token ids and mRoPE positions per sample, from the pipeline's own tokenize_prompt / _prepare_*_segment."""

    def __init__(self, pipe, samples, latent_shape, device):
        self.pipe, self.device = pipe, device
        s0 = samples[0]
        self.frames, self.fps, self.h, self.w = s0["frames"], float(s0["fps"]), s0["height"], s0["width"]
        self.latent_shape = latent_shape  # (48, T, h, w)
        self.chunk = self.frames - 1
        self.video_ids, self.image_ids, self.action_ids = [], [], []
        cache_v, cache_i, cache_a = {}, {}, {}
        for s in samples:
            if s["prompt"] not in cache_v:
                # With the duration + resolution templates (diffusers' default) and without (vLLM-Omni's and
                # cosmos-ts's default): half of the video samples each, so both callers get the trained prompt.
                cache_v[s["prompt"]] = [pipe.tokenize_prompt(
                    s["prompt"], None, num_frames=self.frames, height=self.h, width=self.w, fps=self.fps,
                    add_resolution_template=t, add_duration_template=t) for t in (True, False)]
                # text-to-image (--t2i-batch): num_frames 1 takes the image resolution template and no duration
                cache_i[s["prompt"]] = [pipe.tokenize_prompt(
                    s["prompt"], None, num_frames=1, height=self.h, width=self.w, fps=self.fps,
                    add_resolution_template=t, add_duration_template=t) for t in (True, False)]
            if s["instruction"] not in cache_a:
                cache_a[s["instruction"]] = pipe.tokenize_prompt(
                    s["instruction"], None, num_frames=self.frames, height=self.h, width=self.w, fps=self.fps,
                    action_mode="policy", action_view_point="ego_view")
            self.video_ids.append(cache_v[s["prompt"]])
            self.image_ids.append(cache_i[s["prompt"]])
            self.action_ids.append(cache_a[s["instruction"]])
        self._gen_pos = {}

    def gen_positions(self, und_len, latent_t=None):
        """[3, Nv + Na] positions of the vision then action tokens after a text of und_len tokens (latent_t: the
        vision's latent frames, the clip's by default; 1 for text-to-image, whose action tokens are masked out)."""
        latent_t = latent_t or self.latent_shape[1]
        if (und_len, latent_t) not in self._gen_pos:
            pipe = self.pipe
            text = pipe._prepare_text_segment([0] * und_len, device=self.device)
            c, _, h, w = self.latent_shape
            lat = torch.zeros((1, c, latent_t, h, w), device=self.device)
            vis = pipe._prepare_vision_segment(lat, False, text["vision_start_temporal_offset"], self.fps, und_len,
                                               self.device, condition_frame_indexes=[])
            act = pipe._prepare_action_segment(torch.zeros(self.chunk, 16, device=self.device), [],
                                               text["vision_start_temporal_offset"], self.fps,
                                               und_len + vis["num_vision_tokens"], self.device)
            self._gen_pos[und_len, latent_t] = torch.cat([vis["vision_mrope_ids"], act["action_mrope_ids"]], 1).float()
        return self._gen_pos[und_len, latent_t]


def domain_linear(layer, x, domain_id):
    """DomainAwareLinear for one domain on [B, T, in] (the same weights the module reads for that id)."""
    w = layer.fc.weight[domain_id].view(layer.input_size, layer.output_size)
    return x @ w.to(x.dtype) + layer.bias.weight[domain_id].to(x.dtype)


def rotate(x, cos, sin):
    half = x.shape[-1] // 2
    return x * cos + torch.cat((-x[..., half:], x[..., :half]), dim=-1) * sin


def batched_forward(model, ids, und_lens, vision_in, vision_noisy, timesteps, action_in, action_noisy, action_present,
                    positions, domain_id):
    """Cosmos3OmniTransformer.forward for a batch.

    ids [B, L] (text padded to L), und_lens [B] (true text lengths), vision_in [B, C, T, h, w], vision_noisy [B, T]
    bool, timesteps [B] (sigma * 1000), action_in [B, A, D], action_noisy [B, A] bool, action_present [B] bool (a
    t2v / i2v sample has no action tokens in the pipeline: they are masked out as keys here), positions [3, B, N].
    Returns the vision prediction [B, C, T, h, w] and the action prediction [B, A, D].
    """
    cfg = model.config
    B, L = ids.shape
    C, T, h, w = vision_in.shape[1:]
    p = cfg.latent_patch_size
    hp, wp = h // p, w // p
    A = action_in.shape[1]
    und = model.embed_tokens(ids)
    dtype = und.dtype
    vt = vision_in.reshape(B, C, T, hp, p, wp, p).permute(0, 2, 3, 5, 4, 6, 1).reshape(B, T * hp * wp, p * p * C)
    vt = model.proj_in(vt.to(dtype))
    te_dtype = next(model.time_embedder.parameters()).dtype
    temb = model.time_embedder(model.time_proj(timesteps * cfg.timestep_scale).to(te_dtype)).to(vt.dtype)  # [B, H]
    vmask = vision_noisy.repeat_interleave(hp * wp, dim=1).unsqueeze(-1).to(vt.dtype)
    vt = vt + vmask * temb[:, None]
    at = domain_linear(model.action_proj_in, action_in.to(vt.dtype), domain_id) + model.action_modality_embed
    at = at + action_noisy.unsqueeze(-1).to(at.dtype) * temb[:, None]
    # The residual streams stay in fp32 under autocast, as in the model's forward (its joint buffer has the
    # embedding's dtype); the projections run in bf16.
    gen = torch.cat([vt.float(), at.float()], 1)
    cos, sin = model.rotary_emb(positions, device=gen.device, dtype=gen.dtype)  # [B, N, hd]
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)  # [B, 1, N, hd]
    cu, su, cg, sg = cos[:, :, :L], sin[:, :, :L], cos[:, :, L:], sin[:, :, L:]
    keys_valid = torch.cat([
        torch.arange(L, device=ids.device)[None] < und_lens[:, None],
        torch.ones(B, T * hp * wp, dtype=torch.bool, device=ids.device),
        action_present[:, None].expand(B, A),
    ], 1)
    gen_mask = keys_valid[:, None, None, :]  # [B, 1, 1, L + Ng]
    und = und.float()
    for layer in model.layers:
        at_ = layer.self_attn
        nh, nkv, hd = at_.num_attention_heads, at_.num_key_value_heads, at_.head_dim
        un = layer.input_layernorm(und)
        gn = layer.input_layernorm_moe_gen(gen)
        qu = at_.norm_q(at_.to_q(un).view(B, L, nh, hd)).transpose(1, 2)
        ku = at_.norm_k(at_.to_k(un).view(B, L, nkv, hd))
        kug = (at_.k_norm_und_for_gen(ku) if at_.k_norm_und_for_gen is not None else ku).transpose(1, 2)
        ku = ku.transpose(1, 2)
        vu = at_.to_v(un).view(B, L, nkv, hd).transpose(1, 2)
        Ng = gn.shape[1]
        qg = at_.norm_added_q(at_.add_q_proj(gn).view(B, Ng, nh, hd)).transpose(1, 2)
        kg = at_.norm_added_k(at_.add_k_proj(gn).view(B, Ng, nkv, hd)).transpose(1, 2)
        vg = at_.add_v_proj(gn).view(B, Ng, nkv, hd).transpose(1, 2)
        qu, ku, kug = rotate(qu, cu, su), rotate(ku, cu, su), rotate(kug, cu, su)
        qg, kg = rotate(qg, cg, sg), rotate(kg, cg, sg)
        ou = F.scaled_dot_product_attention(qu, ku, vu, is_causal=True, enable_gqa=True)
        og = F.scaled_dot_product_attention(qg, torch.cat([kug, kg], 2), torch.cat([vu, vg], 2), attn_mask=gen_mask,
                                            enable_gqa=True)
        und = und + at_.to_out(ou.transpose(1, 2).reshape(B, L, nh * hd))
        gen = gen + at_.to_add_out(og.transpose(1, 2).reshape(B, Ng, nh * hd))
        und = und + layer.mlp(layer.post_attention_layernorm(und))
        gen = gen + layer.mlp_moe_gen(layer.post_attention_layernorm_moe_gen(gen))
    gen = model.norm_moe_gen(gen)
    nv = T * hp * wp
    pv = model.proj_out(gen[:, :nv]).reshape(B, T, hp, wp, p, p, C).permute(0, 6, 1, 2, 4, 3, 5)
    pv = pv.reshape(B, C, T, h, w)
    pa = domain_linear(model.action_proj_out, gen[:, nv:], domain_id)
    return pv, pa


def sample_sigmas(n, sched_cfg, g, device):
    """Flow sigmas as the inference schedule spans them: Karras (rho 7) between sigma_min and sigma_max, mapped
    to s / (1 + s) (UniPC with use_karras_sigmas + use_flow_sigmas); 20% uniform in (0, 1) for coverage."""
    rho = 7.0
    smin, smax = float(sched_cfg["sigma_min"]), float(sched_cfg["sigma_max"])
    u = torch.rand(n, generator=g)
    s = (smax ** (1 / rho) + u * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    karras = s / (1 + s)
    uni = torch.rand(n, generator=g).clamp(1e-3, 1 - 1e-3)
    pick = torch.rand(n, generator=g) < 0.2
    return torch.where(pick, uni, karras).to(device)


class Batcher:
    """Builds a mixed-mode training batch: inputs with the pipeline's conditioning, targets and loss masks."""

    def __init__(self, pack, lat, lat0, actions, sched_cfg, a, device, push_clips=(), focus=None):
        self.pack, self.lat, self.lat0, self.actions = pack, lat, lat0, actions
        self.focus = focus  # [N, T, h, w] bool (focus_cells) when --focus-weight > 1
        self.push_clips = list(push_clips)  # clip indices for --text-push-share
        self.sched_cfg, self.a, self.device = sched_cfg, a, device
        self.g = torch.Generator(device="cpu").manual_seed(a.seed + 2)
        self.g_dev = torch.Generator(device=device).manual_seed(a.seed + 3)  # noise drawn where it is used
        self.mode_p = torch.tensor(a.mode_weights)

    def text(self, idx, modes, drop, latent_t=None):
        """Token ids [B, L] (padded), their lengths [B] and the mRoPE positions [3, B, N] of a batch: the prompt
        with or without the templates (half each), dropped to the negative prompt where `drop` says (None: at
        --text-dropout)."""
        B, dev = len(idx), self.device
        if drop is None:
            drop = (torch.rand(B, generator=self.g) < self.a.text_dropout).tolist()
        ids_list = []
        templates = (torch.rand(B, generator=self.g) < 0.5).tolist()
        for i, m, d, t in zip(idx, modes, drop, templates):
            if m in ("t2v", "i2v", "t2i"):
                cond, uncond = (self.pack.image_ids if m == "t2i" else self.pack.video_ids)[i][0 if t else 1]
            else:
                cond, uncond = self.pack.action_ids[i]
            ids_list.append(uncond if d else cond)
        und_lens = torch.tensor([len(x) for x in ids_list], device=dev)
        L = int(und_lens.max())
        ids = torch.zeros(B, L, dtype=torch.long)
        for b, x in enumerate(ids_list):
            ids[b, :len(x)] = torch.tensor(x)
        positions = torch.stack([
            torch.cat([torch.arange(L, dtype=torch.float32, device=dev)[None].expand(3, L),
                       self.pack.gen_positions(len(x), latent_t)], 1) for x in ids_list], 1)  # [3, B, N]
        return ids.to(dev), und_lens, positions

    def text_clips(self, idx):
        """idx with --text-push-share of its clips swapped for push clips (the text modes' draw)."""
        if not (self.a.text_push_share > 0 and self.push_clips):
            return list(idx)
        return [self.push_clips[int(torch.randint(len(self.push_clips), (1,), generator=self.g))]
                if float(torch.rand(1, generator=self.g)) < self.a.text_push_share else i for i in idx]

    def make_t2i(self, idx, sigmas=None, drop=None):
        """A text-to-image batch (--t2i-batch): each clip's first frame alone (latent 0 encoded by itself, as the
        pipeline encodes an image), one latent frame, all noisy, from the prompt with the image templates; no
        action tokens (masked out as keys, as for t2v)."""
        B, dev = len(idx), self.device
        modes = ["t2i"] * B
        ids, und_lens, positions = self.text(idx, modes, drop, latent_t=1)
        idx_t = torch.tensor(idx, device=dev)
        x0 = self.lat0[idx_t].float()  # [B, C, 1, h, w]
        a0 = torch.zeros(B, self.pack.chunk, 16, device=dev)
        if sigmas is None:
            sigmas = sample_sigmas(B, self.sched_cfg, self.g, dev)
        eps_v = torch.randn(x0.shape, generator=self.g_dev, device=dev)
        sv = sigmas.view(B, 1, 1, 1, 1)
        weight_v = None
        if self.focus is not None:
            weight_v = 1.0 + (self.a.focus_weight - 1.0) * self.focus[idx_t][:, :1].unsqueeze(1).float()
        no_actions = torch.zeros(B, self.pack.chunk, dtype=torch.bool, device=dev)
        return dict(
            ids=ids, und_lens=und_lens, vision_in=(1 - sv) * x0 + sv * eps_v,
            vision_noisy=torch.ones(B, 1, dtype=torch.bool, device=dev), timesteps=sigmas * 1000.0, weight_v=weight_v,
            action_in=a0, action_noisy=no_actions, action_present=torch.zeros(B, dtype=torch.bool, device=dev),
            positions=positions, target_v=eps_v - x0, target_a=-a0, modes=modes, x0=x0, a0=a0)

    def make(self, idx, modes=None, sigmas=None, drop=None):
        B = len(idx)
        dev = self.device
        if modes is None:
            modes = [MODES[int(k)] for k in torch.multinomial(self.mode_p, B, replacement=True, generator=self.g)]
            # the direction word that text-to-video is judged on comes in push prompts ("the red cube slides to
            # the left"), a third of the clips: the text modes draw those oftener (--text-push-share)
            idx = [j if m in ("t2v", "i2v") else i for i, j, m in zip(idx, self.text_clips(idx), modes)]
        ids, und_lens, positions = self.text(idx, modes, drop)
        idx_t = torch.tensor(idx, device=dev)
        x0 = self.lat[idx_t].float()  # [B, C, T, h, w]
        T = x0.shape[2]
        a0 = torch.zeros(B, self.pack.chunk, 16, device=dev)
        a0[:, :, :RAW_ACTION_DIM] = self.actions[idx_t]
        v_clean = torch.zeros(B, T, dtype=torch.bool, device=dev)
        a_clean = torch.zeros(B, self.pack.chunk, dtype=torch.bool, device=dev)
        a_present = torch.tensor([m not in ("t2v", "i2v") for m in modes], device=dev)
        for b, m in enumerate(modes):
            if m in ("i2v", "fdyn", "policy"):
                v_clean[b, 0] = True
                x0[b, :, :1] = self.lat0[idx[b]].float()
            if m == "fdyn":
                a_clean[b] = True
            if m == "idyn":
                v_clean[b] = True
        if sigmas is None:
            sigmas = sample_sigmas(B, self.sched_cfg, self.g, dev)
        eps_v = torch.randn(x0.shape, generator=self.g_dev, device=dev)
        eps_a = torch.randn(a0.shape, generator=self.g_dev, device=dev)
        eps_a[:, :, RAW_ACTION_DIM:] = 0
        sv = sigmas.view(B, 1, 1, 1, 1)
        sa = sigmas.view(B, 1, 1)
        v_in = torch.where(v_clean.view(B, 1, T, 1, 1), x0, (1 - sv) * x0 + sv * eps_v)
        a_in = torch.where(a_clean.view(B, -1, 1), a0, (1 - sa) * a0 + sa * eps_a)
        a_in[:, :, RAW_ACTION_DIM:] = 0
        weight_v = None
        if self.focus is not None:
            weight_v = 1.0 + (self.a.focus_weight - 1.0) * self.focus[idx_t].unsqueeze(1).float()  # [B, 1, T, h, w]
        if self.a.first_frame_weight > 1:
            if weight_v is None:
                weight_v = torch.ones(B, 1, *x0.shape[2:], device=dev)
            t2v_rows = torch.tensor([m == "t2v" for m in modes], device=dev)
            weight_v[t2v_rows, :, 0] *= self.a.first_frame_weight
        return dict(
            ids=ids, und_lens=und_lens, vision_in=v_in, vision_noisy=~v_clean, timesteps=sigmas * 1000.0,
            weight_v=weight_v, action_in=a_in, action_noisy=(~a_clean) & a_present[:, None], action_present=a_present,
            positions=positions, target_v=eps_v - x0, target_a=eps_a - a0, modes=modes, x0=x0, a0=a0)


def loss_terms(pv, pa, batch):
    """Velocity loss on the noisy positions only: per sample the mean over its noisy vision latents and over its
    noisy action rows (raw columns); the batch loss is the mean of each over the samples that have any. With
    `weight_v` (--focus-weight, --first-frame-weight) the vision term of the batch loss is the weighted mean; the per-sample figures
    returned (the log's, the fixed batch's) stay unweighted, comparable across sessions."""
    B, C, T = pv.shape[:3]
    mv = batch["vision_noisy"].view(B, 1, T, 1, 1).float()
    err_v = (pv.float() - batch["target_v"]).pow(2) * mv
    per_v = err_v.flatten(1).sum(1) / (mv.flatten(1).sum(1) * C * pv.shape[3] * pv.shape[4]).clamp(min=1)
    per_v_loss = per_v
    if batch.get("weight_v") is not None:
        wm = batch["weight_v"] * mv  # [B, 1, T, h, w]
        per_v_loss = (err_v * batch["weight_v"]).flatten(1).sum(1) / (wm.flatten(1).sum(1) * C).clamp(min=1)
    ma = batch["action_noisy"].unsqueeze(-1).float()
    err_a = (pa.float()[:, :, :RAW_ACTION_DIM] - batch["target_a"][:, :, :RAW_ACTION_DIM]).pow(2) * ma
    per_a = err_a.flatten(1).sum(1) / (ma.flatten(1).sum(1) * RAW_ACTION_DIM).clamp(min=1)
    has_v = (mv.flatten(1).sum(1) > 0).float()
    has_a = (ma.flatten(1).sum(1) > 0).float()
    loss = (per_v_loss * has_v).sum() / has_v.sum().clamp(min=1) + (per_a * has_a).sum() / has_a.sum().clamp(min=1)
    return loss, per_v.detach(), per_a.detach(), has_v, has_a


def forward_batch(model, batch, domain_id):
    """batched_forward on a Batcher.make batch: (vision, action) outputs."""
    return batched_forward(model, batch["ids"], batch["und_lens"], batch["vision_in"], batch["vision_noisy"],
                           batch["timesteps"], batch["action_in"], batch["action_noisy"], batch["action_present"],
                           batch["positions"], domain_id)


def losses(model, batch, domain_id):
    return loss_terms(*forward_batch(model, batch, domain_id), batch)


def every_mode_batch(batcher, device):
    """The self-checks' batch: one clip per mode, sigmas spread over 0.2-0.9, no text dropped."""
    return batcher.make(list(range(len(MODES))), modes=list(MODES),
                        sigmas=torch.linspace(0.2, 0.9, len(MODES), device=device), drop=[False] * len(MODES))


def reference_forward(pipe, batch, b, fps, device, domain_id):
    """Sample b of a batch through Cosmos3OmniTransformer.forward itself, packed by the pipeline's own
    _prepare_*_segment: the vision prediction [C, T, h, w] and the action prediction [A, D] (zeros where clean)."""
    model = pipe.transformer
    L = int(batch["und_lens"][b])
    text = pipe._prepare_text_segment(batch["ids"][b, :L].tolist(), device=device)
    lat = batch["vision_in"][b:b + 1]
    cond_frames = torch.nonzero(~batch["vision_noisy"][b]).flatten().tolist()
    vis = pipe._prepare_vision_segment(lat, bool(cond_frames), text["vision_start_temporal_offset"], fps, L, device,
                                       condition_frame_indexes=cond_frames)
    t = float(batch["timesteps"][b])
    kw = dict(
        input_ids=text["input_ids"], text_indexes=text["text_indexes"], und_len=L,
        vision_tokens=[lat], vision_token_shapes=vis["vision_token_shapes"],
        vision_sequence_indexes=vis["vision_sequence_indexes"], vision_mse_loss_indexes=vis["vision_mse_loss_indexes"],
        vision_timesteps=torch.full((vis["num_noisy_vision_tokens"],), t, device=device),
        vision_noisy_frame_indexes=vis["vision_noisy_frame_indexes"], return_dict=False)
    segs = [text["text_mrope_ids"], vis["vision_mrope_ids"]]
    n = L + vis["num_vision_tokens"]
    if bool(batch["action_present"][b]):
        a_clean = torch.nonzero(~batch["action_noisy"][b]).flatten().tolist()
        act = pipe._prepare_action_segment(batch["action_in"][b], a_clean, text["vision_start_temporal_offset"], fps,
                                           n, device)
        segs.append(act["action_mrope_ids"])
        n += act["action_len"]
        kw.update(action_tokens=[batch["action_in"][b]], action_token_shapes=act["action_token_shapes"],
                  action_sequence_indexes=act["action_sequence_indexes"],
                  action_mse_loss_indexes=act["action_mse_loss_indexes"],
                  action_timesteps=torch.full((act["num_noisy_action_tokens"],), t, device=device),
                  action_noisy_frame_indexes=act["action_noisy_frame_indexes"],
                  action_domain_ids=[torch.tensor([domain_id], device=device)])
    kw.update(position_ids=torch.cat(segs, 1), sequence_length=n)
    ref_v, _, ref_a = model(**kw)
    pa = ref_a[0] if ref_a is not None else torch.zeros_like(batch["action_in"][b])
    return ref_v[0][0], pa


def reference_losses(pipe, batch, fps, device, domain_id):
    """The batch through the model one sample at a time (the fallback when the batched forward disagrees)."""
    outs = [reference_forward(pipe, batch, b, fps, device, domain_id) for b in range(batch["ids"].shape[0])]
    return loss_terms(torch.stack([o[0] for o in outs]), torch.stack([o[1] for o in outs]), batch)


@torch.no_grad()
def check_batched_forward(pipe, batcher, device, domain_id):
    """Our batched forward against Cosmos3OmniTransformer.forward with the pipeline's packing, fp32, every mode."""
    batch = every_mode_batch(batcher, device)
    pv, pa = forward_batch(pipe.transformer, batch, domain_id)
    worst = {}
    for b, m in enumerate(MODES):
        ref_v, ref_a = reference_forward(pipe, batch, b, batcher.pack.fps, device, domain_id)
        noisy = batch["vision_noisy"][b]
        scale = ref_v.abs().max().item() + 1e-6
        dv = (pv[b][:, noisy] - ref_v[:, noisy]).abs().max().item() / scale if noisy.any() else 0.0
        an = batch["action_noisy"][b]
        da = ((pa[b][an] - ref_a[an]).abs().max().item() / (ref_a[an].abs().max().item() + 1e-6)) if an.any() else 0.0
        worst[m] = (float(f"{dv:.3g}"), float(f"{da:.3g}"))
    if batcher.a.t2i_batch:
        batch = batcher.make_t2i([0, 1], sigmas=torch.tensor([0.3, 0.8], device=device), drop=[False, False])
        pv, _ = forward_batch(pipe.transformer, batch, domain_id)
        dv = max((pv[b] - ref_v).abs().max().item() / (ref_v.abs().max().item() + 1e-6)
                 for b in range(2) for ref_v in [reference_forward(pipe, batch, b, batcher.pack.fps, device,
                                                                   domain_id)[0]])
        worst["t2i"] = (float(f"{dv:.3g}"), 0.0)
    return worst


def grow_depth(model, layers, cls):
    """`model` with `layers` MoT layers: the loaded ones in order, and after some of them a copy whose attention
    outputs (`to_out`, `to_add_out`) and MLP down-projections (both streams) are zero, so the copy adds nothing to
    the residual stream and the grown model's output equals the loaded one's; training then moves the new layers
    from there. The copies are spread evenly (4 -> 6: after layers 1 and 3). Returns (grown model, layer sources)."""
    old = len(model.layers)
    if not old < layers <= 2 * old:
        raise ValueError(f"--grow-layers {layers}: more than the loaded {old} layers, at most twice as many")
    extra = layers - old
    after = {int((k + 0.5) * old / extra) for k in range(extra)}  # distinct: spaced old / extra >= 1 apart
    sources = []
    for i in range(old):
        sources += [(i, False)] + ([(i, True)] if i in after else [])
    grown = cls.from_config({**model.config, "num_hidden_layers": layers})
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("layers.")}
    for j, (i, copy_) in enumerate(sources):
        for k, v in model.layers[i].state_dict().items():
            zero = copy_ and k.endswith(("to_out.weight", "to_add_out.weight", "down_proj.weight"))
            state[f"layers.{j}.{k}"] = torch.zeros_like(v) if zero else v.clone()
    grown.load_state_dict(state, strict=True)
    return grown, sources


@torch.no_grad()
def init_domain_linears(model):
    """DomainAwareLinear keeps its weights in nn.Embedding tables (N(0, 1) by default): scale them as a Linear
    layer's, so the action head starts at unit-order outputs."""
    for lin in (model.action_proj_in, model.action_proj_out):
        torch.nn.init.normal_(lin.fc.weight, std=lin.input_size ** -0.5)
        torch.nn.init.zeros_(lin.bias.weight)


@torch.no_grad()
def grow_width(model, hidden, mlp, cls):
    """`model` with hidden size `hidden` (heads stay 64 wide: hidden / 64 query heads, the loaded key/value heads
    kept, so every loaded query head reads the key/value head it read before) and MLP width `mlp`, starting with
    the loaded model's output. The loaded weights fill the top-left block of each grown one; the new entries come
    from a fresh model's init except where the grown model would otherwise differ from the loaded one:
    - everything that writes the residual stream is zero in its new rows and columns (`embed_tokens`, `proj_in`,
      the timestep MLP's second layer, `action_proj_in`, `action_modality_embed`, both streams' attention outputs
      and MLP down-projections), so the new channels stay 0 and the new heads and MLP units add nothing;
    - the hidden-size RMSNorms' weights are scaled by sqrt(old / new) (new entries: that factor), since the mean
      square over the grown width, with the new channels at 0, is old / new times the loaded one.
    What reads the residual stream (q/k/v, gate/up, `proj_out`, `lm_head`, `action_proj_out`) keeps its fresh init
    in the new entries: it multiplies channels that are 0, and its gradient is what moves the zeroed writers off 0."""
    c = model.config
    old_h, old_m, hd = c.hidden_size, c.intermediate_size, c.head_dim
    if not (hidden >= old_h and hidden % hd == 0 and mlp >= old_m and (hidden, mlp) != (old_h, old_m)):
        raise ValueError(f"--grow-width {hidden} --grow-mlp {mlp}: a multiple of head_dim {hd} >= the loaded hidden "
                         f"size {old_h}, an MLP >= the loaded {old_m}, and at least one of them larger")
    heads = hidden // hd
    if heads != c.num_attention_heads and c.num_key_value_heads != 1:
        # query head i reads key/value head i // (heads / kv heads) (SDPA's enable_gqa): more heads move a loaded
        # head to another key/value head unless there is one
        raise ValueError(f"--grow-width {hidden}: more query heads keep each loaded head's key/value head only with "
                         f"1 key/value head; the loaded model has {c.num_key_value_heads}")
    grown = cls.from_config({**c, "hidden_size": hidden, "intermediate_size": mlp, "num_attention_heads": heads})
    init_domain_linears(grown)
    old, new = model.state_dict(), grown.state_dict()
    # action_proj_*.fc hold a [input, output] matrix per domain flattened (DomainAwareLinear)
    flat = {"action_proj_in.fc.weight": (c.action_dim, old_h), "action_proj_out.fc.weight": (old_h, c.action_dim)}
    writers = ("embed_tokens.weight", "proj_in.weight", "proj_in.bias", "time_embedder.linear_2.weight",
               "time_embedder.linear_2.bias", "action_proj_in.fc.weight", "action_proj_in.bias.weight",
               "action_modality_embed", "to_out.weight", "to_add_out.weight", "down_proj.weight")
    norms = ("input_layernorm.weight", "input_layernorm_moe_gen.weight", "post_attention_layernorm.weight",
             "post_attention_layernorm_moe_gen.weight", "norm.weight", "norm_moe_gen.weight")
    scale = (old_h / hidden) ** 0.5
    state = {}
    for k, g in new.items():
        o = old[k]
        if k in flat:
            o = o.view(o.shape[0], *flat[k])
            g = g.view(g.shape[0], *[hidden if d == old_h else d for d in flat[k]]).clone()
        else:
            g = g.clone()
        if k.endswith(writers):
            g.zero_()
        if k.endswith(norms):
            g.fill_(1.0)
            o = o * scale
            g.mul_(scale)
        g[tuple(slice(0, n) for n in o.shape)] = o
        state[k] = g.reshape(new[k].shape)
    grown.load_state_dict(state, strict=True)
    return grown


@torch.no_grad()
def grow_kv_heads(model, kv, cls):
    """`model` with `kv` key/value heads, each loaded one repeated kv / loaded times in order. Query head i reads
    key/value head i // (heads / kv) (SDPA's enable_gqa), which is then a copy of the one it read before, so the
    output is the loaded model's."""
    c = model.config
    old = c.num_key_value_heads
    if not (kv > old and kv % old == 0 and c.num_attention_heads % kv == 0):
        raise ValueError(f"--grow-kv {kv}: a multiple of the loaded {old} key/value heads that divides the "
                         f"{c.num_attention_heads} query heads")
    grown = cls.from_config({**c, "num_key_value_heads": kv})
    state = model.state_dict()
    for k, v in state.items():
        if k.endswith(("to_k.weight", "to_v.weight", "add_k_proj.weight", "add_v_proj.weight",
                       "to_k.bias", "to_v.bias", "add_k_proj.bias", "add_v_proj.bias")):
            state[k] = v.view(old, c.head_dim, *v.shape[1:]).repeat_interleave(kv // old, 0).reshape(
                kv * c.head_dim, *v.shape[1:]).clone()
    grown.load_state_dict(state, strict=True)
    return grown


# The und tower's weights in a Cosmos3OmniTransformer, and their names in a Qwen3-VL checkpoint (the language
# model of Qwen3VLForConditionalGeneration). diffusers' Cosmos3VLTextMoTDecoderLayer's und half is a Qwen3 decoder
# layer: the same projections, per-head q/k RMSNorm, SwiGLU MLP and pre-norms.
UND_LAYER_KEYS = {"self_attn.to_q": "self_attn.q_proj", "self_attn.to_k": "self_attn.k_proj",
                  "self_attn.to_v": "self_attn.v_proj", "self_attn.to_out": "self_attn.o_proj",
                  "self_attn.norm_q": "self_attn.q_norm", "self_attn.norm_k": "self_attn.k_norm",
                  "mlp.gate_proj": "mlp.gate_proj", "mlp.up_proj": "mlp.up_proj", "mlp.down_proj": "mlp.down_proj",
                  "input_layernorm": "input_layernorm", "post_attention_layernorm": "post_attention_layernorm"}


def und_key_map(layers):
    """{transformer key: Qwen3-VL key} for every und-tower weight."""
    lm = "model.language_model."
    out = {"embed_tokens.weight": lm + "embed_tokens.weight", "norm.weight": lm + "norm.weight",
           "lm_head.weight": "lm_head.weight"}
    for i in range(layers):
        for ours, theirs in UND_LAYER_KEYS.items():
            out[f"layers.{i}.{ours}.weight"] = f"{lm}layers.{i}.{theirs}.weight"
    return out


@torch.no_grad()
def load_und_from(model, folder):
    """Copies the language model of the Qwen3-VL checkpoint in `folder` into `model`'s und tower, after checking
    that every dimension the two share agrees (else ValueError naming each). Returns the und keys."""
    from safetensors.torch import load_file
    with open(os.path.join(folder, "config.json")) as f:
        rc = json.load(f)
    t = rc.get("text_config", rc)
    c = model.config
    rope = t.get("rope_parameters") or t.get("rope_scaling") or {}
    pairs = {"hidden_size": (t.get("hidden_size"), c.hidden_size),
             "num_attention_heads": (t.get("num_attention_heads"), c.num_attention_heads),
             "num_key_value_heads": (t.get("num_key_value_heads"), c.num_key_value_heads),
             "head_dim": (t.get("head_dim"), c.head_dim),
             "intermediate_size": (t.get("intermediate_size"), c.intermediate_size),
             "num_hidden_layers": (t.get("num_hidden_layers"), c.num_hidden_layers),
             "vocab_size": (t.get("vocab_size"), c.vocab_size),
             "hidden_act": (t.get("hidden_act"), c.hidden_act),
             "rms_norm_eps": (t.get("rms_norm_eps"), c.rms_norm_eps),
             "rope_theta": (rope.get("rope_theta", t.get("rope_theta")), c.rope_theta),
             "mrope_section / rope_axes_dim": (list(rope.get("mrope_section") or []), list(c.rope_axes_dim))}
    bad = [f"{k}: {theirs} in {folder}, {ours} in the transformer" for k, (theirs, ours) in pairs.items()
           if theirs != ours]
    if bad:
        raise ValueError("--und-from: the Reasoner's language model does not fit the und tower (grow the "
                         "transformer with --grow-width / --grow-mlp / --grow-kv first): " + "; ".join(bad))
    files = sorted(glob.glob(os.path.join(folder, "*.safetensors")))
    src = {}
    for fn in files:
        src.update(load_file(fn))
    keys = und_key_map(c.num_hidden_layers)
    missing = [theirs for theirs in keys.values() if theirs not in src]
    if missing:
        raise ValueError(f"--und-from: {folder} has no {missing[:3]} ({len(missing)} missing)")
    state = model.state_dict()
    for ours, theirs in keys.items():
        if tuple(src[theirs].shape) != tuple(state[ours].shape):
            raise ValueError(f"--und-from: {theirs} is {tuple(src[theirs].shape)}, {ours} "
                             f"{tuple(state[ours].shape)}")
        state[ours] = src[theirs].to(state[ours].dtype)
    model.load_state_dict(state, strict=True)
    return list(keys)


@torch.no_grad()
def check_und_is_reasoner(pipe, batch, folder, fps, device, domain_id):
    """The und tower, run by Cosmos3OmniTransformer.forward on the pipeline's packing of a t2v sample, against
    transformers' Qwen3VLForConditionalGeneration language model (from `folder`) on the same text tokens: every
    layer's output, max diff / max |reference| (fp32). Text gets the same mRoPE position on all three axes in both
    (diffusers get_3d_mrope_ids_text_tokens; Qwen3-VL's text-only positions), so only a constant offset could
    differ, and RoPE is blind to it."""
    from transformers import Qwen3VLForConditionalGeneration
    ref = Qwen3VLForConditionalGeneration.from_pretrained(folder, dtype=torch.float32).to(device).eval()
    L = int(batch["und_lens"][0])
    ids = batch["ids"][0, :L].to(device)
    ours, theirs = [], []

    def grab(store):
        def hook(module, inputs, out):
            # diffusers' MoT layer returns (und, gen); a transformers decoder layer its hidden states (or a tuple)
            x = out[0] if isinstance(out, tuple) else out
            store.append(x.reshape(-1, x.shape[-1]).float())
        return hook

    hooks = [layer.register_forward_hook(grab(ours)) for layer in pipe.transformer.layers]
    hooks += [layer.register_forward_hook(grab(theirs)) for layer in ref.model.language_model.layers]
    try:
        reference_forward(pipe, batch, 0, fps, device, domain_id)
        ref.model.language_model(input_ids=ids[None])
    finally:
        for h in hooks:
            h.remove()
    del ref
    if len(ours) != len(theirs) or any(o.shape != r.shape for o, r in zip(ours, theirs)):
        return float("inf")
    return max((o - r).abs().max().item() / (r.abs().max().item() + 1e-6) for o, r in zip(ours, theirs))


@torch.no_grad()
def repatch_to_one(model, cls):
    """`model` with latent_patch_size 1. The loaded model's token reads a p x p block of latent cells through
    `proj_in` (features ordered row, column, channel: the transformer's `_patchify_and_pack_latents`) and writes one
    through `proj_out`. The new `proj_in` is the sum of the loaded one over the block's p^2 positions, so a cell's
    token is what the loaded model made of a block filled with that cell; the new `proj_out` (weight and bias) is
    their mean, so a token predicts the average of what the loaded one predicted for its block. Every other weight
    is kept. Not output-equal (the grid of mRoPE positions is p times finer): a warm start that keeps the text,
    timestep, action and layer weights."""
    p, C = model.config.latent_patch_size, model.config.latent_channel
    if p == 1:
        raise ValueError("--repatch 1: the loaded transformer's latent_patch_size is 1 already")
    new = cls.from_config({**model.config, "latent_patch_size": 1, "patch_latent_dim": C})
    state = model.state_dict()
    H = state["proj_in.weight"].shape[0]
    state["proj_in.weight"] = state["proj_in.weight"].view(H, p * p, C).sum(1)
    state["proj_out.weight"] = state["proj_out.weight"].view(p * p, C, H).mean(0)
    state["proj_out.bias"] = state["proj_out.bias"].view(p * p, C).mean(0)
    new.load_state_dict(state, strict=True)
    return new


@torch.no_grad()
def check_grown(grown, loaded, batcher, device, domain_id):
    """grow_depth's promise: the grown and the loaded transformer give the same output on a batch of every mode."""
    batch = every_mode_batch(batcher, device)
    gv, ga = forward_batch(grown, batch, domain_id)
    lv, la = forward_batch(loaded, batch, domain_id)
    rel = lambda x, y: (x - y).abs().max().item() / (y.abs().max().item() + 1e-6)  # noqa: E731
    return float(f"{rel(gv, lv):.3g}"), float(f"{rel(ga, la):.3g}")


def pipeline_of(transformer, vae, tokenizer, scheduler):
    from diffusers import Cosmos3OmniPipeline
    pipe = Cosmos3OmniPipeline(transformer=transformer, text_tokenizer=tokenizer, vae=vae, scheduler=scheduler,
                               sound_tokenizer=None, safety_checker=None, enable_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


# How the native engine runs the checkpoint (cosmos-ts.json keys the trainer does not decide): carried over from
# the --init checkpoint's cosmos-ts.json, so a run's checkpoint copied into checkpoints/mini-generator keeps them.
INFERENCE_NOTE_KEYS = ("text_to_video", "first_frame_check", "prompt_places")


def save_checkpoint(pipe, out, info, inference_notes=None):
    """bf16 copies of the trained modules, saved with the pipeline's own save_pretrained (15 MB shards)."""
    tmp = out + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tr = copy.deepcopy(pipe.transformer).to(torch.bfloat16)
    vae = copy.deepcopy(pipe.vae).to(torch.bfloat16)
    p2 = pipeline_of(tr, vae, pipe.text_tokenizer, pipe.scheduler)
    p2.save_pretrained(tmp, safe_serialization=True, max_shard_size="15MB")
    # from_pretrained records where a model came from (--init): not part of the checkpoint
    for sub in ("transformer", "vae"):
        cfg_path = os.path.join(tmp, sub, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        if cfg.pop("_name_or_path", None) is not None:
            with open(cfg_path, "w") as f:
                json.dump(cfg, f, indent=2, sort_keys=True)
                f.write("\n")
    if not os.path.exists(os.path.join(tmp, "text_tokenizer", "tokenizer.json")):
        pipe.text_tokenizer.save_pretrained(os.path.join(tmp, "text_tokenizer"))
    with open(os.path.join(tmp, "cosmos-ts.json"), "w") as f:
        json.dump({"untrained": False, "mini": True, "note": NOTE, **(inference_notes or {}), "training": info}, f,
                  indent=2)
        f.write("\n")
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)
    sizes = {os.path.relpath(os.path.join(r, n), out): os.path.getsize(os.path.join(r, n))
             for r, _, fs in os.walk(out) for n in fs}
    log(f"checkpoint written to {out}: {sum(sizes.values()) / 2**20:.1f} MiB, largest file "
        f"{max(sizes.values()) / 2**20:.1f} MiB")


def save_state(state_dir, pipe, opt, info):
    os.makedirs(state_dir, exist_ok=True)
    torch.save({"transformer": pipe.transformer.state_dict(), "transformer_config": dict(pipe.transformer.config),
                "vae": pipe.vae.state_dict(), "vae_config": dict(pipe.vae.config),
                "opt": opt.state_dict() if opt else None, "info": info},
               os.path.join(state_dir, "state.pt"))


def write_png_strip(frames, path):
    """frames: float [3, T, H, W] in [-1, 1] -> one PNG of frames 0, T/2, T-1 side by side."""
    from PIL import Image
    T = frames.shape[1]
    ks = sorted({0, T // 2, T - 1})  # one frame for an image
    x = ((frames[:, ks].clamp(-1, 1) + 1) * 127.5).round().byte().permute(2, 1, 3, 0)  # H, k, W, 3
    x = x.reshape(x.shape[0], -1, 3).cpu().numpy()
    Image.fromarray(x).save(path)


def main():
    a = parse_args()
    torch.manual_seed(a.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    import diffusers
    from diffusers import AutoencoderKLWan, Cosmos3OmniTransformer, UniPCMultistepScheduler
    from diffusers.pipelines.cosmos.pipeline_cosmos3_omni import CosmosActionCondition, _EMBODIMENT_TO_DOMAIN_ID
    from PIL import Image
    from transformers import AutoTokenizer
    log(f"torch {torch.__version__}, diffusers {diffusers.__version__} from {os.path.dirname(diffusers.__file__)}, "
        f"device {torch.cuda.get_device_name(0) if device.type == 'cuda' else 'cpu'}")
    tokenizer = AutoTokenizer.from_pretrained(os.path.join(a.fixture, "text_tokenizer"))
    sched_cfg = json.load(open(os.path.join(a.fixture, "scheduler", "scheduler_config.json")))
    scheduler = UniPCMultistepScheduler.from_config(sched_cfg)
    domain_id = _EMBODIMENT_TO_DOMAIN_ID[DOMAIN]

    state, ungrown = None, None
    if a.state and os.path.exists(os.path.join(a.state, "state.pt")):
        state = torch.load(os.path.join(a.state, "state.pt"), map_location="cpu", weights_only=False)
        log(f"state loaded from {a.state}: {state['info']}")
    if a.init and not state:
        transformer = Cosmos3OmniTransformer.from_pretrained(os.path.join(a.init, "transformer"),
                                                             dtype=torch.float32)
        vae = AutoencoderKLWan.from_pretrained(os.path.join(a.init, "vae"), dtype=torch.float32)
        log(f"weights from {a.init}")
        if a.grow_layers:
            ungrown = transformer
            transformer, sources = grow_depth(transformer, a.grow_layers, Cosmos3OmniTransformer)
            log(f"grown to {a.grow_layers} layers: sources {['%d%s' % (i, '+' if c else '') for i, c in sources]} "
                f"(+: a copy with zeroed output projections)")
        if a.grow_width:
            ungrown = transformer if ungrown is None else ungrown
            old_h, old_m = transformer.config.hidden_size, transformer.config.intermediate_size
            mlp = a.grow_mlp or old_m * a.grow_width // old_h
            transformer = grow_width(transformer, a.grow_width, mlp, Cosmos3OmniTransformer)
            log(f"grown wider: hidden {old_h} -> {a.grow_width} ({transformer.config.num_attention_heads} heads), "
                f"MLP {old_m} -> {mlp} "
                "(the new channels, heads and MLP units start at zero output)")
        if a.grow_kv:
            ungrown = transformer if ungrown is None else ungrown
            old_kv = transformer.config.num_key_value_heads
            transformer = grow_kv_heads(transformer, a.grow_kv, Cosmos3OmniTransformer)
            log(f"key/value heads {old_kv} -> {a.grow_kv} (each loaded one repeated)")
        if a.repatch:
            old_p = transformer.config.latent_patch_size
            transformer = repatch_to_one(transformer, Cosmos3OmniTransformer)
            log(f"latent_patch_size {old_p} -> 1: proj_in summed over each {old_p} x {old_p} block's positions, "
                "proj_out averaged")
    else:
        if state and "transformer_config" in state:
            # the state's own shape (an --init run may have grown, repatched or loaded another config)
            transformer = Cosmos3OmniTransformer.from_config(state["transformer_config"])
        else:
            transformer = Cosmos3OmniTransformer(**transformer_config(len(tokenizer), a.layers, a.hidden, a.heads,
                                                                      a.kv_heads, a.mlp))
        vc = vae_config()
        if state:
            vc.update(latents_mean=state["vae_config"]["latents_mean"], latents_std=state["vae_config"]["latents_std"])
        vae = AutoencoderKLWan(**vc)
        if state:
            transformer.load_state_dict(state["transformer"])
            vae.load_state_dict(state["vae"])
        else:
            init_domain_linears(transformer)
    grown_ref = None
    if a.und_from:
        if ungrown is not None:
            grown_ref = copy.deepcopy(transformer)  # the grown model as it was, for the grown-vs-loaded check
        und_keys = load_und_from(transformer, a.und_from)
        log(f"und tower ({len(und_keys)} tensors: embed_tokens, the und half of every layer, norm, lm_head) from "
            f"{a.und_from}'s language model")
    transformer.to(device).float()
    vae.to(device).float()
    n_tr = sum(p.numel() for p in transformer.parameters())
    n_vae = sum(p.numel() for p in vae.parameters())
    log(f"params: transformer {n_tr / 1e6:.2f} M ({n_tr * 2 / 2**20:.1f} MiB bf16), vae {n_vae / 1e6:.2f} M "
        f"({n_vae * 2 / 2**20:.1f} MiB bf16), vocab {len(tokenizer)}")

    if a.self_check:
        # A saved checkpoint loads in diffusers' pipeline and short runs work (before spending time on training).
        try:
            from diffusers import Cosmos3OmniPipeline
            t = time.time()
            save_checkpoint(pipeline_of(transformer, vae, tokenizer, scheduler), "/tmp/minigen_selfcheck", {"check": 1})
            p = Cosmos3OmniPipeline.from_pretrained("/tmp/minigen_selfcheck", enable_safety_checker=False,
                                                    dtype=torch.float32).to(device)
            p.set_progress_bar_config(disable=True)
            v, _ = p(prompt="The red cube slides to the left.", num_frames=17, height=192, width=320, fps=10,
                     num_inference_steps=2, guidance_scale=2.0, output_type="pt", return_dict=False)
            act = CosmosActionCondition(mode="policy", chunk_size=16, domain_name=DOMAIN, resolution_tier=256,
                                        image=Image.new("RGB", (320, 192)))
            pv, _, pa = p(prompt="Push the red cube to the left.", fps=10, num_inference_steps=2, guidance_scale=1.0,
                          action=act, output_type="pt", return_dict=False)
            log(f"self-check: checkpoint saved, loaded and run: t2v video {tuple(v.shape)}, policy video "
                f"{tuple(pv.shape)} actions {tuple(pa[0].shape)} ({time.time() - t:.1f} s)")
            del p
        except Exception as e:  # noqa: BLE001  the log says it; training goes on
            log(f"self-check FAILED: pipeline save/load/run: {type(e).__name__}: {e}")

    frames_gpu, samples = load_data(a.data, a.wait_data, a.max_clips, device, a.delete_data)
    log(f"data: {len(samples)} clips {tuple(frames_gpu.shape)} ({frames_gpu.numel() / 2**30:.1f} GiB) from "
        f"{len(a.data)} folders")
    actions = torch.tensor([s["actions"] for s in samples], dtype=torch.float32, device=device)
    log(f"actions: {tuple(actions.shape)}, per-column mean {[round(v, 3) for v in actions.mean((0, 1)).tolist()]} "
        f"std {[round(v, 3) for v in actions.std((0, 1)).tolist()]}")

    info = dict(state["info"]) if state else {"vae_steps": 0, "steps": 0, "sessions": 0}
    init_notes = {}
    if a.init:
        try:
            with open(os.path.join(a.init, "cosmos-ts.json")) as f:
                init_notes = json.load(f)
        except (OSError, ValueError) as e:
            log(f"no {a.init}/cosmos-ts.json ({e}): training counts from 0, no inference notes carried over")
    inference_notes = {k: init_notes[k] for k in INFERENCE_NOTE_KEYS if k in init_notes}
    if a.init and not state:
        # the counts go on from the checkpoint's own (cosmos-ts.json "training"), so the saved ones are the totals
        try:
            done = init_notes.get("training", {})
            info.update({k: int(done[k]) for k in ("vae_steps", "steps", "sessions") if k in done})
        except (AttributeError, ValueError, TypeError) as e:
            log(f"no training counts in {a.init}/cosmos-ts.json ({e}): counting from 0")
    info["sessions"] += 1
    if a.vae_seconds > 0:
        info["vae_steps"] += train_vae(vae, frames_gpu, a.vae_seconds, a)
    for prm in vae.parameters():
        prm.requires_grad_(False)

    t = time.time()
    lat_raw, lat0_raw = encode_all(vae, frames_gpu)
    if (a.vae_seconds > 0 and not a.vae_decoder_only) or not (a.init or state):
        mean = lat_raw.mean((0, 2, 3, 4))
        std = lat_raw.std((0, 2, 3, 4)).clamp(min=1e-3)
        vae.register_to_config(latents_mean=[round(v, 5) for v in mean.tolist()],
                               latents_std=[round(v, 5) for v in std.tolist()])
    else:
        # The VAE's encoder is the loaded one: keep its normalisation, which the loaded transformer was trained
        # with (statistics of this session's fresh clips would move every latent by ~1% of a std).
        mean = torch.tensor(vae.config.latents_mean, device=device)
        std = torch.tensor(vae.config.latents_std, device=device)
    norm = lambda z: (z - mean.view(1, -1, 1, 1, 1)) / std.view(1, -1, 1, 1, 1)  # noqa: E731
    lat, lat0 = norm(lat_raw).to(torch.bfloat16), norm(lat0_raw).to(torch.bfloat16)
    d0 = (lat[:, :, :1].float() - lat0.float()).abs().max().item()
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        x = to_unit(frames_gpu[:8])
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.float()
        mse = (rec - x).pow(2).mean().item()
        obj = pixel_weights(x) > 1
        mse_obj = (((rec - x).pow(2) * obj).sum() / (obj.sum() * 3).clamp(min=1)).item()
    log(f"latents {tuple(lat.shape)} in {time.time() - t:.1f} s; latent 0 of the clip vs frame 0 alone: max "
        f"{d0:.3g} (normalised units; the VAE is causal); reconstruction PSNR {10 * math.log10(4 / mse):.1f} dB, "
        f"on objects + gripper {10 * math.log10(4 / max(mse_obj, 1e-9)):.1f} dB")
    look = os.path.join(os.path.dirname(os.path.abspath(a.out)), "look")
    os.makedirs(look, exist_ok=True)
    write_png_strip(torch.cat([x[0], rec[0]], 2), os.path.join(look, "vae_truth_over_reconstruction.png"))
    frames_keep = frames_gpu[:16].clone()
    focus = None
    if a.focus_weight > 1:
        focus = focus_cells(frames_gpu, tuple(lat.shape[2:]))
        log(f"video loss: {focus.float().mean().item():.1%} of the latent cells in focus (objects, gripper, motion), "
            f"weighted {a.focus_weight:g}x")
    del frames_gpu, lat_raw, lat0_raw
    torch.cuda.empty_cache()

    pipe = pipeline_of(transformer, vae, tokenizer, scheduler)
    pack = Packing(pipe, samples, tuple(lat.shape[1:]), device)
    lens = [len(x[0][0]) for x in pack.video_ids] + [len(x[0]) for x in pack.action_ids]
    log(f"text: {len(set(s['prompt'] for s in samples))} distinct prompts; token counts {min(lens)}..{max(lens)}")
    push_clips = [i for i, s in enumerate(samples)
                  if any(e.get("direction") and " slides " in e.get("label", "") for e in s.get("events", []))]
    if a.text_push_share > 0:
        log(f"text modes: {a.text_push_share:.0%} of their samples from the {len(push_clips)} push clips "
            f"({len(push_clips) / len(samples):.0%} of the clips), the rest from all")
    batcher = Batcher(pack, lat, lat0, actions, sched_cfg, a, device, push_clips, focus)
    use_reference = False
    if a.self_check:
        worst = check_batched_forward(pipe, batcher, device, domain_id)
        log(f"self-check: batched forward vs Cosmos3OmniTransformer.forward (fp32; max diff / max |ref|, vision and "
            f"action): {worst}")
        bad = [m for m, (dv, da) in worst.items() if not (dv < 1e-3 and da < 1e-3)]
        if a.und_from:
            und_diff = check_und_is_reasoner(pipe, every_mode_batch(batcher, device), a.und_from, batcher.pack.fps,
                                             device, domain_id)
            log(f"self-check: und tower vs transformers' Qwen3VL language model from {a.und_from}, every layer's "
                f"output on a t2v prompt (fp32; max diff / max |ref|): {und_diff:.3g}")
            if not und_diff < 1e-4:
                log("self-check FAILED for the und tower: it does not compute the Reasoner's language model; "
                    "not training")
                sys.exit(1)
        if ungrown is not None:
            grown = (grown_ref.to(device).float() if grown_ref is not None else pipe.transformer)
            grown_diff = check_grown(grown, ungrown.to(device).float(), batcher, device, domain_id)
            grown_ref = None
            log(f"self-check: grown vs loaded transformer, same batch (fp32; max diff / max |loaded|, vision and "
                f"action): {grown_diff}")
            ungrown = None
            if not max(grown_diff) < 1e-4:
                log("self-check FAILED for the grown transformer: its output is not the loaded one's; not training")
                sys.exit(1)
        if bad:
            # Train through the model's own forward, one sample at a time: slow, but what the pipeline runs.
            log(f"self-check FAILED for {bad}: the batched forward is off; training through "
                f"Cosmos3OmniTransformer.forward per sample, batch {min(a.batch, 16)}")
            use_reference = True
            a.batch = min(a.batch, 16)

    model = transformer
    model.train()
    if a.freeze_und:
        und = set(und_key_map(model.config.num_hidden_layers))
        for n_, p_ in model.named_parameters():
            p_.requires_grad_(n_ not in und)
        info["und_frozen"] = a.und_from or True
        kept = sum(p_.numel() for n_, p_ in model.named_parameters() if n_ in und)
        trainable = sum(p_.numel() for p_ in model.parameters() if p_.requires_grad)
        log(f"und tower frozen: {kept / 1e6:.2f} M parameters kept as loaded; training {trainable / 1e6:.2f} M")
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    decay = [p for n, p in trained if p.ndim >= 2 and "embed" not in n]
    other = [p for n, p in trained if not (p.ndim >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95))
    if state and state.get("opt"):
        try:
            opt.load_state_dict(state["opt"])
        except Exception as e:  # a state from another configuration: a fresh optimizer
            log(f"optimizer state not loaded: {e}")
    params = list(model.parameters())
    ema = [p.detach().clone() for p in params] if a.ema else None
    n = lat.shape[0]
    t_start = time.time()
    budget = max(10.0, a.until - (t_start - T0) - a.tail_seconds)
    log(f"training the transformer for {budget:.0f} s, batch {a.batch}, {n} clips, modes "
        f"{dict(zip(MODES, a.mode_weights))}")
    step, last_save, hist = 0, time.time(), []
    g = torch.Generator(device="cpu").manual_seed(a.seed + info["sessions"])
    perm, pos = torch.randperm(n, generator=g), 0
    while time.time() - t_start < budget:
        frac = (time.time() - t_start) / budget
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        if pos + a.batch > n:
            perm, pos = torch.randperm(n, generator=g), 0
        idx = perm[pos:pos + a.batch].tolist()
        pos += a.batch
        batch = batcher.make(idx)
        t2i = batcher.make_t2i(batcher.text_clips(torch.randint(n, (a.t2i_batch,), generator=g).tolist())) \
            if a.t2i_batch else None
        with torch.autocast("cuda", dtype=torch.bfloat16):
            if use_reference:
                loss, per_v, per_a, has_v, has_a = reference_losses(pipe, batch, pack.fps, device, domain_id)
            else:
                loss, per_v, per_a, has_v, has_a = losses(model, batch, domain_id)
            if t2i is not None:
                loss_t2i, per_v_t2i, _, _, _ = (reference_losses(pipe, t2i, pack.fps, device, domain_id)
                                                if use_reference else losses(model, t2i, domain_id))
                loss = loss + a.t2i_weight * loss_t2i
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if ema:
            with torch.no_grad():
                torch._foreach_lerp_(ema, params, 1.0 - a.ema)
        step += 1
        if step % 10 == 0:
            per_mode = {}
            pv_l, pa_l, hv_l = per_v.tolist(), per_a.tolist(), has_v.tolist()
            for b, m in enumerate(batch["modes"]):
                per_mode.setdefault(m, []).append(pv_l[b] if hv_l[b] else pa_l[b])
            if t2i is not None:
                per_mode["t2i"] = per_v_t2i.tolist()
            hist.append((loss.item(), gn.item(), {m: float(np.mean(v)) for m, v in per_mode.items()}))
        if step % 100 == 0:
            h = hist[-10:]
            modes = {m: round(float(np.mean([x[2][m] for x in h if m in x[2]] or [float("nan")])), 4)
                     for m in MODES + (("t2i",) if a.t2i_batch else ())}
            log(f"step {step} lr {lr:.2e} loss {np.mean([x[0] for x in h]):.4f} grad {np.mean([x[1] for x in h]):.2f} "
                f"per mode (vision loss; idyn: action) {modes}")
        if time.time() - last_save > a.save_every:
            info["steps_this_session"] = step
            save_checkpoint(pipe, a.out, {**info, "steps": info["steps"] + step}, inference_notes)
            last_save = time.time()
    info["steps"] += step
    info["steps_this_session"] = step
    log(f"trained {step} steps in {time.time() - t_start:.0f} s ({(time.time() - t_start) / max(step, 1) * 1000:.0f} "
        f"ms a step)")
    model.eval()

    def log_fixed_losses(tag):
        """Per-mode loss on a fixed batch at fixed sigmas (for the log and the next session's comparison)."""
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            for m in MODES:
                idx = list(range(min(64, n)))
                for s in (0.3, 0.7):
                    b = batcher.make(idx, modes=[m] * len(idx), sigmas=torch.full((len(idx),), s, device=device),
                                     drop=[False] * len(idx))
                    _, pv, pa, hv, ha = losses(model, b, domain_id)
                    log(f"loss {m} sigma {s}{tag}: vision "
                        f"{pv[hv > 0].mean().item() if hv.any() else float('nan'):.4f} "
                        f"action {pa[ha > 0].mean().item() if ha.any() else float('nan'):.4f}")
            # text-to-image is logged whether or not it was trained (the clip's first frame, one latent frame)
            for s in (0.3, 0.7):
                idx = list(range(min(64, n)))
                b = batcher.make_t2i(idx, sigmas=torch.full((len(idx),), s, device=device), drop=[False] * len(idx))
                _, pv, _, _, _ = losses(model, b, domain_id)
                log(f"loss t2i sigma {s}{tag}: vision {pv.mean().item():.4f}")

    log_fixed_losses("")
    if ema:
        with torch.no_grad():
            for p, e in zip(params, ema):
                p.copy_(e)
        info["ema"] = a.ema
        log_fixed_losses(f" (EMA {a.ema:g}, the weights saved)")
    save_checkpoint(pipe, a.out, info, inference_notes)
    if a.state:
        save_state(a.state, pipe, opt, info)
        log(f"state written to {a.state}")

    # The checkpoint as saved, through diffusers' pipeline: t2v and forward dynamics on training clips.
    try:
        from diffusers import Cosmos3OmniPipeline
        t = time.time()
        p = Cosmos3OmniPipeline.from_pretrained(a.out, enable_safety_checker=False, dtype=torch.float32).to(device)
        p.set_progress_bar_config(disable=True)
        look = os.path.join(os.path.dirname(os.path.abspath(a.out)), "look")
        os.makedirs(look, exist_ok=True)
        for k in range(3):
            s = samples[k]
            gen = torch.Generator(device=device).manual_seed(k)
            v, _ = p(prompt=s["prompt"], num_frames=s["frames"], height=s["height"], width=s["width"], fps=s["fps"],
                     num_inference_steps=30, guidance_scale=4.0, generator=gen, output_type="pt", return_dict=False)
            write_png_strip(v.permute(1, 0, 2, 3) * 2 - 1, os.path.join(look, f"t2v_{s['seed']}.png"))
            write_png_strip(to_unit(frames_keep[k:k + 1])[0], os.path.join(look, f"truth_{s['seed']}.png"))
            act = CosmosActionCondition(mode="forward_dynamics", chunk_size=16, domain_name=DOMAIN, resolution_tier=256,
                                        raw_actions=torch.tensor(s["actions"]),
                                        image=Image.fromarray(frames_keep[k, 0].cpu().numpy()))
            fv, _, _ = p(prompt=s["instruction"], fps=s["fps"], num_inference_steps=30, guidance_scale=1.0, action=act,
                         generator=gen, output_type="pt", return_dict=False)
            write_png_strip(fv.permute(1, 0, 2, 3) * 2 - 1, os.path.join(look, f"fdyn_{s['seed']}.png"))
            iv, _ = p(prompt=s["prompt"], num_frames=1, height=s["height"], width=s["width"], fps=s["fps"],
                      num_inference_steps=30, guidance_scale=4.0, generator=gen, output_type="pt", return_dict=False)
            write_png_strip(iv.permute(1, 0, 2, 3) * 2 - 1, os.path.join(look, f"t2i_{s['seed']}.png"))
            log(f"final check {k}: t2v {tuple(v.shape)} fdyn {tuple(fv.shape)} t2i {tuple(iv.shape)} -> {look} "
                f"({s['prompt'][-60:]!r})")
        log(f"final check: the saved checkpoint loads and runs in diffusers ({time.time() - t:.1f} s); done")
    except Exception as e:  # noqa: BLE001
        log(f"final check FAILED: {type(e).__name__}: {e}")


if __name__ == "__main__":
    main()
