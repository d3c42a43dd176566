#!/usr/bin/python3
"""PyTorch reference timings for medfl's benchmark (`medfl bench`).

Builds a PyTorch twin of a medfl (tfjs) network from the layer graph written by
src/bench/graph.ts (same ops, channel counts, kernels, strides, dilations,
TF-style 'same' padding), then times, on random data:

- a training step: forward + BCE-with-logits loss + backward + Adam(lr 1e-3);
- inference: forward in eval mode under torch.no_grad().

Usage:
    /usr/bin/python3 bench/torch/bench_torch.py GRAPH.json --batch 8 --threads 1 \
        --warmup 2 --repeats 5

Prints one JSON object: per-step CPU (time.process_time) and wall
(time.perf_counter) milliseconds for both phases, plus parameter counts.
Layout is PyTorch's native NCHW; medfl's Swin-Unet layers run as the official
Swin-Unet modules (HuCaoFighting/Swin-Unet, arXiv:2105.05537) on `[B, H*W, C]`
tokens, converted to / from NCHW where a token op meets a convolutional one.
Run it with Debian's python3-torch (/usr/bin/python3); `--threads 1` matches
single-threaded tfjs-wasm.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def same_pads(size, k, s, d):
    """TF 'same' padding (before, after) along one axis."""
    eff = (k - 1) * d + 1
    out = math.ceil(size / s)
    total = max((out - 1) * s + eff - size, 0)
    return total // 2, total - total // 2


def act(name):
    name = (name or "linear").lower()
    table = {
        "linear": lambda x: x,
        "relu": F.relu,
        "sigmoid": torch.sigmoid,
        "softmax": lambda x: F.softmax(x, dim=1),
        "tanh": torch.tanh,
        "elu": F.elu,
        "swish": F.silu,
        "gelu": F.gelu,
        "relu6": F.relu6,
    }
    if name not in table:
        raise ValueError(f"bench_torch.py: unsupported activation '{name}'")
    return table[name]


class ConvSame(nn.Module):
    """Conv (or depthwise conv) with TF padding semantics and an activation."""

    def __init__(self, in_c, out_c, kernel, stride, dilation, padding, bias, activation, in_hw, groups=1):
        super().__init__()
        kh, kw = kernel
        if padding == "same":
            ph = same_pads(in_hw[0], kh, stride[0], dilation[0])
            pw = same_pads(in_hw[1], kw, stride[1], dilation[1])
        else:
            ph, pw = (0, 0), (0, 0)
        symmetric = ph[0] == ph[1] and pw[0] == pw[1]
        self.pre_pad = None if symmetric else (pw[0], pw[1], ph[0], ph[1])
        conv_pad = (ph[0], pw[0]) if symmetric else (0, 0)
        self.conv = nn.Conv2d(in_c, out_c, kernel, stride=stride, padding=conv_pad, dilation=dilation, bias=bool(bias), groups=groups)
        self.act = act(activation)

    def forward(self, x):
        if self.pre_pad is not None:
            x = F.pad(x, self.pre_pad)
        return self.act(self.conv(x))


class ConvTransposeSame(nn.Module):
    def __init__(self, in_c, out_c, kernel, stride, padding, bias, activation):
        super().__init__()
        pads, outpads = [], []
        for k, s in zip(kernel, stride):
            if padding == "same":
                p = max(0, math.ceil((k - s) / 2))
                pads.append(p)
                outpads.append(2 * p - (k - s))
            else:
                pads.append(0)
                outpads.append(max(s - k, 0))
        self.conv = nn.ConvTranspose2d(in_c, out_c, kernel, stride=stride, padding=tuple(pads), output_padding=tuple(outpads), bias=bool(bias))
        self.act = act(activation)

    def forward(self, x):
        return self.act(self.conv(x))


class Pool(nn.Module):
    def __init__(self, kind, kernel, stride, padding, in_hw):
        super().__init__()
        self.kind, self.kernel, self.stride = kind, tuple(kernel), tuple(stride)
        if padding == "same":
            ph = same_pads(in_hw[0], kernel[0], stride[0], 1)
            pw = same_pads(in_hw[1], kernel[1], stride[1], 1)
            self.pad = (pw[0], pw[1], ph[0], ph[1]) if any(ph + pw) else None
        else:
            self.pad = None

    def forward(self, x):
        if self.pad is not None:
            x = F.pad(x, self.pad, value=float("-inf") if self.kind == "max" else 0.0)
        if self.kind == "max":
            return F.max_pool2d(x, self.kernel, self.stride)
        return F.avg_pool2d(x, self.kernel, self.stride)


# ---------------------------------------------------------------------------
# Swin-Unet (Cao et al. 2021, arXiv:2105.05537) on [B, L = H*W, C] tokens, as
# the official HuCaoFighting/Swin-Unet modules compute it: window partition /
# reverse, torch.roll for the cyclic shift, relative position bias gathered
# from the (2M-1)^2 x heads table by index, -100 mask between shifted regions.
# Parameter shapes equal medfl's (src/models/blocks/swin), so counts match.
# ---------------------------------------------------------------------------

def window_partition(x, m):
    """[B, H, W, C] -> [B * nW, m*m, C], windows row-major, tokens row-major."""
    b, h, w, c = x.shape
    x = x.view(b, h // m, m, w // m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, m * m, c)


def window_reverse(windows, m, h, w):
    """Inverse of window_partition: [B * nW, m*m, C] -> [B, H, W, C]."""
    c = windows.shape[-1]
    b = windows.shape[0] // ((h // m) * (w // m))
    x = windows.view(b, h // m, w // m, m, m, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def relative_position_index(m):
    """[m*m, m*m] rows of the (2m-1)^2 bias table (official construction)."""
    coords = torch.stack(torch.meshgrid(torch.arange(m), torch.arange(m), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (m - 1)
    return rel[:, :, 0] * (2 * m - 1) + rel[:, :, 1]


def shifted_window_mask(h, w, m, shift, value):
    """[nW, m*m, m*m] additive SW-MSA mask: 0 within a region, `value` across."""
    img = torch.zeros(1, h, w, 1)
    bands = (slice(0, -m), slice(-m, -shift), slice(-shift, None))
    cnt = 0
    for hs in bands:
        for ws in bands:
            img[:, hs, ws, :] = cnt
            cnt += 1
    win = window_partition(img, m).squeeze(-1)
    diff = win.unsqueeze(1) - win.unsqueeze(2)
    return torch.zeros_like(diff).masked_fill(diff != 0, float(value))


class DropPath(nn.Module):
    """Stochastic depth per sample (timm's DropPath), identity in eval / at rate 0."""

    def __init__(self, rate):
        super().__init__()
        self.rate = float(rate or 0.0)

    def forward(self, x):
        if not self.training or self.rate == 0.0:
            return x
        keep = 1.0 - self.rate
        mask = x.new_empty((x.shape[0],) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x * mask / keep


class WindowAttention(nn.Module):
    """W-MSA / SW-MSA with relative position bias (official WindowAttention)."""

    def __init__(self, dim, m, heads, qkv_bias):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * m - 1) ** 2, heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", relative_position_index(m), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=bool(qkv_bias))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask=None):
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        attn = attn + bias.permute(2, 0, 1).unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(bw, n, c))


