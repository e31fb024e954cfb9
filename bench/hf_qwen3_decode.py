"""transformers baselines for bench/qwen3_decode_bench.cu: the same Qwen3-VL-8B text shape (Qwen3ForCausalLM,
bf16, random init on the GPU), greedy decode. Default: the dynamic KV cache, eager PyTorch. With --compiled (issue 14's
second decode baseline): a static cache and the forward under torch.compile(mode="reduce-overhead", fullgraph=True),
through generate() as transformers documents it; decode time from the first new token to the last (a streamer stamps
each), the compile warmed up first. Run on the GPU machine: python3 bench/hf_qwen3_decode.py [prompt] [new]
[--compiled]"""
import json
import sys
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM
from transformers.generation.streamers import BaseStreamer

args = [a for a in sys.argv[1:] if not a.startswith("--")]
compiled = "--compiled" in sys.argv[1:]
prompt = int(args[0]) if len(args) > 0 else 128
gen = int(args[1]) if len(args) > 1 else 128
cfg = Qwen3Config(vocab_size=151936, hidden_size=4096, intermediate_size=12288, num_hidden_layers=36,
                  num_attention_heads=32, num_key_value_heads=8, head_dim=128, rms_norm_eps=1e-6,
                  rope_theta=5e6, max_position_embeddings=4096, tie_word_embeddings=False)
torch.manual_seed(0)
torch.set_default_dtype(torch.bfloat16)
t0 = time.time()
with torch.device("cuda"):
    model = Qwen3ForCausalLM(cfg).eval()
torch.cuda.synchronize()
print(f"init {time.time() - t0:.1f} s, attn {model.config._attn_implementation}", flush=True)
ids = torch.randint(0, 150000, (1, prompt), device="cuda")


@torch.inference_mode()
def run(n_new):
    out = model(input_ids=ids, use_cache=True)
    past, tok = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    t = time.time()
    for _ in range(n_new):
        out = model(input_ids=tok, past_key_values=past, use_cache=True)
        past, tok = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    return time.time() - t


class Stamps(BaseStreamer):
    """generate() hands it the prompt, then each new token: the time of each, the GPU synchronized first."""

    def __init__(self):
        self.t = []

    def put(self, value):
        torch.cuda.synchronize()
        self.t.append(time.time())

    def end(self):
        pass


@torch.inference_mode()
def run_compiled(n_new):
    stamps = Stamps()
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=n_new,
                         min_new_tokens=n_new, do_sample=False, streamer=stamps)
    assert out.shape[1] == prompt + n_new and len(stamps.t) == n_new + 1, (out.shape, len(stamps.t))
    return (stamps.t[-1] - stamps.t[1]) * n_new / (n_new - 1)  # after the first new token (the prefill's)


if compiled:
    model.generation_config.cache_implementation = "static"
    model.forward = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    run_compiled(gen)  # compile and capture
    run_compiled(gen)
    dt = min(run_compiled(gen) for _ in range(2))
    what, bench = "static cache + torch.compile(reduce-overhead)", "qwen3_8b_text_decode_transformers_compiled"
else:
    run(4)  # warm-up
    dt = run(gen)
    what, bench = "eager", "qwen3_8b_text_decode_transformers"
print(f"transformers {what} decode: {dt / gen * 1e3:.2f} ms/token, {gen / dt:.1f} tokens/s "
      f"({torch.cuda.get_device_name()})")
print(json.dumps({"bench": bench, "prompt": prompt, "gen": gen, "ms_per_token": round(dt / gen * 1e3, 3),
                  "tokens_per_s": round(gen / dt, 2)}))
