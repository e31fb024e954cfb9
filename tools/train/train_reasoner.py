"""Trains the mini Reasoner: a small Qwen3-VL (transformers `Qwen3VLForConditionalGeneration`) on the
procedural world's JSONL (tools/train/world_data.ts), and writes a transformers-layout checkpoint that
the native engine loads (config.json, tokenizer, chat template, processor config, bf16 safetensors in
shards of at most 15 MB).

Runs on the GPU machine (Python 3.12, torch 2.11, transformers 5.17, no internet, no video decoder):
videos are read as the PNG frames `world_data.ts --frames-png` writes, restricted beforehand to the
frames the Qwen3-VL video processor samples (tools/train/pack_for_device.sh), so the prompt the
model trains on is the one the native engine builds from the mp4.

    PYTHONUNBUFFERED=1 python3 tools/train/train_reasoner.py --data .dev/train/w0000 .dev/train/w0100 \
        --out /tmp/mini --state /tmp/state --seconds 300

Resumable: `--state DIR` is loaded when it holds a training state (model in fp32, AdamW moments in
bf16 so that the state fits in the 16 MiB files the device hands back, step, epoch and position in the
epoch's permutation) and rewritten at the end; `--init CKPT` starts from a checkpoint's weights with a
fresh optimizer instead (a later session that has only the committed checkpoint). Each session runs one
warm-up + cosine learning-rate cycle over its `--seconds` (a warm restart when resumed).

Deterministic: the model's initialisation and every epoch's order derive from `--seed` (epoch e is
permutation(seed + e)); the data position is saved, so a resumed run sees the samples a single run
would have (GPU kernels themselves are not bit-deterministic).

The tokenizer, chat template and processor settings are the tiny fixture's (test/fixtures/qwen3vl-tiny:
a 1400-token byte-level BPE plus Qwen3-VL's special tokens): every digit is one token, and the world's
words (colours, shapes, "bbox_2d", ...) encode in a few tokens each, which is adequate here and keeps
the embedding small.
"""
import argparse
import copy
import json
import math
import os
import random
import re
import shutil
import sys
import time

T0 = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoProcessor, GenerationConfig, Qwen3VLConfig, Qwen3VLForConditionalGeneration  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "test", "fixtures", "qwen3vl-tiny")
# Files copied verbatim from the fixture: the engine reads the same tokenizer / template / processor.
COPIED = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "processor_config.json"]
IGNORE = -100


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="data folders written by world_data.ts (packed)")
    p.add_argument("--tasks", default="grounding_2d,caption", help="comma-separated tasks to train on")
    p.add_argument("--out", required=True, help="where the transformers-layout checkpoint is written")
    p.add_argument("--state", help="training-state folder: loaded if present, rewritten at the end")
    p.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--seconds", type=float, default=300, help="training time of this session (after preprocessing)")
    p.add_argument("--until", type=float, help="stop training this many seconds after the script started (a device run's bound)")
    p.add_argument("--preprocess-seconds", type=float, default=90, help="bound on preprocessing; what is done by then is used")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--fixture", default=FIXTURE, help="checkpoint whose tokenizer / template / processor are reused")
    p.add_argument("--no-mirror", dest="mirror", action="store_false", help="no left-right mirrored grounding copies")
    p.add_argument("--dry", action="store_true", help="build the model and preprocess, no training")
    return p.parse_args()


def model_config(tok):
    """~5 M parameters: a 4-layer 256-wide text decoder and a 3-block 128-wide vision tower."""
    ids = {t: tok.convert_tokens_to_ids(t) for t in ("<|endoftext|>", "<|im_end|>", "<|image_pad|>", "<|video_pad|>",
                                                     "<|vision_start|>", "<|vision_end|>")}
    text = dict(
        vocab_size=len(tok), hidden_size=256, intermediate_size=640, num_hidden_layers=4, num_attention_heads=4,
        num_key_value_heads=2, head_dim=64, hidden_act="silu", max_position_embeddings=4096, rms_norm_eps=1e-6,
        # Qwen3-VL's interleaved mRoPE, sections scaled from [24, 20, 20] (head_dim 128) to head_dim 64.
        rope_parameters={"rope_type": "default", "rope_theta": 5000000.0, "mrope_section": [12, 10, 10],
                         "mrope_interleaved": True},
        attention_bias=False, tie_word_embeddings=False, bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"], initializer_range=0.02,
    )
    vision = dict(
        depth=3, hidden_size=128, hidden_act="gelu_pytorch_tanh", intermediate_size=384, num_heads=4, in_channels=3,
        patch_size=16, spatial_merge_size=2, temporal_patch_size=2, out_hidden_size=256,
        num_position_embeddings=256, deepstack_visual_indexes=[1], initializer_range=0.02,
    )
    cfg = Qwen3VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                        video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                        vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=False)
    return cfg, ids