class SwinBlock(nn.Module):
    """Official SwinTransformerBlock: x + (S)W-MSA(LN(x)), then x + MLP(LN(x)).

    `window` / `shift` are the effective ones (already clamped by medfl).
    """

    def __init__(self, p):
        super().__init__()
        dim = p["dim"]
        self.h, self.w = p["resolution"]
        self.m, self.shift = p["window"], p["shift"]
        self.norm1 = nn.LayerNorm(dim, eps=p["eps"])
        self.attn = WindowAttention(dim, self.m, p["heads"], p["qkvBias"])
        self.drop_path = DropPath(p.get("dropPath", 0.0))
        self.norm2 = nn.LayerNorm(dim, eps=p["eps"])
        self.fc1 = nn.Linear(dim, p["mlpHidden"])
        self.fc2 = nn.Linear(p["mlpHidden"], dim)
        mask = shifted_window_mask(self.h, self.w, self.m, self.shift, p["maskValue"]) if self.shift > 0 else None
        self.register_buffer("attn_mask", mask, persistent=False)

    def forward(self, x):
        b, l, c = x.shape
        h, w, m, s = self.h, self.w, self.m, self.shift
        y = self.norm1(x).view(b, h, w, c)
        if s > 0:
            y = torch.roll(y, shifts=(-s, -s), dims=(1, 2))
        y = window_reverse(self.attn(window_partition(y, m), self.attn_mask), m, h, w)
        if s > 0:
            y = torch.roll(y, shifts=(s, s), dims=(1, 2))
        x = x + self.drop_path(y.reshape(b, l, c))
        return x + self.drop_path(self.fc2(F.gelu(self.fc1(self.norm2(x)))))


