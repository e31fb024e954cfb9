"""transformers baselines for bench/qwen3_decode_bench.cu: the same Qwen3-VL-8B text shape (Qwen3ForCausalLM,
bf16, random init on the GPU), greedy decode. Default: the dynamic KV cache, eager PyTorch. With --compiled (issue 14's
second decode baseline): a static cache and the decode step's forward under torch.compile(mode="reduce-overhead",
fullgraph=True), the prompt prefilled in eager mode; decode time over the steps, the compile warmed up first. Run
on the GPU machine: python3 bench/hf_qwen3_decode.py [prompt] [new] [--compiled]"""
import json
import sys
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM, StaticCache

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


@torch.inference_mode()
def run_compiled(step, cache, n_new):
    """Prefill in eager mode (the static cache's tensors are created there, outside any CUDA graph), then n_new
    decode steps through the compiled forward, each a fresh step of its CUDA graph tree; seconds of the decode."""
    cache.reset()
    out = model(input_ids=ids, past_key_values=cache, cache_position=torch.arange(prompt, device="cuda"),
                use_cache=True)
    tok = out.logits[:, -1].argmax(-1, keepdim=True)
    positions = torch.arange(prompt, prompt + n_new, device="cuda")
    torch.cuda.synchronize()
    t = time.time()
    for i in range(n_new):
        torch.compiler.cudagraph_mark_step_begin()
        pos = positions[i:i + 1]
        logits = step(input_ids=tok, past_key_values=cache, cache_position=pos, position_ids=pos[None],
                      use_cache=True).logits
        tok = logits[:, -1].argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    return time.time() - t


if compiled:
    # transformers' static cache + torch.compile(mode="reduce-overhead") recipe, written out as a loop (as its
    # docs' manual decoding example and gpt-fast do): through generate() (static cache_implementation, the compiled
    # forward) it stopped at the decode with "accessing tensor output of CUDAGraphs that has been overwritten by a
    # subsequent run" in the cache's index_copy_ (transformers 5.17, H200, 2026-12-05). Inductor's perf hints are on,
    # so a compile that skips CUDA graphs says so in the log.
    torch._logging.set_logs(perf_hints=True)
    cache = StaticCache(config=model.config, max_cache_len=prompt + gen + 8)
    step = torch.compile(model.forward, mode="reduce-overhead", fullgraph=True)
    try:
        run_compiled(step, cache, 8)  # compile and capture
    except Exception as e:  # a graph break under fullgraph: the same compile, graph breaks allowed
        print(f"fullgraph=True failed ({type(e).__name__}: {str(e)[:300]}); retrying with fullgraph=False", flush=True)
        torch._dynamo.reset()
        step = torch.compile(model.forward, mode="reduce-overhead", fullgraph=False)
        run_compiled(step, cache, 8)
    run_compiled(step, cache, gen)
    dt = min(run_compiled(step, cache, gen) for _ in range(2))
    what, bench = "static cache + torch.compile(reduce-overhead)", "qwen3_8b_text_decode_transformers_compiled"
else:
    run(4)  # warm-up
    dt = run(gen)
    what, bench = "eager", "qwen3_8b_text_decode_transformers"
print(f"transformers {what} decode: {dt / gen * 1e3:.2f} ms/token, {gen / dt:.1f} tokens/s "
      f"({torch.cuda.get_device_name()})")
print(json.dumps({"bench": bench, "prompt": prompt, "gen": gen, "ms_per_token": round(dt / gen * 1e3, 3),
                  "tokens_per_s": round(gen / dt, 2)}))
