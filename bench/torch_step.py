#!/usr/bin/env python3
# The training step of config/bench-st.yaml and config/bench-s3d.yaml in plain eager PyTorch (a side-by-side benchmark,
# bench/step.ts), the same computation as vhssl's fused step.onnx: task mine, groups [space, time], 8 frames of 64×64,
# the stem (bench-st: linear, patch 16; bench-s3d: S3D's conv stem to 128 channels at 16×16, patch 4), BatchNorm output
# norms, detached targets, single-linear predictors with a BatchNorm, MSE terms space.up, time.down, time.summary (all
# weight 1), SGD (lr 0.1, momentum 0.8, Nesterov), predictors at 3× lr, one optimizer per group, stop-gradient walls at
# the time group's input and on every target.
# Parameters are named as vhssl names them, so artifacts' init.safetensors loads by name.
#
#   python3 bench/torch_step.py [--config bench-s3d] --check DIR   # DIR: init.safetensors, batch.safetensors, expected.json (torch-check.ts)
#   python3 bench/torch_step.py [--config bench-s3d] --bench --threads 1 --steps 20 --warmup 3 [--infer] [--compile] [--serve] [--frames F --size S]
#
# Fast paths. PyTorch 2.6 (Debian trixie, bench/torch2-root.sh): --compile (TorchInductor on the forward and, through
# AOTAutograd, the backward) works on this model but is slower on bench-st: 86–96 ms a step against eager's ~42 ms
# (2 threads), so bench/step.ts runs eager unless given --torch-compile. PyTorch 1.13 (Debian bookworm) has no
# torch.compile. The S3D stem's convolutions run on oneDNN (torch.backends.mkldnn, on by default; without it a
# bench-s3d step takes 2.1× as long on 1.13, 2 threads). channels_last_3d does not pay on 1.13: its conv3d returns a
# channels-first result whatever the layout of its input and weight, so channels-last inputs and weights only add
# conversions (bench-s3d steps ~10% slower, best and lower quartile of paired steps). Large allocations: bench/torch.ts
# runs --bench with glibc's mmap and trim thresholds raised (GLIBC_TUNABLES), so that freed activations are reused
# rather than mapped afresh every step.
import argparse
import json
import math
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

B, FRAMES, H, W, PATCH_DIM = 8, 8, 64, 64, 128
# Per configuration: the stem, its output channels and the patch size (the rest is shared). Both give 16 patches per frame.
CONFIGS = {"bench-st": {"stem": "linear", "channels": 3, "patch": 16}, "bench-s3d": {"stem": "s3d", "channels": 128, "patch": 4}}
SPACE = dict(dim=128, layers=2, heads=4, head_dim=32, mlp=256, causal=False)
TIME = dict(dim=256, layers=2, heads=6, head_dim=48, mlp=512, causal=True)
LR, MOMENTUM, NESTEROV, PRED_LR_MULT = 0.1, 0.8, True, 3.0
BN_EPS, LN_EPS = 1e-5, 1e-5
# vhssl's BatchNorm running-statistics weights: ONNX momentum 1 − 0.1 rounded to float32; the batch gets 1 minus that.
BN_KEEP = float(np.float32(1 - 0.1))
# The S3D stem's BatchNorms are S3D's: eps 1e-3, PyTorch momentum 0.001 (the same float32 rounding of 1 − m).
STEM_BN_EPS, STEM_BN_KEEP = 1e-3, float(np.float32(1 - 0.001))
TOL = 1e-4  # relative: float32 rounding of the same sums in another order
# The S3D stem's parameters after the step (their gradient, momentum and change): each float32 side is up to 5e-4 from
# the step in float64 (bench-s3d, measured on both: e.g. conv1.spatial.bn.weight's gradient, vhssl 1.8e-4, PyTorch
# 4.6e-4 off; conv2.bn.weight's 4.8e-4 and 4.7e-4). Their gradients are sums over B·F·H·W = 262144 positions of
# terms backpropagated through the whole network, which largely cancel (a BatchNorm's weight and bias gradient), so
# the same rounding as elsewhere is ~100× larger relative to the result; two sides can differ by the sum of both.
# PyTorch 2.6 (Debian trixie, oneDNN 3.7) rounds further: --check --float64 puts its gradients of the stem's BatchNorm
# biases 2.4e-4 to 7.9e-4 from float64 (Σ-relative), vhssl's 6e-7 to 1.7e-4 on the same tensors, and the check's largest
# difference between the two sides is 1.3e-3 (conv1.temporal.bn.bias); hence 2e-3.
TOL_STEM = 2e-3
FLOOR = 1e-2  # see check()