class SwinPatchEmbed(nn.Module):
    """Official PatchEmbed (patch_norm=True): stride-p conv on NCHW -> tokens -> LayerNorm."""

    def __init__(self, p):
        super().__init__()
        self.proj = nn.Conv2d(p["inC"], p["dim"], p["patch"], stride=p["patch"])
        self.norm = nn.LayerNorm(p["dim"], eps=p["eps"])

    def forward(self, x):
        return self.norm(self.proj(x).flatten(2).transpose(1, 2))


class SwinPatchMerging(nn.Module):
    """Official PatchMerging: 2x2 neighbours [(0,0), (1,0), (0,1), (1,1)] -> LN(4C) -> Linear 4C->2C."""

    def __init__(self, p):
        super().__init__()
        self.h, self.w = p["resolution"]
        self.norm = nn.LayerNorm(4 * p["dim"], eps=p["eps"])
        self.reduction = nn.Linear(4 * p["dim"], 2 * p["dim"], bias=False)

    def forward(self, x):
        b, _, c = x.shape
        x = x.view(b, self.h, self.w, c)
        x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]], -1)
        return self.reduction(self.norm(x.view(b, -1, 4 * c)))


class SwinPatchExpand(nn.Module):
    """Official PatchExpand (scale 2) / FinalPatchExpand_X4 (scale 4): Linear C -> s*s*o,
    'b h w (p1 p2 c) -> b (h p1) (w p2) c', LayerNorm(o)."""

    def __init__(self, p):
        super().__init__()
        self.h, self.w = p["resolution"]
        self.s, self.o = p["scale"], p["outDim"]
        self.expand = nn.Linear(p["dim"], self.s * self.s * self.o, bias=False)
        self.norm = nn.LayerNorm(self.o, eps=p["eps"])

    def forward(self, x):
        b = x.shape[0]
        h, w, s, o = self.h, self.w, self.s, self.o
        x = self.expand(x).view(b, h, w, s, s, o).permute(0, 1, 3, 2, 4, 5)
        return self.norm(x.reshape(b, h * s * w * s, o))


SWIN_OPS = ("swinPatchEmbed", "swinPatchMerging", "swinPatchExpand", "swinBlock", "tokenLinear", "layerNorm")


def to_nhwc(x):
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def to_nchw(x):
    return x.permute(0, 3, 1, 2).contiguous() if x.dim() == 4 else x


def tokens_to_nchw(x, shape):
    """[B, H*W, C] tokens of a node with NHWC shape [H, W, C] -> [B, C, H, W]."""
    h, w, c = shape
    return x.transpose(1, 2).reshape(x.shape[0], c, h, w)


def nchw_to_tokens(x):
    """[B, C, H, W] -> [B, H*W, C] (official `flatten(2).transpose(1, 2)`)."""
    return x.flatten(2).transpose(1, 2)


