"""Trains the mini Reasoner: a small Qwen3-VL (transformers `Qwen3VLForConditionalGeneration`) on the
procedural world's JSONL (tools/train/world_data.ts), and writes a transformers-layout checkpoint that
the native engine loads (config.json, tokenizer, chat template, processor config, bf16 safetensors in
shards of at most 15 MB).

Runs on the GPU machine (Python 3.12, torch 2.11, transformers 5.17, no internet, no video decoder):
a clip is read as the PNG frames the Qwen3-VL video processor samples from it (`world_data.ts
--sampled-frames` writes only those, under `media/<seed>/<clip>/`, with `video_frames.json`), so the
prompt the model trains on is the one the native engine builds from the mp4.

    PYTHONUNBUFFERED=1 python3 tools/train/train_reasoner.py --data /tmp/d/f00000 /tmp/d/g01000 \
        --out /tmp/mini --state /tmp/state --seconds 300

Where the time goes, and what this script does about it (a 5 M-parameter model is bound by Python and
kernel launches, not by FLOPs):
- Preprocessing runs in worker processes (forked before CUDA starts): the processor gives the token
  ids (the prompt exactly as the engine builds it). With 10^5 samples the processor's pixel work per
  sample is the cost, so it runs once per media signature (kind, size, sampled frames) on the
  placeholder alone, and each sample's prompt is tokenized with that expansion spliced in
  (`prepare_text`), checked equal to the processor on samples of every task at start-up (else off).
  The workers decode the frames straight into shared memory (`shared_buffers`), not through pipes;
  the frames stay uint8 on the GPU, deduplicated (caption, temporal localization and plausibility
  share a clip), and are normalised and cut into patches there per batch (`patchify`, the
  processor's layout).
- The mRoPE position ids are computed once per sample (`rope_positions`) instead of by transformers'
  per-row Python loop at every step.
- The vision tower's per-image loops are avoided: its position embeddings are computed once per
  distinct grid in a batch (every image here has one grid), and its attention runs as one batched
  SDPA call when every attention chunk (an image, a video frame pair) has the same length, instead
  of one call per chunk.
Each of these is checked against transformers' own path on a real batch when the run starts
(`self_check`: loss and pixels must agree); what disagrees is switched off and said so in the log.

Resumable: `--state DIR` is loaded when it holds a training state (model in fp32, AdamW moments in
bf16, step, epoch and position in the epoch's permutation) and rewritten at the end; `--init CKPT`
starts from a checkpoint's weights with a fresh optimizer instead (a later session that has only the
committed checkpoint). Each session runs one warm-up + cosine learning-rate cycle over its `--seconds`.
The checkpoint is also written every `--save-every` seconds, so a run cut short still returns weights.

Deterministic: the model's initialisation and every epoch's order derive from `--seed` (epoch e is
permutation(seed + e)); GPU kernels themselves are not bit-deterministic.

The tokenizer, chat template and processor settings are the tiny fixture's (test/fixtures/qwen3vl-tiny:
a 1400-token byte-level BPE plus Qwen3-VL's special tokens): every digit is one token, and the world's
words (colours, shapes, "bbox_2d", ...) encode in a few tokens each, which keeps the embedding small.
"""
import argparse
import copy
import inspect
import json
import math
import mmap
import multiprocessing as mp
import os
import random
import re
import shutil
import sys
import time