def read_samples(folders, tasks, mirror):
    out = []
    for folder in folders:
        frames_file = os.path.join(folder, "video_frames.json")
        video_frames = json.load(open(frames_file)) if os.path.exists(frames_file) else None
        for task in tasks:
            path = os.path.join(folder, f"{task}.jsonl")
            if not os.path.exists(path):
                continue
            for line in open(path, encoding="utf-8"):
                rec = json.loads(line)
                if "video" in rec["media"] and video_frames is None:
                    continue  # no frames for this folder's videos: skip, never guess
                out.append((folder, video_frames, rec))
                if mirror and task == "grounding_2d":
                    out.append((folder, video_frames, mirrored(rec)))
    return out


BBOX = re.compile(r'"bbox_2d": \[(\d+), (\d+), (\d+), (\d+)\]')


def mirrored(rec):
    """A grounding record seen in a mirror: the image flipped left-right and every box's x mirrored on
    the 0-1000 grid. Grounding answers name no direction, so the pair stays true; it doubles the
    grounding data at no rendering cost."""
    rec = copy.deepcopy(rec)
    flip = lambda m: f'"bbox_2d": [{1000 - int(m[3])}, {m[2]}, {1000 - int(m[1])}, {m[4]}]'  # noqa: E731
    rec["messages"][-1]["content"][0]["text"] = BBOX.sub(flip, rec["messages"][-1]["content"][0]["text"])
    rec["id"] = rec["id"] + "-mirror"
    rec["mirror"] = True
    return rec


class Preprocessor:
    def __init__(self, proc):
        self.proc = proc
        self.tok = proc.tokenizer

    def __call__(self, folder, video_frames, rec):
        msgs = rec["messages"]
        prompt = self.tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
        full = self.tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
        assert full.startswith(prompt), "the chat template's prompt is not a prefix of the conversation"
        answer = full[len(prompt):]
        kw = dict(text=[prompt], return_tensors="pt")
        if "image" in rec["media"]:
            img = Image.open(os.path.join(folder, rec["media"]["image"])).convert("RGB")
            kw["images"] = [ImageOps.mirror(img) if rec.get("mirror") else img]
        else:
            video_dir = os.path.join(folder, os.path.dirname(rec["media"]["video"]), "reasoner")
            idx = video_frames["indices"]
            frames = np.stack([np.asarray(Image.open(os.path.join(video_dir, f"{k:03d}.png")).convert("RGB")) for k in idx])
            meta = dict(total_num_frames=video_frames["totalFrames"], fps=video_frames["fps"],
                        duration=video_frames["totalFrames"] / video_frames["fps"], width=frames.shape[2],
                        height=frames.shape[1], frames_indices=idx)
            kw.update(videos=[frames], video_metadata=[meta], do_sample_frames=False)
        try:
            batch = dict(self.proc(**kw))
        except Exception:  # noqa: BLE001 - some versions want a VideoMetadata object, not a dict
            if "video_metadata" not in kw:
                raise
            from transformers.video_utils import VideoMetadata
            kw["video_metadata"] = [VideoMetadata(**m) for m in kw["video_metadata"]]
            batch = dict(self.proc(**kw))
        batch.pop("token_type_ids", None)
        ans_ids = self.tok(answer, add_special_tokens=False)["input_ids"]
        seq_len = batch["input_ids"].shape[1]
        seq, other = {}, {}
        for k, v in batch.items():
            if torch.is_tensor(v) and v.ndim == 2 and v.shape[0] == 1 and v.shape[1] == seq_len and k != "pixel_values":
                seq[k] = v[0]
            elif torch.is_tensor(v):
                other[k] = v  # pixel values and grids, concatenated across a batch
        n = len(ans_ids)
        seq["input_ids"] = torch.cat([seq["input_ids"], torch.tensor(ans_ids, dtype=seq["input_ids"].dtype)])
        for k in list(seq):
            if k == "attention_mask":
                seq[k] = torch.cat([seq[k], torch.ones(n, dtype=seq[k].dtype)])
            elif k != "input_ids":
                seq[k] = torch.cat([seq[k], torch.zeros(n, dtype=seq[k].dtype)])  # text tokens
        labels = torch.full((seq_len + n,), IGNORE, dtype=torch.long)
        labels[seq_len:] = torch.tensor(ans_ids)
        return dict(seq=seq, other=other, labels=labels, id=rec["id"], task=rec["task"], prompt=prompt, answer=answer)


