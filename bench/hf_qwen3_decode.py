"""transformers baseline for bench/qwen3_decode_bench.cu: the same Qwen3-VL-8B text shape (Qwen3ForCausalLM,
bf16, random init on the GPU), greedy decode with the default dynamic KV cache, eager PyTorch (no
torch.compile). Run on the GPU machine: python3 bench/hf_qwen3_decode.py [prompt] [new]"""
import json
import sys
import time

import torch
from transformers import Qwen3Config, Qwen3ForCausalLM

prompt = int(sys.argv[1]) if len(sys.argv) > 1 else 128
gen = int(sys.argv[2]) if len(sys.argv) > 2 else 128
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


run(4)  # warm-up
dt = run(gen)
print(f"transformers eager decode: {dt / gen * 1e3:.2f} ms/token, {gen / dt:.1f} tokens/s "
      f"({torch.cuda.get_device_name()})")
print(json.dumps({"bench": "qwen3_8b_text_decode_transformers", "prompt": prompt, "gen": gen,
                  "ms_per_token": round(dt / gen * 1e3, 3), "tokens_per_s": round(gen / dt, 2)}))