T0 = time.time()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # the processor is used in forked workers

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from transformers import AutoProcessor, GenerationConfig, Qwen3VLConfig, Qwen3VLForConditionalGeneration  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "..", "test", "fixtures", "qwen3vl-tiny")
# Files copied verbatim from the fixture: the engine reads the same tokenizer / template / processor.
COPIED = ["tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "processor_config.json"]
IGNORE = -100
ALL_TASKS = "caption,grounding_2d,temporal_localization,physical_plausibility,action_cot,describe_anything"
# How often each task's samples appear per epoch: the video tasks have 10x fewer distinct samples than
# grounding (one clip per seed, against ten times as many grounding stills) and carry three of the four
# measured targets.
DEFAULT_REPEAT = "caption=3,temporal_localization=3,physical_plausibility=3"


def log(*a):
    print(f"[{time.time() - T0:6.1f}s]", *a, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", nargs="+", required=True, help="data folders written by world_data.ts")
    p.add_argument("--tasks", default=ALL_TASKS, help="comma-separated tasks to train on")
    p.add_argument("--repeat", default=DEFAULT_REPEAT, help="task=N,...: each sample of the task N times per epoch")
    p.add_argument("--out", required=True, help="where the transformers-layout checkpoint is written")
    p.add_argument("--state", help="training-state folder: loaded if present, rewritten at the end")
    p.add_argument("--init", help="start from this checkpoint's weights (fresh optimizer)")
    p.add_argument("--seconds", type=float, default=300, help="training time of this session (after preprocessing)")
    p.add_argument("--until", type=float, help="stop training this many seconds after the script started (a device run's bound)")
    p.add_argument("--preprocess-seconds", type=float, default=90, help="bound on preprocessing; what is done by then is used")
    p.add_argument("--save-every", type=float, default=120, help="also write the checkpoint every this many seconds of training")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=max(1, min(14, (os.cpu_count() or 2) - 2)))
    p.add_argument("--fixture", default=FIXTURE, help="checkpoint whose tokenizer / template / processor are reused")
    p.add_argument("--no-mirror", dest="mirror", action="store_false", help="no left-right mirrored grounding copies")
    p.add_argument("--no-fast", dest="fast", action="store_false", help="transformers' own path for everything")
    p.add_argument("--look", type=int, default=2, help="greedy answers printed per task at the end")
    p.add_argument("--dry", action="store_true", help="build the model and preprocess, no training")
    return p.parse_args(argv)


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


# ---------------------------------------------------------------------------------------------------
# Records and media


def clip_dir(folder, video_url):
    """`media/7/reasoner.mp4` → `<folder>/media/7/reasoner/`: the clip's sampled frames."""
    stem = os.path.splitext(os.path.basename(video_url))[0]
    return os.path.join(folder, os.path.dirname(video_url), stem)


def read_samples(folders, tasks, mirror):
    """(folder, video_frames, record) per sample, mirrored grounding copies added; `repeat` is applied later.
    video_frames is the folder's video_frames.json, or the record's own `video_frames` when it has one."""
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
                # a record sampled at its own rate (world_data.ts --plausibility-fps) names its frames itself
                frames = rec.get("video_frames") or video_frames
                if "video" in rec["media"]:
                    if frames is None or not os.path.isdir(clip_dir(folder, rec["media"]["video"])):
                        continue  # no frames for this clip: skip, never guess
                out.append((folder, frames, rec))
                if mirror and task == "grounding_2d":
                    out.append((folder, frames, mirrored(rec)))
    return out


BBOX = re.compile(r'"bbox_2d": \[(\d+), (\d+), (\d+), (\d+)\]')


def mirrored(rec):
    """A grounding record seen in a mirror: the image flipped left-right and every box's x mirrored on
    the 0-1000 grid. Grounding answers name no direction, so the pair stays true; it doubles the
    grounding data at no rendering cost."""
    rec = copy.deepcopy(rec)
    flip = lambda m: f'"bbox_2d": [{1000 - int(m[3])}, {m[2]}, {1000 - int(m[1])}, {m[4]}]'  # noqa: E731
    rec["messages"][-1]["content"][0]["text"] = BBOX.sub(flip, rec["messages"][-1]["content"][0]["text"])
    rec["answer"] = rec["messages"][-1]["content"][0]["text"]
    rec["id"] = rec["id"] + "-mirror"
    rec["mirror"] = True
    return rec


def media_key(folder, video_frames, rec):
    """What a sample looks at: ("image", path) or ("video", frame dir); the same clip is loaded once."""
    if "image" in rec["media"]:
        return ("image", os.path.join(folder, rec["media"]["image"]))
    return ("video", clip_dir(folder, rec["media"]["video"]), tuple(video_frames["indices"]))


def load_media(key):
    """uint8 frames (T, H, W, 3) of a media key (unflipped; mirroring is done on the GPU)."""
    if key[0] == "image":
        return np.asarray(Image.open(key[1]).convert("RGB"))[None]
    return np.stack([np.asarray(Image.open(os.path.join(key[1], f"{k:03d}.png")).convert("RGB")) for k in key[2]])


def media_inputs(folder, video_frames, rec):
    """The processor's media arguments for a record (PIL image, or frames + video metadata)."""
    key = media_key(folder, video_frames, rec)
    if key[0] == "image":
        img = Image.open(key[1]).convert("RGB")
        return dict(images=[ImageOps.mirror(img) if rec.get("mirror") else img])
    frames = load_media(key)
    meta = dict(total_num_frames=video_frames["totalFrames"], fps=video_frames["fps"],
                duration=video_frames["totalFrames"] / video_frames["fps"], width=frames.shape[2],
                height=frames.shape[1], frames_indices=list(key[2]))
    return dict(videos=[frames], video_metadata=[meta], do_sample_frames=False)


def run_processor(proc, prompt, media):
    kw = dict(text=[prompt], return_tensors="pt", **media)
    try:
        return dict(proc(**kw))
    except Exception:  # noqa: BLE001 - some versions want a VideoMetadata object, not a dict
        if "video_metadata" not in kw:
            raise
        from transformers.video_utils import VideoMetadata
        kw["video_metadata"] = [VideoMetadata(**m) for m in kw["video_metadata"]]
        return dict(proc(**kw))


PIXEL_KEYS = ("pixel_values", "pixel_values_videos")
GRID_KEYS = ("image_grid_thw", "video_grid_thw")


def prepare(proc, folder, video_frames, rec, with_pixels=False):
    """Token ids of prompt + answer (the processor's expansion of the media placeholders), the labels'
    start, the grids, the media key; the processor's pixel values too when asked (for the self-check)."""
    tok = proc.tokenizer
    msgs = rec["messages"]
    prompt = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    assert full.startswith(prompt), "the chat template's prompt is not a prefix of the conversation"
    answer = full[len(prompt):]
    batch = run_processor(proc, prompt, media_inputs(folder, video_frames, rec))
    batch.pop("token_type_ids", None)
    seq = prompt_sequences(batch)
    grids = {k: batch[k].numpy() for k in GRID_KEYS if k in batch}
    out = finish_sample(tok, seq, grids, answer, prompt, folder, video_frames, rec)
    if with_pixels:
        out["pixels"] = {k: batch[k].float().numpy() for k in PIXEL_KEYS if k in batch}
    return out


def prompt_sequences(batch):
    """The per-token sequences of a processor output (input_ids, attention_mask, any token type ids), 1-D numpy."""
    n_prompt = batch["input_ids"].shape[1]
    return {k: v[0].numpy() for k, v in batch.items()
            if torch.is_tensor(v) and v.ndim == 2 and v.shape[0] == 1 and v.shape[1] == n_prompt and k not in PIXEL_KEYS}


def finish_sample(tok, seq, grids, answer, prompt, folder, video_frames, rec):
    """A prepared sample: the prompt's sequences with the answer's tokens appended (text tokens)."""
    ans_ids = tok(answer, add_special_tokens=False)["input_ids"]
    n_prompt = len(seq["input_ids"])
    n = len(ans_ids)
    seq = dict(seq)
    for k in list(seq):
        tail = np.asarray(ans_ids) if k == "input_ids" else np.ones(n) if k == "attention_mask" else np.zeros(n)
        seq[k] = np.concatenate([seq[k], tail.astype(seq[k].dtype)])  # answer tokens are text tokens
    return dict(seq=seq, n_prompt=n_prompt, grids=grids, key=media_key(folder, video_frames, rec),
                mirror=bool(rec.get("mirror")), id=rec["id"], task=rec["task"], prompt=prompt, answer=answer,
                reference=rec.get("reference"))


# The text the chat template writes for one image / video; the processor replaces it with the media's
# expanded tokens (pads, and a video's per-frame timestamps).
MEDIA_PLACEHOLDER = {"image": "<|vision_start|><|image_pad|><|vision_end|>",
                     "video": "<|vision_start|><|video_pad|><|vision_end|>"}


def media_signature(folder, video_frames, rec):
    """What the processor's text expansion depends on: the kind, the frame size (read from the PNG
    header only) and, for a clip, the sampled indices and timing."""
    key = media_key(folder, video_frames, rec)
    first = key[1] if key[0] == "image" else os.path.join(key[1], f"{key[2][0]:03d}.png")
    with Image.open(first) as im:
        size = im.size
    if key[0] == "image":
        return ("image", size)
    return ("video", size, key[2], video_frames["fps"], video_frames["totalFrames"])


def media_expansion(proc, folder, video_frames, rec):
    """The processor run once on the placeholder alone with this record's media: the expanded text
    (decoded back from its token ids), the grids, and each extra token sequence (e.g. token type ids)
    as a map token id -> value. With it a sample of the same signature needs only the tokenizer."""
    kind = media_key(folder, video_frames, rec)[0]
    batch = run_processor(proc, MEDIA_PLACEHOLDER[kind], media_inputs(folder, video_frames, rec))
    batch.pop("token_type_ids", None)
    seq = prompt_sequences(batch)
    ids = seq["input_ids"].tolist()
    extra = {}
    for k, v in seq.items():
        if k in ("input_ids", "attention_mask"):
            continue
        m = {}
        for t, x in zip(ids, v.tolist()):
            if m.setdefault(t, x) != x:
                raise ValueError(f"{k} is not a function of the token id")
        extra[k] = (m, v.dtype)
    text = proc.tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    return dict(kind=kind, text=text, grids={k: batch[k].numpy() for k in GRID_KEYS if k in batch}, extra=extra,
                mask_dtype=seq["attention_mask"].dtype if "attention_mask" in seq else None)


def prepare_text(proc, exp, folder, video_frames, rec):
    """`prepare` without the image processor: the prompt with its media placeholder replaced by the
    signature's expansion, tokenized. Checked equal to `prepare` on real samples before it is used."""
    tok = proc.tokenizer
    msgs = rec["messages"]
    prompt = tok.apply_chat_template(msgs[:-1], tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(msgs, tokenize=False, add_generation_prompt=False)
    assert full.startswith(prompt), "the chat template's prompt is not a prefix of the conversation"
    placeholder = MEDIA_PLACEHOLDER[exp["kind"]]
    if prompt.count(placeholder) != 1:
        raise ValueError("the prompt does not hold exactly one media placeholder")
    ids = np.asarray(tok([prompt.replace(placeholder, exp["text"], 1)])["input_ids"][0], dtype=np.int64)
    seq = {"input_ids": ids}
    if exp["mask_dtype"] is not None:
        seq["attention_mask"] = np.ones(len(ids), dtype=exp["mask_dtype"])
    for k, (m, dtype) in exp["extra"].items():
        seq[k] = np.asarray([m.get(t, 0) for t in ids.tolist()], dtype=dtype)
    return finish_sample(tok, seq, exp["grids"], full[len(prompt):], prompt, folder, video_frames, rec)


def same_prepared(a, b):
    """Two prepared samples give the model the same inputs (sequences, prompt length, grids)."""
    return (a["n_prompt"] == b["n_prompt"] and a["seq"].keys() == b["seq"].keys()
            and all(a["seq"][k].dtype == b["seq"][k].dtype and np.array_equal(a["seq"][k], b["seq"][k]) for k in a["seq"])
            and a["grids"].keys() == b["grids"].keys()
            and all(np.array_equal(a["grids"][k], b["grids"][k]) for k in a["grids"]))


def text_only_expansions(proc, samples, per_kind=6):
    """Expansions for the media signatures of a few samples of each task, mirrored or not, checked:
    `prepare_text` must equal `prepare` on every one of them, else none is used (the processor for
    every sample, as before). Returns ({signature: expansion}, a line for the log)."""
    seen, checked, exps = {}, 0, {}
    try:
        for folder, vf, rec in samples:
            kind = (rec["task"], bool(rec.get("mirror")))
            if seen.get(kind, 0) >= per_kind:
                continue
            seen[kind] = seen.get(kind, 0) + 1
            sig = media_signature(folder, vf, rec)
            if sig not in exps:
                exps[sig] = media_expansion(proc, folder, vf, rec)
            if not same_prepared(prepare(proc, folder, vf, rec), prepare_text(proc, exps[sig], folder, vf, rec)):
                return {}, f"text-only preparation OFF: differs from the processor on {rec['id']}"
            checked += 1
    except Exception as e:  # noqa: BLE001
        return {}, f"text-only preparation OFF: {e!r}"
    return exps, f"text-only preparation on: equal to the processor on {checked} samples, {len(exps)} media signatures"


_PROC = None
_EXPANSIONS = {}  # media signature -> expansion (text_only_expansions), inherited by the forked workers
_BUFFERS = {}  # kind -> (keys, shared uint8 array) the loading workers write frames into
_SAMPLES = []  # the records being prepared, inherited by the forked workers
_ROPE = None  # (vision token ids, spatial merge size): the workers compute the mRoPE positions too


def _worker_init(fixture):
    global _PROC
    torch.set_num_threads(1)
    if _PROC is None:  # inherited from the parent when forked
        _PROC = AutoProcessor.from_pretrained(fixture)


def prepare_any(proc, folder, video_frames, rec):
    """The text-only path when the sample's media signature was checked, else the processor."""
    if _EXPANSIONS:
        exp = _EXPANSIONS.get(media_signature(folder, video_frames, rec))
        if exp is not None:
            return prepare_text(proc, exp, folder, video_frames, rec)
    return prepare(proc, folder, video_frames, rec)


def sample_positions(d, vision_ids, merge):
    grids = [g for k in GRID_KEYS for g in d["grids"].get(k, [])]
    return rope_positions(d["seq"]["input_ids"], grids, vision_ids, merge)


def _worker_prepare_index(i):
    """Prepares samples[i] (the list is inherited by the forked workers: no record passes through a
    pipe), with its mRoPE positions when `_ROPE` (vision token ids, merge size) is set."""
    folder, video_frames, rec = _SAMPLES[i]
    try:
        d = prepare_any(_PROC, folder, video_frames, rec)
        if _ROPE:
            d["positions"] = sample_positions(d, *_ROPE)
        return d
    except Exception as e:  # noqa: BLE001 - reported per task by the caller
        return dict(error=repr(e), task=rec["task"])


def _worker_load(job):
    """Loads one media key into its slot of the shared buffer; False when it fails or has another shape."""
    kind, i = job
    keys, buf = _BUFFERS[kind]
    try:
        frames = load_media(keys[i])
        if frames.shape != buf.shape[1:]:
            return kind, i, False
        buf[i] = frames
        return kind, i, True
    except Exception:  # noqa: BLE001 - a sample whose media did not load is dropped
        return kind, i, False


def buffer_name(key):
    """The shared buffer a media key goes to: "image", or "video<T>" per sampled frame count (a task sampled
    at another rate, e.g. plausibility at 4 fps, has clips of another length)."""
    return "image" if key[0] == "image" else f"video{len(key[2])}"


def shared_buffers(keys):
    """Per buffer name (`buffer_name`), the keys and one shared (mmap, inherited by forked workers) uint8
    array (N, T, H, W, 3) shaped like its first key that loads: the workers write frames straight into it,
    so tens of GB of frames never pass through pipes."""
    out = {}
    for name in dict.fromkeys(buffer_name(k) for k in keys):
        ks = [k for k in keys if buffer_name(k) == name]
        shape = None
        for k in ks[:8]:
            try:
                shape = load_media(k).shape
                break
            except Exception:  # noqa: BLE001
                continue
        if not ks or shape is None:
            continue
        n = len(ks) * int(np.prod(shape))
        buf = np.frombuffer(mmap.mmap(-1, n), dtype=np.uint8).reshape(len(ks), *shape)
        out[name] = (ks, buf)
    return out


def preprocess(a, samples, proc, t_start):
    """Records → prepared samples (60% of the time bound at most), then the distinct media frames of
    those (the rest) written into shared buffers, in worker processes when possible; what is done by
    then is used (a sample whose media did not load is dropped later). Returns (prepared, media:
    {kind: (keys, frames, loaded mask)}, failures)."""
    global _PROC, _SAMPLES, _BUFFERS
    prepared, failures = [], {}
    prep_deadline = t_start + 0.6 * a.preprocess_seconds
    deadline = t_start + a.preprocess_seconds
    loaded = {}

    def keys_of(prepared):
        return list(dict.fromkeys(r["key"] for r in prepared))
    if a.workers > 1:
        try:
            _PROC, _SAMPLES = proc, samples
            ctx = mp.get_context("fork")
            with ctx.Pool(a.workers, initializer=_worker_init, initargs=(a.fixture,)) as pool:
                for r in pool.imap(_worker_prepare_index, range(len(samples)), chunksize=64):
                    if "error" in r:
                        failures.setdefault(r["task"], r["error"])
                    else:
                        prepared.append(r)
                    if time.time() > prep_deadline:
                        log(f"preprocessing bound reached: using {len(prepared)} of {len(samples)}")
                        break
                pool.terminate()
            log(f"prepared {len(prepared)} samples in {time.time() - t_start:.1f}s")
            # the buffers exist before the loading workers fork, so they share them
            _BUFFERS = shared_buffers(keys_of(prepared))
            loaded = {kind: np.zeros(len(keys), dtype=bool) for kind, (keys, _) in _BUFFERS.items()}
            jobs = [(kind, i) for kind, (keys, _) in _BUFFERS.items() for i in range(len(keys))]
            with ctx.Pool(a.workers) as pool:
                for kind, i, ok in pool.imap_unordered(_worker_load, jobs, chunksize=64):
                    loaded[kind][i] = ok
                    if time.time() > deadline:
                        log("media loading bound reached")
                        break
                pool.terminate()
            log(f"media: {sum(int(m.sum()) for m in loaded.values())} distinct images / clips loaded in "
                f"{time.time() - t_start:.1f}s")
            return prepared, {k: (keys, buf, loaded[k]) for k, (keys, buf) in _BUFFERS.items()}, failures
        except Exception as e:  # noqa: BLE001 - fall back to one process
            log("worker preprocessing failed, continuing in one process:", repr(e))
            prepared, failures = [], {}
    for s in samples:
        if time.time() > prep_deadline:
            log(f"preprocessing bound reached: using {len(prepared)} of {len(samples)}")
            break
        try:
            prepared.append(prepare_any(proc, *s))
        except Exception as e:  # noqa: BLE001
            failures.setdefault(s[2]["task"], repr(e))
    _BUFFERS = shared_buffers(keys_of(prepared))
    loaded = {kind: np.zeros(len(keys), dtype=bool) for kind, (keys, _) in _BUFFERS.items()}
    for kind, (keys, _) in _BUFFERS.items():
        for i in range(len(keys)):
            if time.time() > deadline:
                break
            loaded[kind][i] = _worker_load((kind, i))[2]
    return prepared, {k: (keys, buf, loaded[k]) for k, (keys, buf) in _BUFFERS.items()}, failures


# ---------------------------------------------------------------------------------------------------
# Fast paths (each checked against transformers' own at start-up)


def patchify(frames, temporal=2, patch=16, merge=2):
    """uint8 frames (N, T, H, W, 3) on the GPU → the processor's flattened patches
    (N * gt * gh * gw, 3 * temporal * patch * patch), rescaled by 1/255 and normalised with mean =
    std = 0.5; a single image is repeated to `temporal` frames, as Qwen2VLImageProcessor does."""
    x = frames.float() * (1.0 / 255.0)
    x = (x - 0.5) / 0.5
    n, t, h, w, c = x.shape
    if t % temporal:
        x = torch.cat([x, x[:, -1:].expand(n, temporal - t % temporal, h, w, c)], 1)
        t = x.shape[1]
    x = x.permute(0, 1, 4, 2, 3)  # N, T, C, H, W
    gt, gh, gw = t // temporal, h // patch, w // patch
    x = x.reshape(n, gt, temporal, c, gh // merge, merge, patch, gw // merge, merge, patch)
    x = x.permute(0, 1, 4, 7, 5, 8, 3, 2, 6, 9)
    return x.reshape(n * gt * gh * gw, c * temporal * patch * patch)


def rope_positions(ids, grids, vision_ids, merge):
    """Qwen3-VL's mRoPE position ids (3, L) of one unpadded sequence, as `get_rope_index` computes
    them: text tokens count up on all three axes; each run of image / video pad tokens is one frame
    grid (a video's grid is split per temporal patch) placed at (t0, t0 + row, t0 + col), and the
    text after it continues at t0 + max(rows, cols)."""
    ids = np.asarray(ids)
    L = len(ids)
    pos = np.zeros((3, L), dtype=np.int64)
    runs = [(int(g[1]) // merge, int(g[2]) // merge) for g in grids for _ in range(int(g[0]))]
    edges = np.diff(np.concatenate([[0], np.isin(ids, list(vision_ids)).astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    nxt, cur, r = 0, 0, 0

    def text(a, b):
        nonlocal nxt
        pos[:, a:b] = nxt + np.arange(b - a)
        nxt += b - a
    for s0, e0 in zip(starts, ends):
        text(cur, s0)
        i = s0
        while i < e0 and r < len(runs) and i + runs[r][0] * runs[r][1] <= e0:
            h, w = runs[r]
            r += 1
            n = h * w
            pos[0, i:i + n] = nxt
            pos[1, i:i + n] = nxt + np.repeat(np.arange(h), w)
            pos[2, i:i + n] = nxt + np.tile(np.arange(w), h)
            nxt += max(h, w)
            i += n
        text(i, e0)  # pads without a grid (never in well-formed data; the self-check would say)
        cur = e0
    text(cur, L)
    return pos


FAST = dict(attn=False, posemb=False, chunk=None, grids={})


def lookup_grids(grid_thw):
    g = FAST["grids"].get(grid_thw.data_ptr())
    return g if g is not None else [tuple(int(v) for v in row) for row in grid_thw.tolist()]


def install_fast_paths(model):
    """Wraps the vision tower: per-distinct-grid position embeddings and batched attention. Returns the
    names of what was installed (missing internals leave transformers' path in place)."""
    visual = model.model.visual
    installed = []
    mod = sys.modules[type(visual).__module__]
    rot = getattr(mod, "apply_rotary_pos_emb_vision", None)
    orig_forward = visual.forward

    def visual_forward(hidden_states, grid_thw=None, **kw):
        grids = lookup_grids(grid_thw)
        hw = {h * w for _, h, w in grids}
        FAST["chunk"] = hw.pop() if len(hw) == 1 else None
        try:
            return orig_forward(hidden_states, grid_thw=grid_thw, **kw)
        finally:
            FAST["chunk"] = None
    visual.forward = visual_forward

    for name in ("fast_pos_embed_interpolate", "rot_pos_emb"):
        orig = getattr(visual, name, None)
        if orig is None:
            continue
        cache = {}

        def per_grid(grid_thw, _orig=orig, _name=name, _cache=cache):
            if not FAST["posemb"]:
                return _orig(grid_thw)
            grids = lookup_grids(grid_thw)
            uniq = list(dict.fromkeys(grids))
            if len(uniq) == len(grids):
                return _orig(grid_thw)
            parts = {}
            for g in uniq:
                if _name == "rot_pos_emb" and g in _cache:  # no parameters: the same every step
                    parts[g] = _cache[g]
                    continue
                one = torch.tensor([g], device=grid_thw.device, dtype=grid_thw.dtype)
                parts[g] = _orig(one)
                if _name == "rot_pos_emb":
                    _cache[g] = parts[g]
            return torch.cat([parts[g] for g in grids])
        setattr(visual, name, per_grid)
        installed.append(name)

    blocks = getattr(visual, "blocks", [])
    if rot is not None and blocks and all(hasattr(b, "attn") for b in blocks):
        for b in blocks:
            attn = b.attn
            orig_attn = attn.forward

            def attn_forward(hidden_states, cu_seqlens=None, rotary_pos_emb=None, position_embeddings=None,
                             _self=attn, _orig=orig_attn, **kw):
                L = FAST["chunk"]
                if not FAST["attn"] or L is None or position_embeddings is None or hidden_states.shape[0] % L:
                    return _orig(hidden_states, cu_seqlens=cu_seqlens, rotary_pos_emb=rotary_pos_emb,
                                 position_embeddings=position_embeddings, **kw)
                seq = hidden_states.shape[0]
                q, k, v = _self.qkv(hidden_states).reshape(seq, 3, _self.num_heads, -1).permute(1, 0, 2, 3).unbind(0)
                cos, sin = position_embeddings
                q, k = rot(q, k, cos, sin)
                n, d = seq // L, q.shape[-1]
                q, k, v = (t.reshape(n, L, _self.num_heads, d).transpose(1, 2) for t in (q, k, v.to(q.dtype)))
                o = F.scaled_dot_product_attention(q, k, v, scale=_self.scaling)
                return _self.proj(o.transpose(1, 2).reshape(seq, -1))
            attn.forward = attn_forward
        installed.append("vision attention")
    return installed


# ---------------------------------------------------------------------------------------------------
# Batches


class Store:
    """The distinct media as uint8 tensors on the device, one per buffer name: images (Ni, 1, H, W, 3), clips
    of T frames (Nv, T, H, W, 3), from `preprocess`'s shared buffers (copied in slices of ~1 GiB; keys that
    did not load are left out)."""

    def __init__(self, media, device):
        self.index = {}
        self.tensors = {}
        for kind, (keys, buf, loaded) in media.items():
            if not loaded.any():
                continue
            t = torch.empty(buf.shape, dtype=torch.uint8, device=device)
            step = max(1, (1 << 30) // max(1, int(np.prod(buf.shape[1:]))))
            for i in range(0, len(keys), step):
                t[i:i + step].copy_(torch.from_numpy(buf[i:i + step]))
            self.tensors[kind] = t
            for i, key in enumerate(keys):
                if loaded[i]:
                    self.index[key] = (kind, i)

    def has(self, key):
        return key in self.index

    def patches(self, items, kind):
        """The processor's flattened patches of the items' media of one kind ("image" / "video"), in the
        items' order: each buffer's clips are patchified together, then put back in order."""
        sel = [(j, *self.index[it["key"]], it["mirror"]) for j, it in enumerate(items) if it["key"][0] == kind]
        if not sel:
            return None
        pieces = {}
        for name in dict.fromkeys(b for _, b, _, _ in sel):
            group = [(j, i, m) for j, b, i, m in sel if b == name]
            x = self.tensors[name].index_select(0, torch.tensor([i for _, i, _ in group],
                                                                device=self.tensors[name].device))
            flip = torch.tensor([m for _, _, m in group], device=x.device)
            if bool(flip.any()):
                x = torch.where(flip[:, None, None, None, None], x.flip(3), x)
            p = patchify(x)
            if len(group) == len(sel):
                return p
            for j, chunk in zip((j for j, _, _ in group), p.chunk(len(group))):
                pieces[j] = chunk
        return torch.cat([pieces[j] for j, _, _, _ in sel], 0)


def collate(items, pad_id, device, store=None, fast_pixels=False, positions=False):
    """A padded batch (right padding) with labels on the answer tokens; pixels from the store
    (patchified on the device) or from each item's processor output; position ids when asked."""
    L = max(len(it["seq"]["input_ids"]) for it in items)
    out = {}
    for k in items[0]["seq"]:
        fill = pad_id if k == "input_ids" else 0
        t = np.full((len(items), L), fill, dtype=items[0]["seq"][k].dtype)
        for i, it in enumerate(items):
            t[i, : len(it["seq"][k])] = it["seq"][k]
        out[k] = torch.from_numpy(t)
    labels = np.full((len(items), L), IGNORE, dtype=np.int64)
    for i, it in enumerate(items):
        labels[i, it["n_prompt"]: len(it["seq"]["input_ids"])] = it["seq"]["input_ids"][it["n_prompt"]:]
    out["labels"] = torch.from_numpy(labels)
    if positions:
        pos = np.ones((3, len(items), L), dtype=np.int64)  # padding: 1, as get_rope_index leaves it
        for i, it in enumerate(items):
            pos[:, i, : it["positions"].shape[1]] = it["positions"]
        out["position_ids"] = torch.from_numpy(pos)
    grids = {}
    for k in GRID_KEYS:
        parts = [it["grids"][k] for it in items if k in it["grids"]]
        if parts:
            grids[k] = np.concatenate(parts, 0)
    out = {k: v.to(device, non_blocking=True) for k, v in out.items()}
    FAST["grids"] = {}
    for k, g in grids.items():
        t = torch.from_numpy(g).to(device)
        out[k] = t
        FAST["grids"][t.data_ptr()] = [tuple(int(v) for v in row) for row in g]
    for pk, kind in (("pixel_values", "image"), ("pixel_values_videos", "video")):
        if not any(it["key"][0] == kind for it in items):
            continue
        if fast_pixels:
            out[pk] = store.patches(items, kind)
        else:
            out[pk] = torch.cat([torch.from_numpy(it["pixels"][pk]) for it in items if pk in it["pixels"]], 0).to(device)
    return out


# ---------------------------------------------------------------------------------------------------
# Checkpoints


def save_checkpoint(model, out, fixture, ids):
    """transformers layout, bf16 weights in shards of at most 15 MB, the fixture's tokenizer / template / processor.
    Written to a temporary folder first, then renamed, so a cut run never leaves half a checkpoint."""
    tmp = out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    m = Qwen3VLForConditionalGeneration(model.config)
    m.load_state_dict({k: v.detach().float().cpu() for k, v in model.state_dict().items()})
    m = m.to(torch.bfloat16)
    m.generation_config = GenerationConfig(bos_token_id=ids["<|endoftext|>"], eos_token_id=[ids["<|im_end|>"], ids["<|endoftext|>"]],
                                           pad_token_id=ids["<|endoftext|>"], do_sample=True, temperature=0.7, top_k=20,
                                           top_p=0.8, repetition_penalty=1.0)
    m.save_pretrained(tmp, max_shard_size="15MB")
    for f in COPIED:
        shutil.copy(os.path.join(fixture, f), os.path.join(tmp, f))
    shutil.rmtree(out, ignore_errors=True)
    os.rename(tmp, out)


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


# ---------------------------------------------------------------------------------------------------
# Start-up check of the fast paths against transformers' own


def self_check(model, proc, check_items, pad_id, device, store, ids):
    """Loss of one real batch through transformers' own path (processor pixels, position ids from
    `get_rope_index`, per-chunk vision attention) against each fast path alone and all together, in
    fp32. Returns which fast paths agree (those that do not are left off)."""
    ok = dict(pixels=False, positions=False, posemb=False, attn=False)
    items = [it for it in check_items if "pixels" in it]
    if not items:
        log("self-check: no items with processor pixels; fast paths off")
        return ok
    # pixels: the device patchify against the processor's values, per kind
    try:
        worst = 0.0
        for pk, kind in (("pixel_values", "image"), ("pixel_values_videos", "video")):
            sel = [it for it in items if it["key"][0] == kind]
            if not sel:
                continue
            mine = store.patches(sel, kind).cpu()
            ref = torch.cat([torch.from_numpy(it["pixels"][pk]) for it in sel], 0)
            worst = max(worst, float((mine - ref).abs().max()) if mine.shape == ref.shape else float("inf"))
        ok["pixels"] = worst < 2e-2
        log(f"self-check pixels: max |device patchify - processor| = {worst:.2e} -> {'on' if ok['pixels'] else 'OFF'}")
    except Exception as e:  # noqa: BLE001
        log("self-check pixels failed:", repr(e))
    # positions: ours against get_rope_index, sample by sample
    try:
        inner = model.model
        sig = inspect.signature(inner.get_rope_index).parameters
        bad = 0
        for it in items:
            kw = {k: torch.from_numpy(v[None]) for k, v in it["seq"].items() if k in sig}
            kw.update({k: torch.from_numpy(v) for k, v in it["grids"].items() if k in sig})
            ref = inner.get_rope_index(**kw)[0][:, 0].numpy()
            bad += int(not np.array_equal(ref, it["positions"]))
        ok["positions"] = bad == 0
        log(f"self-check positions: {len(items) - bad}/{len(items)} equal to get_rope_index -> {'on' if ok['positions'] else 'OFF'}")
    except Exception as e:  # noqa: BLE001
        log("self-check positions failed:", repr(e))

    def loss_of(fast_pixels, positions, posemb, attn):
        FAST["posemb"], FAST["attn"] = posemb, attn
        b = collate(items, pad_id, device, store, fast_pixels=fast_pixels, positions=positions)
        with torch.no_grad():
            return float(model(**b).loss)
    try:
        ref = loss_of(False, False, False, False)
        for name in ("posemb", "attn"):
            v = loss_of(False, False, name == "posemb", name == "attn")
            ok[name] = abs(v - ref) <= 1e-4 * max(1.0, abs(ref))
            log(f"self-check {name}: loss {v:.6f} vs {ref:.6f} -> {'on' if ok[name] else 'OFF'}")
        if ok["positions"]:
            v = loss_of(False, True, False, False)
            ok["positions"] = abs(v - ref) <= 1e-4 * max(1.0, abs(ref))
            log(f"self-check positions in the model: loss {v:.6f} vs {ref:.6f} -> {'on' if ok['positions'] else 'OFF'}")
        if ok["pixels"]:
            v = loss_of(True, False, False, False)
            ok["pixels"] = abs(v - ref) <= 1e-3 * max(1.0, abs(ref))
            log(f"self-check pixels in the model: loss {v:.6f} vs {ref:.6f} -> {'on' if ok['pixels'] else 'OFF'}")
        v = loss_of(ok["pixels"], ok["positions"], ok["posemb"], ok["attn"])
        log(f"self-check all on: loss {v:.6f} vs {ref:.6f}")
    except Exception as e:  # noqa: BLE001
        log("self-check forward failed, fast paths off:", repr(e))
        ok = dict(pixels=False, positions=False, posemb=False, attn=False)
    FAST["posemb"], FAST["attn"] = ok["posemb"], ok["attn"]
    return ok


# ---------------------------------------------------------------------------------------------------


def main():
    global _EXPANSIONS, _ROPE
    a = parse_args()
    torch.manual_seed(a.seed)
    random.seed(a.seed)
    log("transformers", transformers.__version__, "torch", torch.__version__)
    proc = AutoProcessor.from_pretrained(a.fixture)
    tok = proc.tokenizer
    tasks = [t for t in a.tasks.split(",") if t]
    repeat = {k: int(v) for k, v in (kv.split("=") for kv in a.repeat.split(",") if kv)}

    # Preprocess first: the worker processes are forked before CUDA starts.
    samples = read_samples(a.data, tasks, a.mirror)
    samples.sort(key=lambda s: (s[2]["seed"], s[2]["task"], s[2]["id"]))
    log(f"{len(samples)} records in {len(a.data)} folders, {a.workers} workers")
    t_pre = time.time()
    if a.fast:
        _EXPANSIONS, line = text_only_expansions(proc, samples)
        log(line)
        cfg0, ids0 = model_config(tok)
        _ROPE = ({ids0["<|image_pad|>"], ids0["<|video_pad|>"]}, cfg0.vision_config.spatial_merge_size)
    data, media, failures = preprocess(a, samples, proc, t_pre)
    for task, err in failures.items():
        log("could not prepare", task, "samples:", err)
    counts = {}
    for d in data:
        counts[d["task"]] = counts.get(d["task"], 0) + 1
    if not data:
        log("nothing to train on")
        return
    lens = [len(d["seq"]["input_ids"]) for d in data]
    log(f"prepared {len(data)} in {time.time() - t_pre:.1f}s {counts}; tokens/sample mean {np.mean(lens):.0f} max {max(lens)}")
    log("example prompt:", repr(data[0]["prompt"][-300:]), "answer:", repr(data[0]["answer"][:200]))

    device = "cuda" if torch.cuda.is_available() else "cpu"
    log("device", device, torch.cuda.get_device_name(0) if device == "cuda" else "")
    # exact fp32 for the self-check; TF32 for training afterwards
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
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

    store = Store(media, device)
    kept, dropped = [], {}
    for d in data:
        if store.has(d["key"]):
            kept.append(d)
        else:
            dropped[d["task"]] = dropped.get(d["task"], 0) + 1
    if dropped:
        log(f"samples left out (their media did not load, or had another shape than their buffer's): {dropped}")
    data = kept
    vision_ids = {ids["<|image_pad|>"], ids["<|video_pad|>"]}
    for d in data:
        if "positions" not in d:  # the workers computed them for most
            d["positions"] = sample_positions(d, vision_ids, cfg.vision_config.spatial_merge_size)
    log(f"media on {device}: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in store.tensors.items()))

    pad_id = ids["<|endoftext|>"]
    fast = dict(pixels=False, positions=False, posemb=False, attn=False)
    if a.fast:
        try:
            installed = install_fast_paths(model)
        except Exception as e:  # noqa: BLE001 - the wrappers only act when the self-check turns them on
            installed = f"failed: {e!r}"
        log("fast paths installed:", installed)
        # one item of each task, with the processor's pixels, through both paths
        check, seen = [], set()
        for d in data:
            if (d["task"], d["mirror"]) in seen or len(check) >= 12:
                continue
            seen.add((d["task"], d["mirror"]))
            folder, vf, rec = next(s for s in samples if s[2]["id"] == d["id"])
            try:
                c = prepare(proc, folder, vf, rec, with_pixels=True)
                c["positions"] = d["positions"]
                check.append(c)
            except Exception as e:  # noqa: BLE001
                log("self-check item failed:", repr(e))
        model.train()
        fast = self_check(model, proc, check, pad_id, device, store, ids)
    if not fast["pixels"]:
        # transformers' path needs the processor's pixels for every sample: redo them, bounded
        log("pixels from the processor for every sample (slow path)")
        t1 = time.time()
        kept = []
        by_id = {s[2]["id"]: s for s in samples}
        for d in data:
            if time.time() - t1 > a.preprocess_seconds:
                break
            try:
                d["pixels"] = prepare(proc, *by_id[d["id"]], with_pixels=True)["pixels"]
                kept.append(d)
            except Exception:  # noqa: BLE001
                pass
        data = kept
        log(f"{len(data)} samples with processor pixels in {time.time() - t1:.1f}s")
    if a.dry or not data:
        return
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True

    order = []
    for i, d in enumerate(data):
        order += [i] * repeat.get(d["task"], 1)
    order = np.asarray(order)
    if a.until is not None:
        a.seconds = max(10.0, min(a.seconds, a.until - (time.time() - T0)))
    log(f"training for {a.seconds:.0f}s, batch {a.batch}, {len(order)} samples per epoch, fast paths {fast}")
    model.train()
    t_train, step0 = time.time(), info["step"]
    last_save = t_train
    losses, task_losses = [], {}
    epoch, pos = info["epoch"], info["position"]
    perm = order[np.random.RandomState(a.seed + epoch).permutation(len(order))]
    use_cuda = device == "cuda"
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
                perm = order[np.random.RandomState(a.seed + epoch).permutation(len(order))]
            items = [data[i] for i in perm[pos:pos + a.batch]]
            pos += a.batch
            batch = collate(items, pad_id, device, store, fast_pixels=fast["pixels"], positions=fast["positions"])
            with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_cuda):
                loss = model(**batch).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            info["step"] += 1
            if info["step"] % 25 == 0 or s < 5:
                v = loss.item()
                losses.append(v)
            if info["step"] % 200 == 0 or s < 3:
                log(f"step {info['step']} epoch {epoch} lr {lr:.2e} loss {np.mean(losses[-8:]):.4f} "
                    f"({(time.time() - t_train) / (s + 1) * 1000:.0f} ms/step)")
            if time.time() - last_save > a.save_every:
                save_checkpoint(model, a.out, a.fixture, ids)
                last_save = time.time()
                log(f"checkpoint written at step {info['step']}")
    except Exception as e:  # noqa: BLE001 - keep what was learnt so far
        log("training stopped by", repr(e))
    info.update(epoch=epoch, position=pos, seconds=info["seconds"] + time.time() - t_train, sessions=info["sessions"] + 1)
    n = info["step"] - step0
    log(f"trained {n} steps this session ({info['step']} in all), epoch {epoch}, "
        f"{(time.time() - t_train) / max(1, n) * 1000:.0f} ms/step")

    model.eval()
    save_checkpoint(model, a.out, a.fixture, ids)
    log("checkpoint written:", sorted(os.listdir(a.out)))
    if a.state:
        save_state(model, opt, a.state, info)
        log("state written:", a.state)
    # Per-task loss of the trained model on a few batches, then a look at greedy answers on training
    # prompts (the evaluation proper runs through the native engine on held-out seeds:
    # bench/mini_reasoner_eval.ts).
    try:
        by_task = {}
        for d in data:
            by_task.setdefault(d["task"], []).append(d)
        for task, ds in by_task.items():
            b = collate(ds[:64], pad_id, device, store, fast_pixels=fast["pixels"], positions=fast["positions"])
            with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=use_cuda):
                log(f"loss {task}: {float(model(**b).loss):.4f}")
        FAST["posemb"] = FAST["attn"] = False
        for task, ds in by_task.items():
            for d in ds[: a.look]:
                b = collate([d], pad_id, device, store, fast_pixels=fast["pixels"])
                n_prompt = d["n_prompt"]
                inp = {k: (v[:, :n_prompt] if v.ndim == 2 and v.shape[1] == b["labels"].shape[1] else v)
                       for k, v in b.items() if k != "labels"}
                with torch.no_grad():
                    g = model.generate(**inp, max_new_tokens=160, do_sample=False)
                log(task, "greedy:", repr(tok.decode(g[0, n_prompt:], skip_special_tokens=False)), "| target:", repr(d["answer"]))
    except Exception as e:  # noqa: BLE001
        log("greedy look failed:", repr(e))


if __name__ == "__main__":
    main()
