#!/usr/bin/env python3
# The training step of config/bench-st.yaml in plain eager PyTorch (a side-by-side benchmark, bench/step.ts), the same
# computation as vhssl's fused step.onnx: task mine, groups [space, time], linear stem (patch 16, 8 frames of 64×64),
# BatchNorm output norms, detached targets, single-linear predictors with a BatchNorm, MSE terms
# space.up, time.down, time.summary (all weight 1), SGD (lr 0.1, momentum 0.8, Nesterov), predictors at 3× lr, one
# optimizer per group, stop-gradient walls at the time group's input and on every target.
# Parameters are named as vhssl names them, so artifacts' init.safetensors loads by name.
#
#   python3 bench/torch_step.py --check DIR      # DIR: init.safetensors, batch.safetensors, expected.json (torch-check.ts)
#   python3 bench/torch_step.py --bench --threads 1 --steps 20 --warmup 3 [--infer] [--frames F --size S]
#
# torch.compile does not exist in PyTorch 1.13 (Debian's python3-torch), so there is no --compile; --channels-last
# does not apply (no convolution in this model: the stem is a linear patch embedding).
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

# Geometry of config/bench-st.yaml.
B, FRAMES, H, W, PATCH, PATCH_DIM = 8, 8, 64, 64, 16, 128
P = (H // PATCH) * (W // PATCH)  # 16 patches per frame
SPACE = dict(dim=128, layers=2, heads=4, head_dim=32, mlp=256, causal=False)
TIME = dict(dim=256, layers=2, heads=6, head_dim=48, mlp=512, causal=True)
LR, MOMENTUM, NESTEROV, PRED_LR_MULT = 0.1, 0.8, True, 3.0
BN_EPS, LN_EPS = 1e-5, 1e-5
# vhssl's BatchNorm running-statistics weights: ONNX momentum 1 − 0.1 rounded to float32; the batch gets 1 minus that.
BN_KEEP = float(np.float32(1 - 0.1))
BN_NEW = 1 - BN_KEEP
TOL = 1e-4  # relative: float32 rounding of the same sums in another order
FLOOR = 1e-2  # see check()
POSITIONS = {"pos.time.summary": ((B, 1), FRAMES)}  # name: (shape, range)


def geometry(frames, size):
    """Another clip length and frame size than bench-st's (the scale measurements of bench/step.ts --scale)."""
    global FRAMES, H, W, P, POSITIONS
    FRAMES, H, W = frames, size, size
    P = (H // PATCH) * (W // PATCH)
    POSITIONS = {"pos.time.summary": ((B, 1), FRAMES)}


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
    space = [("space.embed.weight", (PATCH * PATCH * 3, PATCH_DIM), "normal"), ("space.embed.bias", (PATCH_DIM,), "zeros")]
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
    bns = {"space.norm_patch": PATCH_DIM, "space.norm_out": SPACE["dim"], "space.pred_up.norm": TIME["dim"],
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

    def batchnorm(self, name, x):
        """Channels-last training-mode BatchNorm over every axis but the last; running stats with the biased variance (as ORT).
        In evaluation (self.training False): the running statistics normalise."""
        c = x.shape[-1]
        x2 = x.reshape(-1, c)
        if not self.training:
            rm, rv = self.buf[f"{name}.running_mean"], self.buf[f"{name}.running_var"]
            return F.batch_norm(x2, rm, rv, self.p[f"{name}.weight"], self.p[f"{name}.bias"], training=False, eps=BN_EPS).reshape(x.shape)
        y = F.batch_norm(x2, None, None, self.p[f"{name}.weight"], self.p[f"{name}.bias"], training=True, eps=BN_EPS)
        with torch.no_grad():
            var, mean = torch.var_mean(x2, 0, unbiased=False)
            rm, rv = self.buf[f"{name}.running_mean"], self.buf[f"{name}.running_var"]
            rm.mul_(BN_KEEP).add_(mean, alpha=BN_NEW)
            rv.mul_(BN_KEEP).add_(var, alpha=BN_NEW)
        return y.reshape(x.shape)

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
        # Patchify (B·F·H/p, p1, W/p, p2·C) → (B·F·P, p·p·3), patches row-major, then the linear embedding.
        rows = video.reshape(-1, PATCH, W // PATCH, PATCH * 3).permute(0, 2, 1, 3).reshape(-1, PATCH * PATCH * 3)
        patches = self.batchnorm("space.norm_patch", self.linear("space.embed", rows))  # (B·F·P, Dp), no wall: space owns it
        # space: a leading CLS within each frame.
        x = patches.reshape(-1, P, D)  # (B·F, P, D)
        seq = torch.cat([self.p["space.cls_token"].expand(x.shape[0], 1, D), x], 1) + self.p["space.pos_embed"]
        out = self.transformer("space", seq.reshape(-1, D), P + 1, SPACE).reshape(-1, P + 1, D)
        agg = out[:, 0]  # (B·F, D)
        space_tokens = self.batchnorm("space.norm_out", agg).reshape(b, FRAMES, D)
        # time: input behind a wall, a trailing summary token, causal.
        x = self.linear("time.proj_in", space_tokens.detach().reshape(-1, D)).reshape(-1, FRAMES, Dt)  # (B·C, f, Dt)
        seq = torch.cat([x, self.p["time.summary_token"].expand(x.shape[0], 1, Dt)], 1) + self.p["time.pos_embed"]
        out_t = self.transformer("time", seq.reshape(-1, Dt), FRAMES + 1, TIME).reshape(-1, FRAMES + 1, Dt)
        agg_t = out_t[:, FRAMES]  # (B, Dt)
        time_tokens = self.batchnorm("time.norm_out", agg_t).reshape(b, 1, Dt)
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
        full = self.batchnorm("time.norm_target", out_t[:, :FRAMES].reshape(-1, Dt)).reshape(B, 1, FRAMES, Dt)

        mse = lambda a, b: ((a - b) ** 2).mean()
        pred = lambda name, x: self.batchnorm(f"{name}.norm", self.linear(f"{name}.out", x, bias=False))
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


def check(dir_):
    torch.manual_seed(0)
    model = Model()
    model.load(read_safetensors(f"{dir_}/init.safetensors"))
    init = {n: v.detach().clone() for n, v in model.p.items()}
    batch = read_safetensors(f"{dir_}/batch.safetensors")
    with open(f"{dir_}/expected.json") as f:
        exp = json.load(f)
    ok = True
    if "embedding" in exp:  # the encoder at the initial state, evaluation mode
        emb = model.embedding(batch["video"]).reshape(-1)
        want = torch.tensor(exp["embedding"], dtype=torch.float32)
        r = ((emb - want).abs().max() / want.abs().max()).item()
        ok &= r <= TOL
        print(f"  {'embedding (encoder)':24s} {emb.numel()} values, largest difference / largest value {r:.2e}")
    opts = model.optimizers()
    out = make_step(model, opts)(batch["video"], {k: v for k, v in batch.items() if k.startswith("pos.")})

    rel = lambda a, b, scale: abs(a - b) / max(scale, 1e-30)
    for name, v in exp["scalars"].items():
        r = rel(out[name].item(), v, abs(v))
        ok &= r <= TOL
        print(f"  {name:24s} torch {out[name].item():.8g}  vhssl {v:.8g}  rel {r:.2e}")

    momentum = {}
    for o in opts.values():
        for pg in o.param_groups:
            for p in pg["params"]:
                name = next(n for n, q in model.p.items() if q is p)
                momentum[f"{name}.momentum"] = o.state[p]["momentum_buffer"]
    values = {**model.p, **model.buf, **momentum}
    deltas = {n: model.p[n].detach() - init[n] for n in model.p}
    # Floors: a checksum's difference is taken relative to the tensor's own size, but never to a size under FLOOR (1%) of
    # what its group's step is made of: several tensors are zero in exact arithmetic (a BatchNorm after them removes a
    # per-channel shift or scale: e.g. space.embed.bias, space.norm.bias and .weight, time.norm_target.bias, the
    # predictor BNs' running means) and both sides hold only rounding noise there.
    rms_grad = {g: out[f"grad_norm.{g}"].item() / math.sqrt(sum(model.p[n].numel() for n in names)) for g, names in model.groups.items()}
    group_of = {n: g for g, names in model.groups.items() for n in names}

    def floor_rms(kind, name):
        param = name[: -len(".momentum")] if name.endswith(".momentum") else name
        if param in model.buf:
            return FLOOR  # running statistics of unit-scale (normalised) data
        g = rms_grad[group_of[param]]
        if name.endswith(".momentum"):
            return FLOOR * g  # after step 1 the momentum is the gradient
        return FLOOR * g * LR * (PRED_LR_MULT if is_predictor(param) else 1) * (1 + MOMENTUM)  # a parameter's (change's) scale

    for kind, got, want in (("value", values, exp["values"]), ("delta", deltas, exp["deltas"])):
        if set(got) != set(want):
            raise SystemExit(f"expected.json {kind}s name {sorted(set(want) ^ set(got))} that the two sides do not share")
        worst, worst_raw, worst_plain, floored, bad = ("", 0.0), ("", 0.0), ("", 0.0), [], []
        for name, w in want.items():
            c, n = checksum(got[name]), got[name].numel()
            f = floor_rms(kind, name)
            raw = max(rel(c["sum"], w["sum"], w["sumabs"]), rel(c["sumsq"], w["sumsq"], w["sumsq"]), rel(c["sumabs"], w["sumabs"], w["sumabs"]))
            r = max(rel(c["sum"], w["sum"], max(w["sumabs"], n * f)), rel(c["sumsq"], w["sumsq"], max(w["sumsq"], n * f * f)),
                    rel(c["sumabs"], w["sumabs"], max(w["sumabs"], n * f)))
            if raw > TOL >= r:
                floored.append(f"{name} (rms vhssl {math.sqrt(w['sumsq'] / n):.1e}, torch {math.sqrt(c['sumsq'] / n):.1e}, floor {f:.1e})")
            if r > TOL:
                bad.append((name, r))
            if raw <= TOL:
                worst_plain = max(worst_plain, (name, raw), key=lambda x: x[1])
            worst = max(worst, (name, r), key=lambda x: x[1])
            worst_raw = max(worst_raw, (name, raw), key=lambda x: x[1])
        what = "params, BN running stats, momentum (= the gradient after step 1)" if kind == "value" else "params: new − init"
        print(f"  {kind} checksums of {len(want)} tensors ({what}): worst rel {worst[1]:.2e} ({worst[0]}); "
              f"of the {len(want) - len(floored) - len(bad)} within {TOL:g} without floors: worst {worst_plain[1]:.2e} ({worst_plain[0]})")
        print(f"    without floors: worst rel {worst_raw[1]:.2e} ({worst_raw[0]}); {len(floored)} tensors pass only by the floor (both sides ~rounding noise):")
        for line in floored:
            print(f"      {line}")
        for name, r in sorted(bad, key=lambda x: -x[1])[:10]:
            print(f"    over {TOL:g}: {name} {r:.2e}")
        ok &= not bad
    print("torch_step --check:", f"OK, all within {TOL:g}" if ok else f"FAILED: some differences over {TOL:g}")
    return 0 if ok else 1


def bench(threads, steps, warmup, seed, infer=False):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = Model()
    opts = model.optimizers()
    step = make_step(model, opts)
    video = torch.randn(B, FRAMES, H, W, 3, generator=gen)
    times = []
    for i in range(warmup + steps):
        positions = {n: torch.randint(0, r, shape, generator=gen) for n, (shape, r) in POSITIONS.items()}
        t0 = time.perf_counter()
        if infer:  # the encoder's no-grad evaluation forward: the embedding of the batch
            model.embedding(video).sum().item()
        else:
            out = step(video, positions)
            out["loss.space"].item()  # eager CPU ops are synchronous; this reads the result all the same
        dt = (time.perf_counter() - t0) * 1000
        if i >= warmup:
            times.append(dt)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"steps_ms": [round(t, 3) for t in times], "peak_rss_mb": round(rss, 1), "threads": threads, "torch": torch.__version__}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--check", metavar="DIR")
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--infer", action="store_true", help="--bench: time the encoder's no-grad forward (embedding) instead of a step")
    ap.add_argument("--frames", type=int, default=FRAMES, help="--bench: frames per clip (default bench-st's 8)")
    ap.add_argument("--size", type=int, default=H, help="--bench: frame height and width (default bench-st's 64)")
    a = ap.parse_args()
    geometry(a.frames, a.size)
    if a.check:
        torch.set_num_threads(a.threads)
        return check(a.check)
    if a.bench:
        return bench(a.threads, a.steps, a.warmup, a.seed, a.infer)
    ap.error("give --check DIR or --bench")


if __name__ == "__main__":
    sys.exit(main())
