#!/usr/bin/env python3
"""The vksac SAC update (docs/sac.md) in plain eager PyTorch: the peer of
build/bench/update (shared/BENCH.md, "Update throughput").

    python3 bench/peer/sac_update.py [CONFIG...] [--threads N[,N...]] [--seconds S]
                                     [--no-sgemm | --sgemm-only] [--check]

CONFIG is any of small, pendulum, cheetah, hybrid, bro (default: all).
Prints one JSON object per result line and nothing else on stdout:

    {"bench":"sgemm_peer","threads":2,"m":1024,"gflops":...}
    {"bench":"update_peer","config":"cheetah","threads":2,"updates_per_s":...,"ms_per_update":...,"gflops":...,"torch":"..."}

One update = sample a batch of indices from a replay buffer already in memory,
critic step, actor step (critic parameters frozen), temperature step, target
EMA -- networks as SPEC.md §1 (residual MLP, ReLU², expansion 2, LayerNorm
with gain and no bias, frozen RSMNorm input normalisation), 2 critics,
Adam-atan2 with regeneration toward the initial weights (SPEC.md §5), fp32.

FLOP count per update (the formula of vksac's bench/update):
    F(net) = 2·B·Σ_linear in·out      (one forward pass of a network)
    flops  = 4·F(actor) + 6·N·F(critic)
  actor:  forward at s' (1) + forward and backward at s (1 + 2);
  critic: target forward (1) + online forward and backward (1 + 2) +
          actor-step forward and input-only backward (1 + 1).
gflops = flops / (seconds per update) / 1e9.

Threads: torch.set_num_threads(N) sets the OpenMP pool, but the Debian build
runs its fp32 GEMMs in OpenBLAS (libopenblas0-pthread), whose own thread pool
is sized by OPENBLAS_NUM_THREADS when the library loads; so this script sets
OPENBLAS_NUM_THREADS=N and OMP_NUM_THREADS=N before importing torch, and runs
one subprocess per thread count when given several. It also sets
OMP_WAIT_POLICY=PASSIVE unless already set (see below).

"torch" in the output is torch.__version__; Debian's python3-torch
1.13.1+dfsg reports "1.13.0a0", so "torch_pkg" adds the package version.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

# name: (dim_state, continuous dims, discrete heads, hidden, depth, batch) -- BENCH.md
CONFIGS = {
    "small":    (3,  1, (),     64,  1, 100),
    "pendulum": (3,  1, (),     256, 1, 256),
    "cheetah":  (17, 6, (),     256, 2, 256),
    "hybrid":   (5,  2, (5, 5), 64,  3, 256),
    "bro":      (17, 6, (),     512, 2, 256),
}
ORDER = ["small", "pendulum", "cheetah", "hybrid", "bro"]

EXPANSION = 2
N_CRITICS = 2
GAMMA, BETA_EMA, LR, REGEN = 0.99, 0.995, 3e-4, 1e-4
REPLAY = 100_000  # replay buffer rows (synthetic transitions)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("configs", nargs="*", metavar="CONFIG", help="|".join(ORDER) + " (default: all)")
    ap.add_argument("--threads", default="2", help="torch/OpenBLAS threads, or a list like 1,2 (default 2)")
    ap.add_argument("--seconds", type=float, default=5.0, help="timing seconds per config (default 5)")
    ap.add_argument("--no-sgemm", action="store_true", help="skip the 1024³ sgemm ceiling line")
    ap.add_argument("--sgemm-only", action="store_true", help="print only the sgemm ceiling line")
    ap.add_argument("--check", action="store_true",
                    help="instead of timing: run 300 updates per config, print losses and α "
                         "(stderr) and check the optimiser against a per-tensor loop")
    args = ap.parse_args()
    for c in args.configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}; choose from {', '.join(ORDER)}")
    args.configs = args.configs or ORDER
    args.threads = [int(t) for t in args.threads.split(",") if t]
    if not args.threads or min(args.threads) < 1:
        ap.error("--threads wants positive integers")
    return args


ARGS = parse_args()
if len(ARGS.threads) > 1:
    # One process per thread count: OpenBLAS sizes its pool when it loads.
    rc = 0
    for t in ARGS.threads:
        argv = [a for a in sys.argv[1:]]
        i = argv.index("--threads") if "--threads" in argv else -1
        if i >= 0:
            argv[i + 1] = str(t)
        else:
            argv = [a if not a.startswith("--threads=") else f"--threads={t}" for a in argv]
        rc |= subprocess.call([sys.executable, os.path.abspath(__file__)] + argv)
    sys.exit(rc)

THREADS = ARGS.threads[0]
os.environ["OPENBLAS_NUM_THREADS"] = str(THREADS)
os.environ["OMP_NUM_THREADS"] = str(THREADS)
# Two thread pools (torch's OpenMP one and OpenBLAS's) share the cores; with
# libgomp's default spin-wait the idle OpenMP threads steal the cores from
# the OpenBLAS threads, which costs 2-3x at 2 threads on a 2-core machine.
# PASSIVE unless the caller chose otherwise (it is reported in the output).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    sys.stderr.write(
        f"sac_update.py: PyTorch is not importable from {sys.executable}.\n"
        "  Install Debian's build:  apt-get install python3-torch libopenblas0-pthread\n"
        "  and run it with that interpreter (/usr/bin/python3) if another python3 shadows it.\n")
    sys.exit(2)
torch.set_num_threads(THREADS)


# ---------------------------------------------------------------- networks

def relu2(x):
    return F.relu(x).square()


class ResMLP(nn.Module):
    """SPEC.md §1: z = LN(relu²(W_in x + b_in));
    per block z = z + LN_b(W_2 LN_a(relu²(W_1 z + b_1)) + b_2); y = W_out z + b_out.
    LayerNorm has a gain and no bias (ε 1e-5); LN_b's gain starts at 1e-5."""

    def __init__(self, n_in, n_out, hidden, depth, out_scale=1.0):
        super().__init__()
        self.h = hidden
        self.inp = nn.Linear(n_in, hidden)  # Kaiming-uniform init like vksac
        self.g_in = nn.Parameter(torch.ones(hidden))
        self.w1 = nn.ModuleList(nn.Linear(hidden, EXPANSION * hidden) for _ in range(depth))
        self.ga = nn.ParameterList(nn.Parameter(torch.ones(EXPANSION * hidden)) for _ in range(depth))
        self.w2 = nn.ModuleList(nn.Linear(EXPANSION * hidden, hidden) for _ in range(depth))
        self.gb = nn.ParameterList(nn.Parameter(torch.full((hidden,), 1e-5)) for _ in range(depth))
        self.out = nn.Linear(hidden, n_out)
        with torch.no_grad():
            self.out.weight.mul_(out_scale)
        self.linears = [self.inp, *self.w1, *self.w2, self.out]

    def forward(self, x):
        z = F.layer_norm(relu2(self.inp(x)), (self.h,), self.g_in, None, 1e-5)
        for w1, ga, w2, gb in zip(self.w1, self.ga, self.w2, self.gb):
            t = F.layer_norm(relu2(w1(z)), (w1.out_features,), ga, None, 1e-5)
            z = z + F.layer_norm(w2(t), (self.h,), gb, None, 1e-5)
        return self.out(z)

    def flops(self, batch):  # F(net) = 2·B·Σ in·out
        return 2 * batch * sum(l.in_features * l.out_features for l in self.linears)


