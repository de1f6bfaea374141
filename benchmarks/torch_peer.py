"""A plain PyTorch peer of the paper's MNIST GAN, for side-by-side comparisons.

It imports only `torch` and `numpy` (nothing of gan_keras), so it runs in a
venv of its own (`benchmarks/torch_peer_requirements.txt`; the benchmarks
that call it, `torch_ratio` and `peer_lag`, make that venv). It is the
straightforward PyTorch loop an experienced user would write for the
released configuration (`../shared/docs/paper-reference.md`):

- G: 100 -> 1200 ReLU -> 1200 ReLU -> 784 sigmoid, weights U(-0.05, 0.05),
  output bias the logit of the pixel mean; D: maxout 240x5, maxout 240x5,
  linear, weights U(-0.005, 0.005), dropout 0.2 / 0.5 / 0.5 on the inputs;
- `simultaneous` (the released cost: one D pass on [real; G(z)], both
  gradients at the same weights) or `alternating` (Algorithm 1, k D steps,
  then a G step on fresh noise);
- classic-momentum SGD, lr 0.1 / 1.000004^t (floor 1e-6), momentum 0.5 -> 0.7
  linearly per epoch over 250 epochs.

Three commands, each printing one JSON line:

    python benchmarks/torch_peer.py speed --update=simultaneous --steps=200 --repeats=3
    python benchmarks/torch_peer.py matmuls --matmuls='[[[100, 100], [100, 1200], false, false]]'
    python benchmarks/torch_peer.py train --images=train.npy --epochs=10 --seed=1 \\
        --samples_at=10 --out_dir=DIR

`speed` times whole epochs of `--steps` steps on random minibatches after a
warm-up epoch; `train` trains on the uint8 images of `--images` ([N, 784])
and writes 10,000 samples as `DIR/samples_epoch{E}.npy` at each epoch of
`--samples_at`, and the epoch means of the losses as `DIR/log.json`;
`matmuls` times only a step's matmuls (the list `benchmarks/matmul_floor.py`
takes from gan_keras's graph), so both sides' matmul kernels can be compared.
"""

import argparse
import json
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

LATENT = 100
PIXELS = 784


class Maxout(nn.Module):
    def __init__(self, inputs, units, pieces):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(inputs, units * pieces)

    def forward(self, x):
        return self.linear(x).view(-1, self.units, self.pieces).amax(dim=2)


def generator(pixel_mean):
    g = nn.Sequential(nn.Linear(LATENT, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, PIXELS))
    for layer in g:
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -0.05, 0.05)
            nn.init.zeros_(layer.bias)
    p = np.clip(pixel_mean, 1e-7, 1 - 1e-7)
    with torch.no_grad():
        g[-1].bias.copy_(torch.as_tensor(np.log(p / (1 - p)), dtype=torch.float32))
    return g


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.h0, self.h1, self.out = Maxout(PIXELS, 240, 5), Maxout(240, 240, 5), nn.Linear(240, 1)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.uniform_(p, -0.005, 0.005)
            else:
                nn.init.zeros_(p)

    def forward(self, x):
        x = self.h0(F.dropout(x, 0.2, self.training))
        x = self.h1(F.dropout(x, 0.5, self.training))
        return self.out(F.dropout(x, 0.5, self.training))


class PaperSGD:
    """Classic momentum (v = mu v - lr g; w += v) with the released schedules."""

    def __init__(self, params, steps_per_epoch):
        self.params = list(params)
        self.velocity = [torch.zeros_like(p) for p in self.params]
        self.steps_per_epoch, self.t = steps_per_epoch, 0

    @torch.no_grad()
    def step(self, grads):
        lr = max(0.1 * math.exp(-self.t * math.log(1.000004)), 1e-6)
        epoch = self.t // self.steps_per_epoch
        mu = 0.5 + 0.2 * min(epoch / 249.0, 1.0)
        for p, v, g in zip(self.params, self.velocity, grads):
            v.mul_(mu).sub_(g, alpha=lr)
            p.add_(v)
        self.t += 1


def noise(batch, generator_=None):
    return (torch.rand(batch, LATENT, generator=generator_) * 2 - 1) * math.sqrt(3.0)


def bce(logits, target):
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target))


