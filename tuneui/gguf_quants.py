"""k-quant encoders (Q4_K, Q6_K) in numpy, and llama.cpp's Q4_K_M per-tensor type choice.

The `gguf` package (llama.cpp's own gguf-py) quantises to Q8_0, Q4_0/1, Q5_0/1 and BF16, but it only
*decodes* the k-quants. Q4_K_M needs Q4_K and Q6_K encoders, so they are written here against the
block layouts that gguf-py decodes (gguf/quants.py `Q4_K.dequantize_blocks`, `Q6_K.dequantize_blocks`);
the round trip through gguf-py's decoder is what the tests check. Q4_K's sub-block scales and mins come
from the same weighted grid search as llama.cpp's `make_qkx2_quants`; Q6_K's from the absolute maximum
(llama.cpp also searches there). The file format is the same and llama.cpp, Ollama and transformers read it.

The tensor-type rules follow llama.cpp `src/llama-quant.cpp` (`llama_tensor_get_type_impl`,
`tensor_type_fallback`) for LLAMA_FTYPE_MOSTLY_Q4_K_M on a dense (non-MoE) model.
"""

from __future__ import annotations

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

QK_K = 256


def _f16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).astype(np.float32)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b)).astype(np.float32)


def _scale_min_search(x: np.ndarray, nmax: int = 15, rmin: float = -1.0, rdelta: float = 0.1,
                      nstep: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Per row of x (m, 32): (scale, -min) minimising the weighted error of x ~= scale * q + min, q in 0..nmax.

    llama.cpp's make_qkx2_quants, vectorised: try nstep+1 grid stretches around (max - min) / nmax, fit scale
    and min to each rounding by weighted least squares, keep the best. Weights av|x| + |x| as in
    quantize_row_q4_K_ref."""
    w = np.sqrt((x * x).mean(axis=-1, keepdims=True)) + np.abs(x)
    lo = np.minimum(x.min(axis=-1, keepdims=True), 0.0)  # llama.cpp keeps the min <= 0 so m_j >= 0
    hi = x.max(axis=-1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    best_scale = (span / nmax)[..., 0]
    best_min = lo[..., 0]
    q0 = np.clip(np.rint((x - lo) / best_scale[:, None]), 0, nmax)
    best_err = (w * (best_scale[:, None] * q0 + lo - x) ** 2).sum(axis=-1)
    sw, swx = w.sum(axis=-1), (w * x).sum(axis=-1)
    for step in range(nstep + 1):
        q = np.clip(np.rint((rmin + rdelta * step + nmax) / span * (x - lo)), 0, nmax)
        sl, sl2, sxl = (w * q).sum(-1), (w * q * q).sum(-1), (w * q * x).sum(-1)
        det = sw * sl2 - sl * sl
        ok = det > 0
        safe = np.where(ok, det, 1.0)
        scale = (sw * sxl - swx * sl) / safe
        mn = (sl2 * swx - sl * sxl) / safe
        pos = mn > 0  # a positive min is not representable: pin it to 0 and refit the scale
        scale = np.where(pos, sxl / np.where(sl2 > 0, sl2, 1.0), scale)
        mn = np.where(pos, 0.0, mn)
        err = (w * (scale[:, None] * q + mn[:, None] - x) ** 2).sum(axis=-1)
        better = ok & (err < best_err)
        best_err = np.where(better, err, best_err)
        best_scale = np.where(better, scale, best_scale)
        best_min = np.where(better, mn, best_min)
    flat = (hi <= lo)[..., 0]
    return np.where(flat, 0.0, best_scale), np.where(flat, -lo[..., 0], -best_min)


def q4_k_blocks(blocks: np.ndarray) -> np.ndarray:
    """(n, 256) float -> (n, 144) bytes: d, dmin (f16), 12 bytes of 6-bit scales/mins, 128 bytes of nibbles.
    x ~= d * sc_j * q - dmin * m_j for the 8 sub-blocks j of 32 values, q in 0..15."""
    n = blocks.shape[0]
    x = blocks.reshape(n, 8, 32).astype(np.float32)
    scale, mins = _scale_min_search(x.reshape(n * 8, 32))
    scale, mins = scale.reshape(n, 8).astype(np.float32), mins.reshape(n, 8).astype(np.float32)
    d = _f16(scale.max(axis=-1) / 63.0)
    dmin = _f16(mins.max(axis=-1) / 63.0)
    sc = np.clip(np.rint(_safe_div(scale, d[:, None])), 0, 63).astype(np.uint8)
    m = np.clip(np.rint(_safe_div(mins, dmin[:, None])), 0, 63).astype(np.uint8)
    step = d[:, None] * sc
    offset = dmin[:, None] * m
    q = np.clip(np.rint(_safe_div(x + offset[..., None], step[..., None])), 0, 15).astype(np.uint8)

    packed = np.empty((n, 12), dtype=np.uint8)
    packed[:, 0:4] = (sc[:, :4] & 0x3F) | ((sc[:, 4:] >> 4) << 6)
    packed[:, 4:8] = (m[:, :4] & 0x3F) | ((m[:, 4:] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:] & 0x0F) | ((m[:, 4:] & 0x0F) << 4)
    # 32-byte chunk c holds sub-block 2c in its low nibbles and 2c+1 in its high nibbles
    qs = (q[:, 0::2, :] | (q[:, 1::2, :] << 4)).reshape(n, 128)
    return np.concatenate([d.astype(np.float16).view(np.uint8).reshape(n, 2),
                           dmin.astype(np.float16).view(np.uint8).reshape(n, 2), packed, qs], axis=1)


def q6_k_blocks(blocks: np.ndarray) -> np.ndarray:
    """(n, 256) float -> (n, 210) bytes: 128 bytes low nibbles, 64 bytes high 2-bit pairs, 16 int8 scales, d.
    x ~= d * scale_s * (q - 32) for the 16 sub-blocks s of 16 values, q in 0..63."""
    n = blocks.shape[0]
    x = blocks.reshape(n, 16, 16).astype(np.float32)
    amax = np.abs(x).max(axis=-1)
    sub = amax / 31.0
    d = _f16(sub.max(axis=-1) / 127.0)
    scales = np.clip(np.rint(_safe_div(sub, d[:, None])), -128, 127).astype(np.int8)
    step = d[:, None] * scales.astype(np.float32)
    q = (np.clip(np.rint(_safe_div(x, step[..., None])), -32, 31) + 32).astype(np.uint8).reshape(n, 8, 32)
    lo, hi = q & 0x0F, q >> 4
    # chunk k = 4h + 2s + l//32 takes nibble s of ql[64h + l]; chunk 4h + t takes bits 2t of qh[32h + l]
    lo = lo.reshape(n, 2, 2, 2, 32)  # h, s, l//32, l%32
    ql = (lo[:, :, 0] | (lo[:, :, 1] << 4)).reshape(n, 128)
    hi = hi.reshape(n, 2, 4, 32)  # h, t, l
    qh = (hi[:, :, 0] | (hi[:, :, 1] << 2) | (hi[:, :, 2] << 4) | (hi[:, :, 3] << 6)).reshape(n, 64)
    return np.concatenate([ql, qh, scales.view(np.uint8), d.astype(np.float16).view(np.uint8).reshape(n, 2)],
                          axis=1)


_ENCODERS = {T.Q4_K: q4_k_blocks, T.Q6_K: q6_k_blocks}


def quantize(data: np.ndarray, qtype: T) -> np.ndarray:
    """`data` (..., cols) float -> the bytes gguf's writer stores for qtype, shape (..., cols/block*size)."""
    encoder = _ENCODERS.get(qtype)
    if encoder is None:
        return quants.quantize(data, qtype)
    block, size = quants.GGML_QUANT_SIZES[qtype]
    if data.shape[-1] % block:
        raise ValueError(f"cannot quantise a row of {data.shape[-1]} values to {qtype.name} (blocks of {block})")
    rows = np.ascontiguousarray(data, dtype=np.float32).reshape(-1, block)
    # chunks keep the scale search's (rows, 32) temporaries small for multi-GB tensors
    out = np.concatenate([encoder(rows[i:i + 16384]) for i in range(0, len(rows), 16384)])
    return out.reshape(*data.shape[:-1], data.shape[-1] // block * size)


def _use_more_bits(i: int, n: int) -> bool:
    return i < n // 8 or i >= 7 * n // 8 or (i - n // 8) % 3 == 2


_FALLBACK = {T.Q4_K: T.Q5_0, T.Q6_K: T.Q8_0}


def q4_k_m_type(name: str, shape: tuple[int, ...], n_layers: int, tied_embeddings: bool) -> T:
    """The type llama.cpp's quantize gives tensor `name` (GGUF naming) in a Q4_K_M file."""
    if len(shape) < 2:
        return T.F32
    cols = shape[-1]
    if name == "output.weight" or (tied_embeddings and name == "token_embd.weight"):
        return T.Q8_0 if cols % QK_K else T.Q6_K
    target = T.Q4_K
    if name.startswith("blk."):
        layer = int(name.split(".")[1])
        if name.endswith(("attn_v.weight", "ffn_down.weight")) and _use_more_bits(layer, n_layers):
            target = T.Q6_K
    if cols % QK_K:
        target = _FALLBACK[target]
        if cols % quants.GGML_QUANT_SIZES[target][0]:
            target = T.F16
    return target


def simple_type(quant: str, shape: tuple[int, ...]) -> T:
    """f32/f16/bf16/q8_0 files: 1-D tensors (norms, biases) stay F32, as llama.cpp's converter keeps them."""
    if len(shape) < 2 or quant == "f32":
        return T.F32
    wanted = {"f16": T.F16, "bf16": T.BF16, "q8_0": T.Q8_0}[quant]
    if wanted == T.Q8_0 and shape[-1] % 32:
        return T.F16
    return wanted
