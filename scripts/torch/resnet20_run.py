#!/usr/bin/env python3
"""One short ResNet-20 training run in PyTorch, the peer of one unit of
scripts/torch/gpu_check.sh's sweep: synthetic CIFAR-shaped data drawn from
the seed, batch 128, SGD with momentum 0.9 and weight decay 1e-4 (torch.optim's
default implementation on CUDA, the multi-tensor foreach one), STEPS
iterations, then one pass over the test examples. gpu_check.sh starts one
process per run, one after another, and times the whole: process start,
CUDA initialization and all.

usage: resnet20_run.py DEVICE STEPS SEED
"""
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, "scripts")
from bench_torch import ResNet20  # noqa: E402


def main():
    dev, steps, seed = torch.device(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    torch.manual_seed(seed)
    m = ResNet20().to(dev)
    opt = torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    train_x = torch.randn(1280, 3, 32, 32, device=dev)
    train_y = torch.randint(0, 10, (1280,), device=dev)
    test_x = torch.randn(256, 3, 32, 32, device=dev)
    test_y = torch.randint(0, 10, (256,), device=dev)
    m.train()
    for it in range(steps):
        i = (it * 128) % 1280
        opt.zero_grad()
        loss = F.cross_entropy(m(train_x[i:i + 128]), train_y[i:i + 128])
        loss.backward()
        opt.step()
    m.eval()
    with torch.no_grad():
        acc = (m(test_x).argmax(1) == test_y).float().mean().item()
    print("loss %.4f test acc %.4f" % (loss.item(), acc))


if __name__ == "__main__":
    main()