def configure(config, frames, size):
    """The configuration's stem and patch size, at a clip length and frame size (8 frames of 64×64 in both configs;
    others for the scale measurements of bench/step.ts --scale)."""
    global STEM, STEM_CH, PATCH, FRAMES, H, W, SH, SW, P, POSITIONS
    c = CONFIGS[config]
    STEM, STEM_CH, PATCH = c["stem"], c["channels"], c["patch"]
    FRAMES, H, W = frames, size, size
    # The stem's output frames: two max pools of kernel 3, stride 2, pad 1 (vhssl's stemOutput).
    SH, SW = (H, W) if STEM == "linear" else ((H + 3) // 4, (W + 3) // 4)
    P = (SH // PATCH) * (SW // PATCH)
    POSITIONS = {"pos.time.summary": ((B, 1), FRAMES)}  # name: (shape, range)


configure("bench-st", FRAMES, H)


def s3d_layers():
    """vhssl's S3D stem (src/graph/model/stem.ts), in order: (name, in, out, kernel, padding) per conv (no bias) →
    BatchNorm → ReLU, None per max pool (kernel (1,3,3), stride (1,2,2), pad (0,1,1)); none for the linear stem."""
    c = STEM_CH
    if STEM == "linear":
        return []
    return [("conv1.spatial", 3, 64, (1, 5, 5), (0, 2, 2)), ("conv1.temporal", 64, 64, (5, 1, 1), (2, 0, 0)), None,
            ("conv2", 64, 64, (1, 1, 1), (0, 0, 0)),
            ("conv3.spatial", 64, c, (1, 3, 3), (0, 1, 1)), ("conv3.temporal", c, c, (3, 1, 1), (1, 0, 0)), None]


def stem_bns():
    """The S3D stem's BatchNorms: name → channels."""
    return {f"space.stem.{name}.bn": cout for name, _, cout, _, _ in filter(None, s3d_layers())}


def bn_keep(name):
    """The running statistics' weight on their old value, of the BatchNorm `name`."""
    return STEM_BN_KEEP if name.startswith("space.stem.") else BN_KEEP


# ---------------------------------------------------------------------------------------------------------------
# Parameters: name → shape and initial value kind, in vhssl's order.

def _block_shapes(prefix, d, heads, dh, mlp):
    return [
        (f"{prefix}.norm1.weight", (d,), "ones"), (f"{prefix}.norm1.bias", (d,), "zeros"),
        (f"{prefix}.attn.qkv.weight", (d, 3 * heads * dh), "normal"),
        (f"{prefix}.attn.out.weight", (heads * dh, d), "normal"), (f"{prefix}.attn.out.bias", (d,), "zeros"),
        (f"{prefix}.norm2.weight", (d,), "ones"), (f"{prefix}.norm2.bias", (d,), "zeros"),
        (f"{prefix}.mlp.fc1.weight", (d, mlp), "normal"), (f"{prefix}.mlp.fc1.bias", (mlp,), "zeros"),
        (f"{prefix}.mlp.fc2.weight", (mlp, d), "normal"), (f"{prefix}.mlp.fc2.bias", (d,), "zeros"),
    ]


def _bn(name, c):
    return [(f"{name}.weight", (c,), "ones"), (f"{name}.bias", (c,), "zeros")]


def param_table():
    """{group: [(name, shape, init)]}: every trained parameter of the two groups."""
    s, t = SPACE, TIME
    space = []
    for name, cin, cout, kernel, _ in filter(None, s3d_layers()):
        space += [(f"space.stem.{name}.conv.weight", (cout, cin, *kernel), "fan_in")] + _bn(f"space.stem.{name}.bn", cout)
    space += [("space.embed.weight", (PATCH * PATCH * STEM_CH, PATCH_DIM), "normal"), ("space.embed.bias", (PATCH_DIM,), "zeros")]
    space += _bn("space.norm_patch", PATCH_DIM)
    space += [("space.cls_token", (1, 1, s["dim"]), "normal"), ("space.pos_embed", (1, P + 1, s["dim"]), "normal")]
    for i in range(s["layers"]):
        space += _block_shapes(f"space.blocks.{i}", s["dim"], s["heads"], s["head_dim"], s["mlp"])
    space += [("space.norm.weight", (s["dim"],), "ones"), ("space.norm.bias", (s["dim"],), "zeros")]
    space += _bn("space.norm_out", s["dim"])
    space += [("space.pred_up.out.weight", (s["dim"], t["dim"]), "normal")] + _bn("space.pred_up.norm", t["dim"])

    time_ = [("time.proj_in.weight", (s["dim"], t["dim"]), "normal"), ("time.proj_in.bias", (t["dim"],), "zeros")]
    time_ += [("time.summary_token", (1, 1, t["dim"]), "normal"), ("time.pos_embed", (1, FRAMES + 1, t["dim"]), "normal")]
    for i in range(t["layers"]):
        time_ += _block_shapes(f"time.blocks.{i}", t["dim"], t["heads"], t["head_dim"], t["mlp"])
    time_ += [("time.norm.weight", (t["dim"],), "ones"), ("time.norm.bias", (t["dim"],), "zeros")]
    time_ += _bn("time.norm_out", t["dim"]) + _bn("time.norm_target", t["dim"])
    time_ += [("time.pred_down.out.weight", (t["dim"], s["dim"]), "normal")] + _bn("time.pred_down.norm", s["dim"])
    time_ += [("time.pred_summary.pos_embed", (FRAMES, t["dim"]), "normal"), ("time.pred_summary.out.weight", (t["dim"], s["dim"]), "normal")]
    time_ += _bn("time.pred_summary.norm", s["dim"])
    return {"space": space, "time": time_}


def buffer_table():
    """BatchNorm running statistics: name → channels."""
    bns = {**stem_bns(), "space.norm_patch": PATCH_DIM, "space.norm_out": SPACE["dim"], "space.pred_up.norm": TIME["dim"],
           "time.norm_out": TIME["dim"], "time.norm_target": TIME["dim"], "time.pred_down.norm": SPACE["dim"],
           "time.pred_summary.norm": SPACE["dim"]}
    out = {}
    for n, c in bns.items():
        out[f"{n}.running_mean"] = (c, 0.0)
        out[f"{n}.running_var"] = (c, 1.0)
    return out


is_predictor = lambda name: ".pred_" in name  # vhssl's isPredictor: /\.pred_/


class Model:
    def __init__(self):
        self.groups = {}
        self.p = {}
        for g, rows in param_table().items():
            self.groups[g] = [n for n, _, _ in rows]
            for n, shape, kind in rows:
                if kind == "normal":  # vhssl's truncNormal: std 0.02, cut at ±2σ (draws from torch's global seed)
                    v = torch.nn.init.trunc_normal_(torch.empty(shape), std=0.02, a=-0.04, b=0.04)
                elif kind == "fan_in":  # vhssl's uniformFanIn: U(±1/√fan-in), a conv weight (out, in, kernel…)
                    bound = 1 / math.sqrt(math.prod(shape[1:]))
                    v = torch.empty(shape).uniform_(-bound, bound)
                else:
                    v = torch.ones(shape) if kind == "ones" else torch.zeros(shape)
                self.p[n] = v.requires_grad_(True)
        self.buf = {n: torch.full((c,), v) for n, (c, v) in buffer_table().items()}
        causal = torch.zeros(FRAMES + 1, FRAMES + 1)
        for i in range(FRAMES + 1):
            causal[i, i + 1:] = -1e9
        self.mask = {False: None, True: causal}
        self.training = True

    def load(self, tensors):
        names = set(self.p) | set(self.buf)
        extra, missing = set(tensors) - names, names - set(tensors)
        if extra or missing:
            raise SystemExit(f"init.safetensors: unknown {sorted(extra)}; missing {sorted(missing)}")
        with torch.no_grad():
            for n, t in tensors.items():
                dst = self.p.get(n, self.buf.get(n))
                if tuple(dst.shape) != tuple(t.shape):
                    raise SystemExit(f"init.safetensors: {n} is {tuple(t.shape)}, expected {tuple(dst.shape)}")
                dst.copy_(t)

    def optimizers(self):
        """One SGD per group; its predictor parameters in a second param group at lr × 3."""
        out = {}
        for g, names in self.groups.items():
            plain = [self.p[n] for n in names if not is_predictor(n)]
            pred = [self.p[n] for n in names if is_predictor(n)]
            out[g] = torch.optim.SGD([{"params": plain, "lr": LR}, {"params": pred, "lr": LR * PRED_LR_MULT}],
                                     lr=LR, momentum=MOMENTUM, nesterov=NESTEROV, dampening=0, weight_decay=0)
        return out

    # -----------------------------------------------------------------------------------------------------------
    # Layers.

    def linear(self, name, x, bias=True):
        """y = x·W + b over the last axis, W stored (in, out)."""
        w = self.p[f"{name}.weight"]
        x2 = x.reshape(-1, x.shape[-1])
        y = torch.addmm(self.p[f"{name}.bias"], x2, w) if bias else x2 @ w
        return y.reshape(*x.shape[:-1], w.shape[1])

    def batchnorm(self, name, x, eps=BN_EPS):
        """Training-mode BatchNorm of x (N, C, …) over every axis but 1; running stats with the biased variance (as ORT),
        weighted by bn_keep(name). In evaluation (self.training False): the running statistics normalise."""
        w, b = self.p[f"{name}.weight"], self.p[f"{name}.bias"]
        rm, rv = self.buf[f"{name}.running_mean"], self.buf[f"{name}.running_var"]
        if not self.training:
            return F.batch_norm(x, rm, rv, w, b, training=False, eps=eps)
        # F.batch_norm's kernel, which also returns the batch mean and 1/√(σ² + eps) with σ² biased (as ORT's running
        # variance takes it; F.batch_norm's own update takes the unbiased): the running statistics from those, without
        # a second pass over x (torch.var_mean's took 10% of an S3D step).
        y, mean, invstd = torch.native_batch_norm(x, w, b, None, None, True, 0.0, eps)
        with torch.no_grad():
            keep = bn_keep(name)
            rm.mul_(keep).add_(mean, alpha=1 - keep)
            rv.mul_(keep).add_((invstd.double() ** -2 - eps).float(), alpha=1 - keep)
        return y

    def batchnorm_last(self, name, x):
        """Channels-last BatchNorm: over every axis but the last."""
        return self.batchnorm(name, x.reshape(-1, x.shape[-1])).reshape(x.shape)

    def stem(self, video):
        """S3D's stem: video (B, F, H, W, 3) → channels-last frames (B, F, H/4, W/4, C), through (B, C, F, h, w)."""
        x = video.permute(0, 4, 1, 2, 3)
        for layer in s3d_layers():
            if layer is None:
                x = F.max_pool3d(x, (1, 3, 3), (1, 2, 2), (0, 1, 1))
                continue
            name, _, _, _, pad = layer
            n = f"space.stem.{name}"
            x = F.relu(self.batchnorm(f"{n}.bn", F.conv3d(x, self.p[f"{n}.conv.weight"], padding=pad), eps=STEM_BN_EPS))
        return x.permute(0, 2, 3, 4, 1)

    def layernorm(self, name, x):
        return F.layer_norm(x, (x.shape[-1],), self.p[f"{name}.weight"], self.p[f"{name}.bias"], LN_EPS)

    def attention(self, name, x, t, s):
        """(N·T, D) → (N·T, D): multi-head attention within sequences of t; q pre-scaled; additive −1e9 causal mask."""
        h, dh = s["heads"], s["head_dim"]
        q, k, v = (x @ self.p[f"{name}.qkv.weight"]).split(h * dh, dim=1)
        qh = (q * dh ** -0.5).reshape(-1, t, h, dh).permute(0, 2, 1, 3)  # (N, H, T, Dh)
        kt = k.reshape(-1, t, h, dh).permute(0, 2, 3, 1)  # (N, H, Dh, T)
        vh = v.reshape(-1, t, h, dh).permute(0, 2, 1, 3)
        logits = qh @ kt  # (N, H, T, T)
        if s["causal"]:
            logits = logits + self.mask[True]
        a = torch.softmax(logits, dim=-1) @ vh  # (N, H, T, Dh)
        return self.linear(f"{name}.out", a.permute(0, 2, 1, 3).reshape(-1, h * dh))

    def transformer(self, g, x, t, s):
        """Pre-norm blocks over (N·T, D), then a final LayerNorm."""
        for i in range(s["layers"]):
            n = f"{g}.blocks.{i}"
            x = x + self.attention(f"{n}.attn", self.layernorm(f"{n}.norm1", x), t, s)
            m = self.linear(f"{n}.mlp.fc2", F.gelu(self.linear(f"{n}.mlp.fc1", self.layernorm(f"{n}.norm2", x))))
            x = x + m
        return self.layernorm(f"{g}.norm", x)

    @staticmethod
    def channel_std(x):
        """Collapse monitor: per-channel std of (N, D) rows (biased, +1e-8 under the root), averaged over channels."""
        c = x - x.mean(0, keepdim=True)
        return torch.sqrt((c * c).mean(0) + 1e-8).mean()

    # -----------------------------------------------------------------------------------------------------------
    # The step's forward: levels, then the loss terms.

    def levels(self, video):
        """The encoder: (B, F, H, W, 3) → the space level (B, F, D), its per-frame aggregates, the time level's
        summary output and its full sequence (as vhssl's encoder.onnx and the step's forward compute them)."""
        D, Dt = SPACE["dim"], TIME["dim"]
        b = video.shape[0]
        frames = video if STEM == "linear" else self.stem(video)  # (B, F, h, w, C)
        # Patchify (B·F·h/p, p1, w/p, p2·C) → (B·F·P, p·p·C), patches row-major, then the linear embedding.
        rows = frames.reshape(-1, PATCH, SW // PATCH, PATCH * STEM_CH).permute(0, 2, 1, 3).reshape(-1, PATCH * PATCH * STEM_CH)
        patches = self.batchnorm_last("space.norm_patch", self.linear("space.embed", rows))  # (B·F·P, Dp), no wall: space owns it
        # space: a leading CLS within each frame.
        x = patches.reshape(-1, P, D)  # (B·F, P, D)
        seq = torch.cat([self.p["space.cls_token"].expand(x.shape[0], 1, D), x], 1) + self.p["space.pos_embed"]
        out = self.transformer("space", seq.reshape(-1, D), P + 1, SPACE).reshape(-1, P + 1, D)
        agg = out[:, 0]  # (B·F, D)
        space_tokens = self.batchnorm_last("space.norm_out", agg).reshape(b, FRAMES, D)
        # time: input behind a wall, a trailing summary token, causal.
        x = self.linear("time.proj_in", space_tokens.detach().reshape(-1, D)).reshape(-1, FRAMES, Dt)  # (B·C, f, Dt)
        seq = torch.cat([x, self.p["time.summary_token"].expand(x.shape[0], 1, Dt)], 1) + self.p["time.pos_embed"]
        out_t = self.transformer("time", seq.reshape(-1, Dt), FRAMES + 1, TIME).reshape(-1, FRAMES + 1, Dt)
        agg_t = out_t[:, FRAMES]  # (B, Dt)
        time_tokens = self.batchnorm_last("time.norm_out", agg_t).reshape(b, 1, Dt)
        return space_tokens, agg, time_tokens, agg_t, out_t

    def embedding(self, video):
        """vhssl's `embedding` output: the time level's summary after its output norm, (B, Dt); evaluation mode."""
        self.training = False
        try:
            with torch.no_grad():
                return self.levels(video)[2].reshape(video.shape[0], -1)
        finally:
            self.training = True

    def forward(self, video, pos_summary):
        D, Dt = SPACE["dim"], TIME["dim"]
        space_tokens, agg, time_tokens, agg_t, out_t = self.levels(video)
        full = self.batchnorm_last("time.norm_target", out_t[:, :FRAMES].reshape(-1, Dt)).reshape(B, 1, FRAMES, Dt)

        mse = lambda a, b: ((a - b) ** 2).mean()
        pred = lambda name, x: self.batchnorm_last(f"{name}.norm", self.linear(f"{name}.out", x, bias=False))
        st = space_tokens.detach().reshape(B, 1, FRAMES, D)  # the space level as a target, behind a wall
        # space.up: frame t predicts the time group's causal state at t − 1.
        up = pred("space.pred_up", space_tokens).reshape(B, 1, FRAMES, Dt)
        loss_up = mse(up[:, :, 1:], full.detach()[:, :, :-1])
        # time.down: causal position t predicts frame token t + 1.
        down = pred("time.pred_down", full)
        loss_down = mse(down[:, :, :-1], st[:, :, 1:])
        # time.summary: the level output plus a position embedding predicts the sampled frame of its clip.
        summ = pred("time.pred_summary", time_tokens + self.p["time.pred_summary.pos_embed"][pos_summary])  # (B, 1, D)
        tgt = st.gather(2, pos_summary.reshape(B, 1, 1, 1).expand(B, 1, 1, D)).reshape(B, 1, D)
        loss_summary = mse(summ, tgt)
        with torch.no_grad():
            monitors = {"monitor.space.std": self.channel_std(agg), "monitor.time.std": self.channel_std(agg_t)}
        losses = {"loss.space.up": loss_up, "loss.space": loss_up, "loss.time.down": loss_down,
                  "loss.time.summary": loss_summary, "loss.time": loss_down + loss_summary}
        return losses, monitors


def make_step(model, opts):
    def step(video, positions):
        """One training step: forward, one backward of Σ_g loss_g (walls keep each group's gradient its own), every group's update."""
        for o in opts.values():
            o.zero_grad(set_to_none=True)
        losses, monitors = model.forward(video, positions["pos.time.summary"])
        (losses["loss.space"] + losses["loss.time"]).backward()
        with torch.no_grad():
            norms = {f"grad_norm.{g}": torch.stack([model.p[n].grad.norm() for n in names]).norm() for g, names in model.groups.items()}
        for o in opts.values():
            o.step()
        return {**{k: v.detach() for k, v in losses.items()}, **monitors, **norms}
    return step


# ---------------------------------------------------------------------------------------------------------------
# safetensors (F32, I64) without the safetensors package.

_DTYPES = {"F32": np.float32, "I64": np.int64, "F64": np.float64, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        arr = np.frombuffer(data, dtype=_DTYPES[e["dtype"]], count=(b - a) // np.dtype(_DTYPES[e["dtype"]]).itemsize, offset=base + a)
        out[name] = torch.from_numpy(arr.copy().reshape(e["shape"]))
    return out


def checksum(t):
    x = t.detach().double()
    return {"sum": x.sum().item(), "sumsq": (x * x).sum().item(), "sumabs": x.abs().sum().item()}


def tol(name):
    """The check's relative tolerance for the tensor `name` (a parameter, its momentum, or a buffer)."""
    return TOL_STEM if name.startswith("space.stem.") and ".running_" not in name else TOL


def momenta(model, opts):
    """Each parameter's SGD momentum buffer, by `<name>.momentum`."""
    out = {}
    for o in opts.values():
        for pg in o.param_groups:
            for p in pg["params"]:
                name = next(n for n, q in model.p.items() if q is p)
                out[f"{name}.momentum"] = o.state[p]["momentum_buffer"]
    return out


def loaded(dir_):
    """The model at DIR's initial state (init.safetensors) and DIR's batch (batch.safetensors)."""
    torch.manual_seed(0)
    model = Model()
    model.load(read_safetensors(f"{dir_}/init.safetensors"))
    return model, read_safetensors(f"{dir_}/batch.safetensors")


def positions_of(batch):
    """The batch's sampled prediction positions (its `pos.*` entries)."""
    return {k: v for k, v in batch.items() if k.startswith("pos.")}


def float64_audit(dir_, exp, got32):
    """
    The step again in float64 from the same initial state and batch; per tensor held to TOL_STEM, how far each float32
    side's gradient (the momentum after step 1) is from it: |Σ side − Σ float64| / Σ|float64|. Shows which side's
    rounding a difference over TOL comes from.
    """
    torch.set_default_dtype(torch.float64)
    try:
        model, batch = loaded(dir_)
        opts = model.optimizers()
        make_step(model, opts)(batch["video"].double(), positions_of(batch))
        ref = momenta(model, opts)
    finally:
        torch.set_default_dtype(torch.float32)
    print(f"  float64 audit (torch {torch.__version__}): gradient's |Σ − Σ float64| / Σ|float64| of each float32 side")
    for name in sorted(n for n in ref if tol(n) != TOL):
        s64, scale = ref[name].sum().item(), ref[name].abs().sum().item()
        t32, v32 = got32[name].double().sum().item(), exp["values"][name]["sum"]
        print(f"    {name:48s} torch {abs(t32 - s64) / scale:.1e}   vhssl {abs(v32 - s64) / scale:.1e}")


def check(dir_, float64=False):
    model, batch = loaded(dir_)
    init = {n: v.detach().clone() for n, v in {**model.p, **model.buf}.items()}
    with open(f"{dir_}/expected.json") as f:
        exp = json.load(f)
    ok = True
    if "embedding" in exp:  # the encoder at the initial state, evaluation mode
        emb = model.embedding(batch["video"]).reshape(-1)
        want = torch.tensor(exp["embedding"], dtype=torch.float32)
        r = ((emb - want).abs().max() / want.abs().max()).item()
        ok &= r <= TOL  # the forward: no cancelling gradient sums, so the stem needs no more than TOL
        print(f"  {'embedding (encoder)':24s} {emb.numel()} values, largest difference / largest value {r:.2e}")
    opts = model.optimizers()
    out = make_step(model, opts)(batch["video"], positions_of(batch))

    rel = lambda a, b, scale: abs(a - b) / max(scale, 1e-30)
    for name, v in exp["scalars"].items():
        r = rel(out[name].item(), v, abs(v))
        ok &= r <= TOL
        print(f"  {name:24s} torch {out[name].item():.8g}  vhssl {v:.8g}  rel {r:.2e}")

    momentum = momenta(model, opts)
    values = {**model.p, **model.buf, **momentum}
    # Buffers' changes too: a running statistic's value is mostly its initial one (the stem's keeps 0.999 of it), its
    # change is the batch statistic's share, compared at full precision only here.
    deltas = {n: v.detach() - init[n] for n, v in {**model.p, **model.buf}.items()}
    # Floors: a checksum's difference is taken relative to the tensor's own size, but never to a size under FLOOR (1%) of
    # what its group's step is made of: several tensors are zero in exact arithmetic (a BatchNorm after them removes a
    # per-channel shift or scale: e.g. space.embed.bias, space.norm.bias and .weight, time.norm_target.bias, the
    # predictor BNs' running means) and both sides hold only rounding noise there.
    rms_grad = {g: out[f"grad_norm.{g}"].item() / math.sqrt(sum(model.p[n].numel() for n in names)) for g, names in model.groups.items()}
    group_of = {n: g for g, names in model.groups.items() for n in names}

    def floor_rms(kind, name):
        param = name[: -len(".momentum")] if name.endswith(".momentum") else name
        if param in model.buf:  # running statistics of unit-scale (normalised) data; their change is the batch's share
            bn = param.rsplit(".", 1)[0]
            return FLOOR * (1 - bn_keep(bn)) if kind == "delta" else FLOOR
        g = rms_grad[group_of[param]]
        if name.endswith(".momentum"):
            return FLOOR * g  # after step 1 the momentum is the gradient
        return FLOOR * g * LR * (PRED_LR_MULT if is_predictor(param) else 1) * (1 + MOMENTUM)  # a parameter's (change's) scale

    for kind, got, want in (("value", values, exp["values"]), ("delta", deltas, exp["deltas"])):
        if set(got) != set(want):
            raise SystemExit(f"expected.json {kind}s name {sorted(set(want) ^ set(got))} that the two sides do not share")
        worst, worst_raw, worst_plain, floored, bad = {}, ("", 0.0), ("", 0.0), [], []  # worst: per tolerance
        for name, w in want.items():
            c, n = checksum(got[name]), got[name].numel()
            f = floor_rms(kind, name)
            raw = max(rel(c["sum"], w["sum"], w["sumabs"]), rel(c["sumsq"], w["sumsq"], w["sumsq"]), rel(c["sumabs"], w["sumabs"], w["sumabs"]))
            r = max(rel(c["sum"], w["sum"], max(w["sumabs"], n * f)), rel(c["sumsq"], w["sumsq"], max(w["sumsq"], n * f * f)),
                    rel(c["sumabs"], w["sumabs"], max(w["sumabs"], n * f)))
            t = tol(name)
            if raw > t >= r:
                floored.append(f"{name} (rms vhssl {math.sqrt(w['sumsq'] / n):.1e}, torch {math.sqrt(c['sumsq'] / n):.1e}, floor {f:.1e})")
            if r > t:
                bad.append((name, r, t))
            if raw <= t:
                worst_plain = max(worst_plain, (name, raw), key=lambda x: x[1])
            worst[t] = max(worst.get(t, ("", 0.0)), (name, r), key=lambda x: x[1])
            worst_raw = max(worst_raw, (name, raw), key=lambda x: x[1])
        what = "params, BN running stats, momentum (= the gradient after step 1)" if kind == "value" else "params, BN running stats: new − init"
        worst_of = ", ".join(f"{r:.2e} ({name}; tolerance {t:g})" for t, (name, r) in sorted(worst.items()))
        print(f"  {kind} checksums of {len(want)} tensors ({what}): worst rel {worst_of}; "
              f"of the {len(want) - len(floored) - len(bad)} within tolerance without floors: worst {worst_plain[1]:.2e} ({worst_plain[0]})")
        print(f"    without floors: worst rel {worst_raw[1]:.2e} ({worst_raw[0]}); {len(floored)} tensors pass only by the floor (both sides ~rounding noise):")
        for line in floored:
            print(f"      {line}")
        for name, r, t in sorted(bad, key=lambda x: -x[1])[:10]:
            print(f"    over {t:g}: {name} {r:.2e}")
        ok &= not bad
    if float64:
        float64_audit(dir_, exp, momentum)
    within = f"{TOL:g}" + (f" (the S3D stem's parameters {TOL_STEM:g})" if STEM == "s3d" else "")
    print("torch_step --check:", f"OK, all within {within}" if ok else f"FAILED: some differences over {within}")
    return 0 if ok else 1


def bench(threads, steps, warmup, seed, infer=False, compile=False, serve=False):
    """
    `warmup` untimed steps, then `steps` timed ones, reported as one JSON line; with `serve`, after the warmup each line
    N read from stdin times N more steps and reports them, until stdin ends (the process and its memory stay warm
    between the rounds of bench/step.ts, as vhssl's do).
    """
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Model()
    if compile:  # TorchInductor: the forward, and through AOTAutograd its backward, as generated C++ kernels
        if not hasattr(torch, "compile"):
            raise SystemExit(f"--compile: PyTorch {torch.__version__} has no torch.compile (2.0 or later has)")
        model.forward = torch.compile(model.forward)
        model.embedding = torch.compile(model.embedding)
    opts = model.optimizers()
    step = make_step(model, opts)
    video = torch.randn(B, FRAMES, H, W, 3, generator=gen)

    def run(n):
        times = []
        for _ in range(n):
            positions = {n: torch.randint(0, r, shape, generator=gen) for n, (shape, r) in POSITIONS.items()}
            t0 = time.perf_counter()
            if infer:  # the encoder's no-grad evaluation forward: the embedding of the batch
                model.embedding(video).sum().item()
            else:
                out = step(video, positions)
                out["loss.space"].item()  # eager CPU ops are synchronous; this reads the result all the same
            times.append((time.perf_counter() - t0) * 1000)
        return times

    def report(times):
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"steps_ms": [round(t, 3) for t in times], "peak_rss_mb": round(rss, 1), "threads": threads, "torch": torch.__version__}), flush=True)

    run(warmup)
    if not serve:
        report(run(steps))
        return 0
    for line in sys.stdin:
        report(run(int(line)))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--config", choices=sorted(CONFIGS), default="bench-st", help="the configuration (config/<name>.yaml) to run")
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--float64", action="store_true", help="--check: also run the step in float64 and show each side's distance from it")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--serve", action="store_true", help="--bench: after the warmup, time N more steps for each line N on stdin")
    ap.add_argument("--compile", action="store_true", help="--bench: torch.compile the model's forward (and so its backward) and its embedding")
    ap.add_argument("--infer", action="store_true", help="--bench: time the encoder's no-grad forward (embedding) instead of a step")
    ap.add_argument("--frames", type=int, default=FRAMES, help="--bench: frames per clip (default the configs' 8)")
    ap.add_argument("--size", type=int, default=H, help="--bench: frame height and width (default the configs' 64)")
    a = ap.parse_args()
    configure(a.config, a.frames, a.size)
    if a.check:
        torch.set_num_threads(a.threads)
        return check(a.check, a.float64)
    if a.bench:
        return bench(a.threads, a.steps, a.warmup, a.seed, a.infer, a.compile, a.serve)
    ap.error("give --check DIR or --bench")


if __name__ == "__main__":
    sys.exit(main())