class RSMNorm:
    """Frozen running-statistics normaliser (statistics never update from
    replay batches; SPEC.md §1). One per agent, shared by all networks."""

    def __init__(self, states):
        self.mu = states.mean(0)
        self.inv = 1.0 / states.var(0, unbiased=False).sqrt().clamp_min(1e-5)

    def __call__(self, x):
        return (x - self.mu) * self.inv


# ---------------------------------------------------------------- optimiser

class AdamAtan2:
    """SPEC.md §5, vectorised over the parameter list with torch._foreach_*:
    θ ← θ + lr·λ·(θ₀ − θ);  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²;
    θ ← θ − lr·a·atan2(m/(1−β1ᵗ), b·√(v/(1−β2ᵗ))),  a = 1.27, b = 1, no ε."""

    def __init__(self, params, lr=LR, betas=(0.9, 0.99), a=1.27, b=1.0, regen=REGEN):
        self.p = [p for p in params]
        self.m = [torch.zeros_like(p) for p in self.p]
        self.v = [torch.zeros_like(p) for p in self.p]
        self.p0 = [p.detach().clone() for p in self.p] if regen else None
        self.lr, (self.b1, self.b2), self.a, self.b, self.regen = lr, betas, a, b, regen
        self.t = 0

    def zero_grad(self):
        for p in self.p:
            p.grad = None

    @torch.no_grad()
    def step(self):
        self.t += 1
        g = [p.grad for p in self.p]
        if self.regen:  # θ ← (1 − lr·λ)θ + lr·λ·θ₀
            torch._foreach_mul_(self.p, 1.0 - self.lr * self.regen)
            torch._foreach_add_(self.p, self.p0, alpha=self.lr * self.regen)
        torch._foreach_mul_(self.m, self.b1)
        torch._foreach_add_(self.m, g, alpha=1.0 - self.b1)
        torch._foreach_mul_(self.v, self.b2)
        torch._foreach_addcmul_(self.v, g, g, value=1.0 - self.b2)
        mhat = torch._foreach_div(self.m, 1.0 - self.b1 ** self.t)
        den = torch._foreach_sqrt(torch._foreach_mul(self.v, self.b * self.b / (1.0 - self.b2 ** self.t)))
        upd = [torch.atan2(x, y) for x, y in zip(mhat, den)]  # no _foreach_atan2 in 1.13
        torch._foreach_add_(self.p, upd, alpha=-self.lr * self.a)


