"""What trusting the model costs, and how fast the installed llama.cpp build writes.

- The probe: SmolLM2 loaded and decoded in a child process, as `mentor serve`, `mentor
  ask` and `mentor status` do once per machine (fresh verdict cache each run).
- The kept verdict: what every later start pays instead (a new `ModelProbe`, same cache).
- The same load and decode in this process, the baseline the probe adds to.
- Tokens per second of the installed build (llama.cpp's own counters): 512 prompt
  tokens, then up to 128 written.

    .venv/bin/python -m bench.model_probe [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rag.model_files import packaged_demo_path
from rag.model_probe import PROBE_CONTEXT, PROBE_PROMPT, PROBE_TOKENS, ModelProbe


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    model = packaged_demo_path()

    with tempfile.TemporaryDirectory() as scratch:
        cold: list[float] = []
        for run in range(args.runs):
            cache = Path(scratch) / f"probe-{run}.json"
            started = time.perf_counter()
            verdict = ModelProbe(cache).check(model)
            cold.append(time.perf_counter() - started)
            assert verdict.ok, verdict.detail
        kept: list[float] = []
        for _ in range(50):
            started = time.perf_counter()
            ModelProbe(Path(scratch) / "probe-0.json").check(model)
            kept.append(time.perf_counter() - started)

    import llama_cpp

    started = time.perf_counter()
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=PROBE_CONTEXT, verbose=False)
    llm.create_completion(PROBE_PROMPT, max_tokens=PROBE_TOKENS, temperature=0.0)
    in_process = time.perf_counter() - started

    llm = llama_cpp.Llama(model_path=str(model), n_ctx=1024, n_batch=512, verbose=False)
    prompt = llm.tokenize(" ".join(["Loops repeat a block of code while a condition holds."] * 60).encode())[:512]
    llama_cpp.llama_perf_context_reset(llm.ctx)
    llm.create_completion(prompt, max_tokens=128, temperature=0.0)
    perf = llama_cpp.llama_perf_context(llm.ctx)

    probe = statistics.median(cold)
    print(f"probe in a child (cold, {args.runs} runs): median {probe:.2f} s, max {max(cold):.2f} s")
    print(f"kept verdict (50 reads): median {statistics.median(kept) * 1000:.2f} ms")
    print(f"the same load and decode in this process: {in_process:.2f} s (the probe costs x{probe / in_process:.1f} of it, "
          "once per machine)")
    print(f"installed build: prompt {perf.n_p_eval / perf.t_p_eval_ms * 1000:.0f} tokens/s ({perf.n_p_eval} tokens), "
          f"writing {perf.n_eval / perf.t_eval_ms * 1000:.0f} tokens/s ({perf.n_eval} tokens)")
    print(llama_cpp.llama_print_system_info().decode().strip())


if __name__ == "__main__":
    main()