class Twin(nn.Module):
    """The whole network, executed node by node in the graph's order."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.mods = nn.ModuleDict()
        shapes = {n["name"]: n["shape"] for n in graph["nodes"]}
        self.shapes = shapes
        for n in graph["nodes"]:
            op, p, key = n["op"], n["params"], self.key(n["name"])
            in_shape = shapes[n["inputs"][0]] if n["inputs"] else None
            if op == "conv2d":
                self.mods[key] = ConvSame(p["inC"], p["outC"], p["kernel"], p["stride"], p["dilation"], p["padding"], p["bias"], p["activation"], in_shape[:2])
            elif op == "depthwise":
                c = p["C"]
                self.mods[key] = ConvSame(c, c * p["mult"], p["kernel"], p["stride"], p["dilation"], p["padding"], p["bias"], p["activation"], in_shape[:2], groups=c)
            elif op == "conv2dTranspose":
                self.mods[key] = ConvTransposeSame(p["inC"], p["outC"], p["kernel"], p["stride"], p["padding"], p["bias"], p["activation"])
            elif op == "batchnorm":
                self.mods[key] = nn.BatchNorm2d(p["C"], eps=p["eps"], momentum=p["momentum"]) if len(in_shape) == 3 else nn.BatchNorm1d(p["C"], eps=p["eps"], momentum=p["momentum"])
            elif op == "prelu":
                self.mods[key] = nn.PReLU(p["C"] if p["perChannel"] else 1)
            elif op in ("maxpool", "avgpool"):
                self.mods[key] = Pool("max" if op == "maxpool" else "avg", p["kernel"], p["stride"], p["padding"], in_shape[:2])
            elif op == "dense":
                if len(in_shape) == 3:
                    self.mods[key] = nn.Conv2d(p["in"], p["out"], 1, bias=bool(p["bias"]))
                else:
                    self.mods[key] = nn.Linear(p["in"], p["out"], bias=bool(p["bias"]))
            elif op == "upsample":
                mode = "bilinear" if p["mode"] == "bilinear" else "nearest"
                self.mods[key] = nn.Upsample(scale_factor=tuple(p["size"]), mode=mode, **({"align_corners": False} if mode == "bilinear" else {}))
            elif op == "swinPatchEmbed":
                self.mods[key] = SwinPatchEmbed(p)
            elif op == "swinPatchMerging":
                self.mods[key] = SwinPatchMerging(p)
            elif op == "swinPatchExpand":
                self.mods[key] = SwinPatchExpand(p)
            elif op == "swinBlock":
                self.mods[key] = SwinBlock(p)
            elif op == "tokenLinear":
                self.mods[key] = nn.Linear(p["in"], p["out"], bias=bool(p["bias"]))
            elif op == "layerNorm":
                self.mods[key] = nn.LayerNorm(p["C"], eps=p["eps"])
            elif op not in ("input", "act", "gap", "reshape", "concat", "add", "mul", "zeropad", "maxunpool", "channelslice"):
                raise ValueError(f"bench_torch.py: unsupported op '{op}' (node {n['name']})")

    @staticmethod
    def key(name):
        return name.replace(".", "_")

    def forward(self, x):
        # env[name] is NCHW, or [B, H*W, C] tokens when tok[name] (Swin ops and
        # element-wise / concat ops whose inputs are all tokens).
        env, tok, as_nchw = {}, {}, {}

        def nchw(i):
            if not tok[i]:
                return env[i]
            if i not in as_nchw:
                as_nchw[i] = tokens_to_nchw(env[i], self.shapes[i])
            return as_nchw[i]

        def tokens(i):
            return env[i] if tok[i] else nchw_to_tokens(env[i])

        for n in self.graph["nodes"]:
            op, p, name = n["op"], n["params"], n["name"]
            out_tok = False
            if op == "swinPatchEmbed":
                y, out_tok = self.mods[self.key(name)](nchw(n["inputs"][0])), True
            elif op in SWIN_OPS:
                y, out_tok = self.mods[self.key(name)](tokens(n["inputs"][0])), True
            elif op in ("act", "add", "mul", "concat") and n["inputs"] and all(tok[i] for i in n["inputs"]):
                ins = [env[i] for i in n["inputs"]]
                out_tok = True
                if op == "act":
                    y = F.softmax(ins[0], dim=-1) if (p["fn"] or "").lower() == "softmax" else act(p["fn"])(ins[0])
                elif op == "concat":
                    y = torch.cat(ins, dim=-1)
                else:
                    y = ins[0]
                    for t in ins[1:]:
                        y = y + t if op == "add" else y * t
            else:
                y = self.forward_nchw(n, x, [nchw(i) for i in n["inputs"]])
            env[name], tok[name] = y, out_tok
        out = self.graph["output"]
        return nchw(out)

    def forward_nchw(self, n, x, ins):
        """One node of the convolutional (NCHW) part of the graph."""
        op, p, name = n["op"], n["params"], n["name"]
        if op == "input":
            return x
        if op in ("conv2d", "depthwise", "conv2dTranspose", "batchnorm", "prelu", "maxpool", "avgpool", "upsample"):
            return self.mods[self.key(name)](ins[0])
        if op == "dense":
            return act(p["activation"])(self.mods[self.key(name)](ins[0]))
        if op == "act":
            return act(p["fn"])(ins[0])
        if op == "gap":
            return ins[0].mean(dim=(2, 3), keepdim=bool(p["keepDims"]))
        if op == "reshape":
            t = ins[0]
            return to_nchw(to_nhwc(t).reshape([t.shape[0]] + list(p["target"])))
        if op == "concat":
            return torch.cat(ins, dim=1)
        if op in ("add", "mul"):
            y = ins[0]
            for t in ins[1:]:
                y = y + t if op == "add" else y * t
            return y
        if op == "zeropad":
            return F.pad(ins[0], (p["left"], p["right"], p["top"], p["bottom"]))
        if op == "maxunpool":
            pre, values = ins
            _, idx = F.max_pool2d(pre, 2, 2, return_indices=True)
            return F.max_unpool2d(values, idx, 2, 2, output_size=pre.shape[-2:])
        if op == "channelslice":
            return ins[0][:, p["begin"]:p["begin"] + p["size"]]
        raise ValueError(f"bench_torch.py: unsupported op '{op}'")


def count_weights(model):
    """Parameters + BatchNorm running statistics (tfjs counts both)."""
    n = sum(p.numel() for p in model.parameters())
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            n += m.running_mean.numel() + m.running_var.numel()
    return n


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else 0.5 * (s[m - 1] + s[m])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("graph")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--min-sample-ms", type=float, default=0)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    with open(args.graph) as f:
        graph = json.load(f)
    h, w, c = graph["inputShape"]
    model = Twin(graph)
    x = torch.rand(args.batch, c, h, w)
    y = (torch.rand(args.batch, 1, h, w) > 0.5).float()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.BCEWithLogitsLoss()

    out_c = graph["nodes"][-1]["shape"][-1]
    if out_c != 1:
        y = (torch.rand(args.batch, out_c, h, w) > 0.5).float()

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return float(loss)

    def infer_step():
        with torch.no_grad():
            return float(model(x).sum())

    def timed(fn, n, k=1):
        """n samples of k steps each; per-step milliseconds."""
        cpu, wall = [], []
        for _ in range(n):
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(k):
                fn()
            cpu.append((time.process_time() - c0) * 1000 / k)
            wall.append((time.perf_counter() - w0) * 1000 / k)
        return cpu, wall

    def steps_per_sample(fn):
        """Steps per timed sample so that one lasts at least --min-sample-ms (as medfl's bench)."""
        w0 = time.perf_counter()
        fn()
        ms = (time.perf_counter() - w0) * 1000
        return max(1, math.ceil(args.min_sample_ms / max(ms, 1e-3)))

    model.train()
    timed(train_step, args.warmup)
    train_cpu, train_wall = timed(train_step, args.repeats, steps_per_sample(train_step))
    model.eval()
    timed(infer_step, max(1, args.warmup // 2))
    infer_cpu, infer_wall = timed(infer_step, args.repeats, steps_per_sample(infer_step))
    json.dump({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "weights": count_weights(model),
        "trainCpuMs": train_cpu, "trainWallMs": train_wall,
        "inferCpuMs": infer_cpu, "inferWallMs": infer_wall,
        "trainCpuMsMedian": median(train_cpu), "trainWallMsMedian": median(train_wall),
        "inferCpuMsMedian": median(infer_cpu), "inferWallMsMedian": median(infer_wall),
    }, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