class Peer:
    def __init__(self, pixel_mean, update, k, batch_size, steps_per_epoch):
        self.g, self.d = generator(pixel_mean), Discriminator()
        self.update, self.k, self.batch = update, k, batch_size
        self.g_opt = PaperSGD(self.g.parameters(), steps_per_epoch)
        self.d_opt = PaperSGD(self.d.parameters(), steps_per_epoch * (k if update == "alternating" else 1))

    def step(self, real_batches):
        """One GAN step on `k` (alternating) or 1 (simultaneous) real minibatches; returns (d_obj, g_obj)."""
        if self.update == "simultaneous":
            x = real_batches[0]
            fake = self.g(noise(len(x))).sigmoid()
            logits = self.d(torch.cat([x, fake]))
            real, fake_logits = logits[: len(x)], logits[len(x) :]
            d_obj = 0.5 * (bce(real, 1.0) + bce(fake_logits, 0.0))
            g_obj = bce(fake_logits, 1.0)
            d_grads = torch.autograd.grad(d_obj, self.d_opt.params, retain_graph=True)
            g_grads = torch.autograd.grad(g_obj, self.g_opt.params)
            self.d_opt.step(d_grads)
            self.g_opt.step(g_grads)
            return d_obj.item(), g_obj.item()
        for x in real_batches:
            with torch.no_grad():
                fake = self.g(noise(len(x))).sigmoid()
            logits = self.d(torch.cat([x, fake]))
            d_obj = 0.5 * (bce(logits[: len(x)], 1.0) + bce(logits[len(x) :], 0.0))
            self.d_opt.step(torch.autograd.grad(d_obj, self.d_opt.params))
        g_obj = bce(self.d(self.g(noise(self.batch)).sigmoid()), 1.0)
        self.g_opt.step(torch.autograd.grad(g_obj, self.g_opt.params))
        return d_obj.item(), g_obj.item()

    @torch.no_grad()
    def samples(self, n, seed):
        self.g.eval()
        out = self.g(noise(n, torch.Generator().manual_seed(seed))).sigmoid().numpy()
        self.g.train()
        return out


def speed(args):
    torch.manual_seed(0)
    steps = args.steps
    data = torch.rand(steps * args.k, args.batch_size, PIXELS)
    peer = Peer(np.full(PIXELS, 0.13), args.update, args.k, args.batch_size, steps)
    seconds = []
    for epoch in range(1 + args.repeats):
        start = time.perf_counter()
        for s in range(steps):
            peer.step(data[s * args.k : (s + 1) * args.k])
        if epoch:
            seconds.append(time.perf_counter() - start)
    return {"steps_per_second": [steps / s for s in seconds]}


def matmuls(args):
    """Steps/s of only the matmuls of a step (`--matmuls`: JSON `[[shape_a, shape_b, transpose_a, transpose_b], ...]`)."""
    torch.manual_seed(0)
    inputs = [(torch.randn(a), torch.randn(b), ta, tb) for a, b, ta, tb in json.loads(args.matmuls)]

    def step():
        return [(a.mT if ta else a) @ (b.mT if tb else b) for a, b, ta, tb in inputs]

    step()
    rates = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        rates.append(args.steps / (time.perf_counter() - start))
    return {"steps_per_second": rates}


def train(args):
    torch.manual_seed(args.seed)
    images = np.load(args.images).reshape(-1, PIXELS)
    data = torch.as_tensor(images, dtype=torch.float32) / 255.0
    steps = len(data) // (args.batch_size * args.k)
    peer = Peer(data.mean(0).numpy(), args.update, args.k, args.batch_size, steps)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)
    log = []
    for epoch in range(1, args.epochs + 1):
        order = torch.as_tensor(rng.permutation(len(data)))
        start, d_sum, g_sum = time.perf_counter(), 0.0, 0.0
        for s in range(steps):
            idx = order[s * args.batch_size * args.k : (s + 1) * args.batch_size * args.k]
            d_obj, g_obj = peer.step(data[idx].view(args.k, args.batch_size, PIXELS))
            d_sum, g_sum = d_sum + d_obj, g_sum + g_obj
        log.append({"epoch": epoch, "d_obj": d_sum / steps, "g_obj": g_sum / steps,
                    "seconds": time.perf_counter() - start})
        print(json.dumps(log[-1]), flush=True)
        if epoch in args.samples_at:
            np.save(os.path.join(args.out_dir, f"samples_epoch{epoch}.npy"), peer.samples(10000, args.seed))
    with open(os.path.join(args.out_dir, "log.json"), "w") as f:
        json.dump({"epochs": log, "torch": torch.__version__, "threads": torch.get_num_threads()}, f)
    return {"epochs": len(log)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["speed", "matmuls", "train"])
    parser.add_argument("--update", choices=["simultaneous", "alternating"], default="simultaneous")
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--steps", type=int, default=200, help="speed: steps per timed epoch")
    parser.add_argument("--repeats", type=int, default=3, help="speed: timed epochs after a warm-up epoch")
    parser.add_argument("--images", help="train: .npy of uint8 images [N, 784]")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples_at", type=lambda s: [int(e) for e in s.split(",")], default=[10])
    parser.add_argument("--out_dir")
    parser.add_argument("--matmuls", help="matmuls: the step's matmuls, as benchmarks/matmul_floor.py lists them (JSON)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.command == "train" and not (args.images and args.out_dir):
        parser.error("train needs --images and --out_dir")
    if args.command == "matmuls" and not args.matmuls:
        parser.error("matmuls needs --matmuls")
    result = {"speed": speed, "matmuls": matmuls, "train": train}[args.command](args)
    print(json.dumps({"command": args.command, "threads": torch.get_num_threads(), **result}), flush=True)


if __name__ == "__main__":
    main()