def adam_atan2_reference(p, g, m, v, p0, t, lr=LR, b1=0.9, b2=0.99, a=1.27, b=1.0, regen=REGEN):
    """Per-tensor loop, the equations as written (for --check)."""
    p = p + lr * regen * (p0 - p)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    return p - lr * a * torch.atan2(m / (1 - b1 ** t), b * (v / (1 - b2 ** t)).sqrt()), m, v


# ---------------------------------------------------------------- agent

class Peer:
    def __init__(self, name, seed=1):
        S, C, heads, hidden, depth, batch = CONFIGS[name]
        torch.manual_seed(seed)
        self.S, self.C, self.heads, self.B = S, C, heads, batch
        self.sn = sum(heads)
        self.actor = ResMLP(S, self.sn + 2 * C, hidden, depth, out_scale=0.01)
        q_out = (1 if C else 0) + self.sn
        self.critics = [ResMLP(S + C, q_out, hidden, depth) for _ in range(N_CRITICS)]
        self.targets = [ResMLP(S + C, q_out, hidden, depth) for _ in range(N_CRITICS)]
        for tgt, c in zip(self.targets, self.critics):
            tgt.load_state_dict(c.state_dict())
            tgt.requires_grad_(False)
        self.critic_params = [p for c in self.critics for p in c.parameters()]
        self.target_params = [p for c in self.targets for p in c.parameters()]
        self.log_alpha = torch.zeros(1, requires_grad=True)
        self.opt_actor = AdamAtan2(self.actor.parameters())
        self.opt_critic = AdamAtan2(self.critic_params)  # same t for both critics: they step together
        self.opt_alpha = AdamAtan2([self.log_alpha], regen=0.0)
        self.H_c = -float(C)
        self.H_d = [0.98 * math.log(n) for n in heads]

        # Replay buffer already in memory (synthetic transitions).
        g = torch.Generator().manual_seed(seed + 100)
        self.states = torch.randn(REPLAY, S, generator=g) * 2.0 + 0.5
        self.next_states = self.states + 0.1 * torch.randn(REPLAY, S, generator=g)
        self.cont = torch.rand(REPLAY, C, generator=g) * 2 - 1
        self.disc = torch.stack([torch.randint(n, (REPLAY,), generator=g) for n in heads], 1) \
            if heads else torch.zeros(REPLAY, 0, dtype=torch.long)
        self.reward = torch.randn(REPLAY, generator=g)
        self.terminated = (torch.rand(REPLAY, generator=g) < 0.01).float()
        self.norm = RSMNorm(self.states)  # frozen; the same for every network

        self.flops = 4 * self.actor.flops(batch) + 6 * N_CRITICS * self.critics[0].flops(batch)

    # SPEC.md §2 / docs/sac.md "Actor head": [logits (Σn) | μ (C) | raw scale (C)]
    def head(self, h):
        sn, C = self.sn, self.C
        probs, logps, o = [], [], 0
        for n in self.heads:
            lg = h[:, o:o + n]
            logps.append(F.log_softmax(lg, -1))
            probs.append(logps[-1].exp())
            o += n
        if not C:
            return None, None, probs, logps
        mu, raw = h[:, sn:sn + C], h[:, sn + C:]
        log_sigma = raw.clamp(-5.0, 2.0)
        eps = torch.randn_like(mu)
        u = mu + log_sigma.exp() * eps
        a = torch.tanh(u)  # bounds [-1, 1]
        logp = (-0.5 * eps.square() - log_sigma - 0.5 * math.log(2 * math.pi)
                - 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))).sum(-1)
        return a, logp, probs, logps

    def critic_in(self, ns, a):
        return torch.cat([ns, a], 1) if self.C else ns

    def split_q(self, q):  # -> Q_c (B) or None, [Q_i (B × n_i)]
        o = 1 if self.C else 0
        parts = []
        for n in self.heads:
            parts.append(q[:, o:o + n])
            o += n
        return (q[:, 0] if self.C else None), parts

    def update(self):
        # 1. batch from the replay buffer
        idx = torch.randint(REPLAY, (self.B,))
        s, s2 = self.norm(self.states[idx]), self.norm(self.next_states[idx])
        a_c, a_d = self.cont[idx], self.disc[idx]
        r, notdone = self.reward[idx], 1.0 - self.terminated[idx]
        alpha = self.log_alpha.detach().exp()

        # 2. critic step: targets from the current actor at s' and the target critics
        with torch.no_grad():
            a2, logp2, probs2, logps2 = self.head(self.actor(s2))
            x2 = self.critic_in(s2, a2)
            qmin = torch.minimum(*[t(x2) for t in self.targets]) if N_CRITICS == 2 else \
                torch.stack([t(x2) for t in self.targets]).min(0).values
            qc2, qd2 = self.split_q(qmin)
            y_c = r + GAMMA * notdone * (qc2 - alpha * logp2) if self.C else None
            y_d = [r + GAMMA * notdone * (p * (q - alpha * lp)).sum(-1)
                   for p, lp, q in zip(probs2, logps2, qd2)]
        x = self.critic_in(s, a_c)
        critic_loss = 0.0
        for c in self.critics:
            qc, qd = self.split_q(c(x))
            if self.C:
                critic_loss = critic_loss + F.mse_loss(qc, y_c)
            for i, (q, y) in enumerate(zip(qd, y_d)):
                critic_loss = critic_loss + F.mse_loss(q.gather(1, a_d[:, i:i + 1]).squeeze(1), y)
        self.opt_critic.zero_grad()
        critic_loss.backward()
        self.opt_critic.step()

        # 3. actor step, critic parameters frozen (no weight gradients for them)
        for p in self.critic_params:
            p.requires_grad_(False)
        a, logp, probs, logps = self.head(self.actor(s))
        xa = self.critic_in(s, a)
        qmin = torch.minimum(*[c(xa) for c in self.critics]) if N_CRITICS == 2 else \
            torch.stack([c(xa) for c in self.critics]).min(0).values
        qc, qd = self.split_q(qmin)
        actor_loss = (alpha * logp - qc).mean() if self.C else 0.0
        for p, lp, q in zip(probs, logps, qd):
            actor_loss = actor_loss + (p * (alpha * lp - q)).sum(-1).mean()
        self.opt_actor.zero_grad()
        actor_loss.backward()
        self.opt_actor.step()
        for p in self.critic_params:
            p.requires_grad_(True)

        # 4. temperature step: J(α) = −α·mean[bracket], bracket detached
        with torch.no_grad():
            bracket = (logp + self.H_c) if self.C else torch.zeros(self.B)
            for p, lp, h in zip(probs, logps, self.H_d):
                bracket = bracket + (p * (lp + h)).sum(-1)
        alpha_loss = -(self.log_alpha.exp() * bracket.mean()).sum()
        self.opt_alpha.zero_grad()
        alpha_loss.backward()
        self.opt_alpha.step()

        # 5. target EMA: θ̄ ← θ̄ + (1 − β)(θ − θ̄)
        with torch.no_grad():
            torch._foreach_add_(self.target_params,
                                torch._foreach_sub(self.critic_params, self.target_params),
                                alpha=1.0 - BETA_EMA)
        return critic_loss, actor_loss, alpha_loss