def collate(items, pad_id, device):
    L = max(it["labels"].shape[0] for it in items)
    out = {}
    for k in items[0]["seq"]:
        fill = pad_id if k == "input_ids" else 0
        t = torch.full((len(items), L), fill, dtype=items[0]["seq"][k].dtype)
        for i, it in enumerate(items):
            t[i, : it["seq"][k].shape[0]] = it["seq"][k]
        out[k] = t
    labels = torch.full((len(items), L), IGNORE, dtype=torch.long)
    for i, it in enumerate(items):
        labels[i, : it["labels"].shape[0]] = it["labels"]
    out["labels"] = labels
    keys = {k for it in items for k in it["other"]}
    for k in keys:
        parts = [it["other"][k] for it in items if k in it["other"]]
        out[k] = torch.cat(parts, 0)
    return {k: v.to(device, non_blocking=True) for k, v in out.items()}


def save_checkpoint(model, out, fixture, ids):
    """transformers layout, bf16 weights in shards of at most 15 MB, the fixture's tokenizer / template / processor."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    m = Qwen3VLForConditionalGeneration(model.config)
    m.load_state_dict({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    m = m.to(torch.bfloat16)
    m.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"], eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                                           pad_token_id=ids["<|endoftext|>"], do_sample=True, temperature=0.7, top_k=20,
                                           top_p=0.8, repetition_penalty=1.0)
    m.save_pretrained(out, max_shard_size="15MB")
    for f in COPIED:
        shutil.copy(os.path.join(fixture, f), os.path.join(out, f))


def save_state(model, opt, state_dir, info):
    """Model in fp32, AdamW moments in bf16 (each file well under 16 MiB for this size), counters in JSON."""
    os.makedirs(state_dir, exist_ok=True)
    names = {id(p): n for n, p in model.named_parameters()}
    save_file({n: p.detach().float().cpu().contiguous() for n, p in model.named_parameters()},
              os.path.join(state_dir, "model.safetensors"))
    for moment in ("exp_avg", "exp_avg_sq"):
        t = {}
        for group in opt.param_groups:
            for p in group["params"]:
                st = opt.state.get(p)
                if st and moment in st:
                    t[names[id(p)]] = st[moment].detach().to(torch.bfloat16).cpu().contiguous()
        save_file(t, os.path.join(state_dir, f"{moment}.safetensors"))
    opt_steps = {names[id(p)]: float(opt.state[p]["step"]) for g in opt.param_groups for p in g["params"] if p in opt.state}
    json.dump(dict(info, opt_steps=opt_steps), open(os.path.join(state_dir, "trainer.json"), "w"), indent=1)


def load_state(model, opt, state_dir, device):
    info = json.load(open(os.path.join(state_dir, "trainer.json")))
    w = load_file(os.path.join(state_dir, "model.safetensors"))
    model.load_state_dict(w)
    moments = {m: load_file(os.path.join(state_dir, f"{m}.safetensors")) for m in ("exp_avg", "exp_avg_sq")}
    for n, p in model.named_parameters():
        if n in moments["exp_avg"]:
            opt.state[p] = dict(step=torch.tensor(info["opt_steps"][n]),
                                exp_avg=moments["exp_avg"][n].to(device, torch.float32),
                                exp_avg_sq=moments["exp_avg_sq"][n].to(device, torch.float32))
    return info


def main():
    a = parse_args()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    torch.backends.cuda.matmul.allow_tf32 = True
    device = "cuda" if torch.cuda.is_available() else "cpu"
    log("transformers", transformers.__version__, "torch", torch.__version__, "device", device)
    proc = AutoProcessor.from_pretrained(a.fixture)
    tok = proc.tokenizer
    cfg, ids = model_config(tok)
    model = Qwen3VLForConditionalGeneration(cfg).to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params / 1e6:.2f} M parameters ({n_params * 2 / 2**20:.1f} MiB in bf16)")
    if a.init:
        w = {}
        for f in sorted(os.listdir(a.init)):
            if f.endswith(".safetensors"):
                w.update(load_file(os.path.join(a.init, f)))
        missing, unexpected = model.load_state_dict({k: v.float() for k, v in w.items()}, strict=False)
        log("init from", a.init, "missing", missing, "unexpected", unexpected)
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8)
    info = dict(step=0, epoch=0, position=0, seed=a.seed, seconds=0.0, sessions=0)
    if a.state and os.path.exists(os.path.join(a.state, "trainer.json")):
        info = load_state(model, opt, a.state, device)
        log("resumed", {k: info[k] for k in ("step", "epoch", "position", "seconds", "sessions")})

    # Preprocess in a fixed order (sorted by id), bounded in time; the order of training is the
    # per-epoch permutation below, so a partial preprocessing still mixes the tasks.
    samples = read_samples(a.data, a.tasks.split(","), a.mirror)
    samples.sort(key=lambda s: (s[2]["seed"], s[2]["task"], s[2]["id"]))
    log(f"{len(samples)} records in {len(a.data)} folders")
    pre = Preprocessor(proc)
    data, t_pre = [], time.time()
    failures = {}
    for folder, vf, rec in samples:
        if time.time() - t_pre > a.preprocess_seconds:
            log(f"preprocessing bound reached: using {len(data)} of {len(samples)}")
            break
        try:
            data.append(pre(folder, vf, rec))
        except Exception as e:  # noqa: BLE001 - a task the device cannot prepare is dropped, and said so
            failures.setdefault(rec["task"], repr(e))
    for task, err in failures.items():
        log("could not prepare", task, "samples:", err)
    counts = {}
    for d in data:
        counts[d["task"]] = counts.get(d["task"], 0) + 1
    lens = [d["labels"].shape[0] for d in data]
    log(f"prepared {len(data)} in {time.time() - t_pre:.1f}s {counts}; tokens/sample mean {np.mean(lens):.0f} max {max(lens)}")
    if data:
        log("example prompt:", repr(data[0]["prompt"][-300:]), "answer:", repr(data[0]["answer"][:200]))
    if a.dry or not data:
        return

    pad_id = ids["<|endoftext|>"]
    if a.until is not None:
        a.seconds = max(10.0, min(a.seconds, a.until - (time.time() - T0)))
    log(f"training for {a.seconds:.0f}s")
    model.train()
    t_train, step0 = time.time(), info["step"]
    losses = []
    epoch, pos = info["epoch"], info["position"]
    perm = np.random.RandomState(a.seed + epoch).permutation(len(data))
    try:
        while True:
            elapsed = time.time() - t_train
            if elapsed > a.seconds:
                break
            s = info["step"] - step0
            warm = min(1.0, (s + 1) / a.warmup)
            lr = a.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, elapsed / a.seconds))))
            for g in opt.param_groups:
                g["lr"] = lr
            if pos + a.batch > len(perm):
                epoch, pos = epoch + 1, 0
                perm = np.random.RandomState(a.seed + epoch).permutation(len(data))
            items = [data[i] for i in perm[pos:pos + a.batch]]
            pos += a.batch
            batch = collate(items, pad_id, device)
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
                loss = model(**batch).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            info["step"] += 1
            losses.append(loss.item() if info["step"] % 25 == 0 or s < 5 else None)
            if info["step"] % 100 == 0 or s < 3:
                recent = [x for x in losses[-100:] if x is not None]
                log(f"step {info['step']} epoch {epoch} lr {lr:.2e} loss {np.mean(recent):.4f}")
    except Exception as e:  # noqa: BLE001 - keep what was learnt so far
        log("training stopped by", repr(e))
    info.update(epoch=epoch, position=pos, seconds=info["seconds"] + time.time() - t_train, sessions=info["sessions"] + 1)
    log(f"trained {info['step'] - step0} steps this session ({info['step']} in all), epoch {epoch}")

    model.eval()
    save_checkpoint(model, a.out, a.fixture, ids)
    log("checkpoint written:", sorted(os.listdir(a.out)))
    if a.state:
        save_state(model, opt, a.state, info)
        log("state written:", a.state)
    # A look at what it learnt: greedy answers on a few training prompts (the evaluation proper
    # runs through the native engine on held-out seeds: bench/mini_reasoner_eval.ts).
    try:
        seen = set()
        for d in data:
            task = d["task"]
            if task in seen:
                continue
            seen.add(task)
            b = collate([d], pad_id, device)
            n_prompt = int((b["labels"][0] == IGNORE).sum())
            inp = {k: (v[:, :n_prompt] if v.ndim == 2 and v.shape[1] == b["labels"].shape[1] else v) for k, v in b.items() if k != "labels"}
            with torch.no_grad():
                g = model.generate(**inp, max_new_tokens=96, do_sample=False)
            log(task, "greedy:", repr(tok.decode(g[0, n_prompt:], skip_special_tokens=False)), "| target:", repr(d["answer"]))
    except Exception as e:  # noqa: BLE001
        log("greedy look failed:", repr(e))


if __name__ == "__main__":
    main()
