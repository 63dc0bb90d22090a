"""A real GGUF that kills llama.cpp: for testing that a native crash never reaches the serving process."""

from __future__ import annotations

from pathlib import Path

import numpy as np

WIDTH, FFN, VOCAB = 32, 64, 40


def write_crashing_gguf(path: Path) -> Path:
    """A tiny llama-architecture model with random weights whose SentencePiece vocabulary
    lacks the 256 byte tokens (`<0x00>`…`<0xFF>`): it loads, then llama.cpp aborts the
    process (SIGABRT) on the first text it cannot spell with its pieces.
    """
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(256)
    writer.add_embedding_length(WIDTH)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FFN)
    writer.add_head_count(2)
    writer.add_head_count_kv(2)
    writer.add_rope_dimension_count(WIDTH // 2)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    pieces = ["<unk>", "<s>", "</s>", *[f"\u2581{chr(ord('a') + n % 26)}{n}" for n in range(VOCAB - 3)]]
    writer.add_token_list(pieces)
    writer.add_token_scores([0.0] * VOCAB)
    writer.add_token_types([gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
                           + [gguf.TokenType.NORMAL] * (VOCAB - 3))
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_unk_token_id(0)
    rng = np.random.default_rng(0)

    def weights(*shape: int) -> np.ndarray:
        return rng.standard_normal(shape).astype(np.float32) * 0.02

    writer.add_tensor("token_embd.weight", weights(VOCAB, WIDTH))
    writer.add_tensor("output_norm.weight", np.ones(WIDTH, dtype=np.float32))
    writer.add_tensor("output.weight", weights(VOCAB, WIDTH))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(WIDTH, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", weights(WIDTH, WIDTH))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(WIDTH, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weights(FFN, WIDTH))
    writer.add_tensor("blk.0.ffn_up.weight", weights(FFN, WIDTH))
    writer.add_tensor("blk.0.ffn_down.weight", weights(WIDTH, FFN))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