# ---------------------------------------------------------------- timing

def time_updates(peer, seconds):
    """Warm-up, then ~`seconds` of updates in windows; median s/update."""
    t_end = time.perf_counter() + max(0.3, 0.1 * seconds)
    n = 0
    while n < 5 or time.perf_counter() < t_end:  # warm-up (allocator, OpenBLAS threads)
        peer.update()
        n += 1
    windows = 7
    per = []
    for _ in range(windows):
        t0 = time.perf_counter()
        k = 0
        while True:
            peer.update()
            k += 1
            t = time.perf_counter() - t0
            if t >= seconds / windows:
                break
        per.append(t / k)
    per.sort()
    return per[len(per) // 2], per


def sgemm_ceiling(m=1024, reps=7):
    a, b = torch.randn(m, m), torch.randn(m, m)
    c = torch.empty(m, m)
    for _ in range(2):
        torch.mm(a, b, out=c)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b, out=c)
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return 2.0 * m ** 3 / ts[len(ts) // 2] / 1e9


def check(name):
    """Not a test: losses finite, α moves, the foreach optimiser agrees with
    the per-tensor equations."""
    peer = Peer(name)
    # optimiser cross-check on the actor, one step, fresh optimiser state
    opt = AdamAtan2(peer.actor.parameters())
    for p in opt.p:
        p.grad = torch.randn_like(p)
    ref = [adam_atan2_reference(p.detach(), p.grad, m, v, p0, 1)[0]
           for p, m, v, p0 in zip(opt.p, opt.m, opt.v, opt.p0)]
    opt.step()
    err = max((p.detach() - r).abs().max().item() for p, r in zip(opt.p, ref))
    peer = Peer(name)
    a0 = peer.log_alpha.exp().item()
    first = None
    for i in range(300):
        cl, al, tl = peer.update()
        vals = (cl.item(), float(al), tl.item())
        if first is None:
            first = vals
        assert all(math.isfinite(v) for v in vals), f"{name}: non-finite loss at update {i}: {vals}"
    a1 = peer.log_alpha.exp().item()
    ema = max((t - c).abs().max().item() for t, c in zip(peer.target_params, peer.critic_params))
    sys.stderr.write(
        f"check {name}: optimiser vs per-tensor max|Δ| {err:.2e}; critic loss {first[0]:.4g} -> {vals[0]:.4g}; "
        f"actor loss {first[1]:.4g} -> {vals[1]:.4g}; α {a0:.6f} -> {a1:.6f}; "
        f"max|θ̄−θ| {ema:.3g}\n")
    assert err < 1e-6 and a1 != a0


def torch_pkg():
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "python3-torch"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


TORCH_PKG = None


def torch_version():
    return torch.__version__


def main():
    global TORCH_PKG
    TORCH_PKG = torch_pkg()
    if ARGS.check:
        for name in ARGS.configs:
            check(name)
        return
    if not ARGS.no_sgemm:
        print(json.dumps({"bench": "sgemm_peer", "threads": THREADS, "m": 1024,
                          "gflops": round(sgemm_ceiling(), 2), "omp_wait_policy": os.environ["OMP_WAIT_POLICY"],
                          "torch": torch_version(), "torch_pkg": TORCH_PKG}), flush=True)
    if ARGS.sgemm_only:
        return
    for name in ARGS.configs:
        peer = Peer(name)
        s, per = time_updates(peer, ARGS.seconds)
        print(json.dumps({"bench": "update_peer", "config": name, "threads": THREADS,
                          "updates_per_s": round(1.0 / s, 2), "ms_per_update": round(1e3 * s, 3),
                          "gflops": round(peer.flops / s / 1e9, 2), "ms_min": round(1e3 * per[0], 3),
                          "flops_per_update": peer.flops, "windows_ms": [round(1e3 * x, 3) for x in per],
                          "omp_wait_policy": os.environ["OMP_WAIT_POLICY"], "torch": torch_version(), "torch_pkg": TORCH_PKG}),
              flush=True)


if __name__ == "__main__":
    main()
