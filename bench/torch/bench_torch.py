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
Layout is PyTorch's native NCHW. Run it with Debian's python3-torch
(/usr/bin/python3); `--threads 1` matches single-threaded tfjs-wasm.
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


def to_nhwc(x):
    return x.permute(0, 2, 3, 1) if x.dim() == 4 else x


def to_nchw(x):
    return x.permute(0, 3, 1, 2).contiguous() if x.dim() == 4 else x


class Twin(nn.Module):
    """The whole network, executed node by node in the graph's order."""

    def __init__(self, graph):
        super().__init__()
        self.graph = graph
        self.mods = nn.ModuleDict()
        shapes = {n["name"]: n["shape"] for n in graph["nodes"]}
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
            elif op not in ("input", "act", "gap", "reshape", "concat", "add", "mul", "zeropad", "maxunpool", "channelslice"):
                raise ValueError(f"bench_torch.py: unsupported op '{op}' (node {n['name']})")

    @staticmethod
    def key(name):
        return name.replace(".", "_")

    def forward(self, x):
        env = {}
        for n in self.graph["nodes"]:
            op, p, name = n["op"], n["params"], n["name"]
            ins = [env[i] for i in n["inputs"]]
            if op == "input":
                y = x
            elif op in ("conv2d", "depthwise", "conv2dTranspose", "batchnorm", "prelu", "maxpool", "avgpool", "upsample"):
                y = self.mods[self.key(name)](ins[0])
            elif op == "dense":
                y = self.mods[self.key(name)](ins[0])
                y = act(p["activation"])(y)
            elif op == "act":
                y = act(p["fn"])(ins[0])
            elif op == "gap":
                y = ins[0].mean(dim=(2, 3), keepdim=bool(p["keepDims"]))
            elif op == "reshape":
                t = ins[0]
                target = list(p["target"])
                y = to_nchw(to_nhwc(t).reshape([t.shape[0]] + target))
            elif op == "concat":
                y = torch.cat(ins, dim=1)
            elif op == "add":
                y = ins[0]
                for t in ins[1:]:
                    y = y + t
            elif op == "mul":
                y = ins[0]
                for t in ins[1:]:
                    y = y * t
            elif op == "zeropad":
                y = F.pad(ins[0], (p["left"], p["right"], p["top"], p["bottom"]))
            elif op == "maxunpool":
                pre, values = ins
                _, idx = F.max_pool2d(pre, 2, 2, return_indices=True)
                y = F.max_unpool2d(values, idx, 2, 2, output_size=pre.shape[-2:])
            elif op == "channelslice":
                y = ins[0][:, p["begin"]:p["begin"] + p["size"]]
            else:
                raise ValueError(f"bench_torch.py: unsupported op '{op}'")
            env[name] = y
        return env[self.graph["output"]]


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

    def timed(fn, n):
        cpu, wall = [], []
        for _ in range(n):
            c0, w0 = time.process_time(), time.perf_counter()
            fn()
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
        return cpu, wall

    model.train()
    timed(train_step, args.warmup)
    train_cpu, train_wall = timed(train_step, args.repeats)
    model.eval()
    timed(infer_step, max(1, args.warmup // 2))
    infer_cpu, infer_wall = timed(infer_step, args.repeats)
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
