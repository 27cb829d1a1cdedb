#!/usr/bin/env python3
"""Time the training loops of `make bench-torch` in PyTorch on one thread.

Every case is timed twice, with the optimizers' two implementations:
"forloop", torch.optim's default on the CPU in PyTorch 1.13 (a Python loop
over the parameters, a few tensor ops each), and "foreach"
(`foreach=True`: the multi-tensor ops, fewer dispatches). Prints one line
per case and setting, "SETTING:case seconds", for scripts/bench_torch.sh to
set against prunebench's own timings measured in the same run; it runs this
script once per round, between prunebench's runs, and keeps the minimum.
Within a run the two settings alternate per case, each on a fresh model
with the same seed. The models mirror prunebench's zoo (nn/zoo/*.go):
LeNet-300-100, LeNet-5-Caffe with a ReLU after each conv and after fc3, and
the option-A CIFAR ResNet-20.
"""
import argparse
import gzip
import os
import struct
import sys
import time

import torch
import torch.nn as tnn
import torch.nn.functional as F


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def lenet300():
    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 300), tnn.ReLU(),
                          tnn.Linear(300, 100), tnn.ReLU(), tnn.Linear(100, 10))


def lenet5(c=3, hw=32):
    s = ((hw - 4) // 2 - 4) // 2
    return tnn.Sequential(tnn.Conv2d(c, 20, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Conv2d(20, 50, 5), tnn.ReLU(), tnn.MaxPool2d(2),
                          tnn.Flatten(), tnn.Linear(50 * s * s, 500), tnn.ReLU(),
                          tnn.Linear(500, 10))


class Block(tnn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.pad = cout - cin
        self.stride = stride

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x
        if self.stride != 1 or self.pad:
            sc = x[:, :, ::self.stride, ::self.stride]
            sc = F.pad(sc, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))
        return F.relu(out + sc)


class ResNet20(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                layers.append(Block(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = tnn.Sequential(*layers)
        self.fc = tnn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def train(model, opt, xs, ys, batch, steps):
    model.train()
    n = xs.shape[0]
    t0 = time.perf_counter()
    for it in range(steps):
        i = (it * batch) % n
        x, y = xs[i:i + batch], ys[i:i + batch]
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


SETTINGS = (("forloop", False), ("foreach", True))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mnist", required=True, help="directory with train-*-idx*-ubyte.gz")
    ap.add_argument("--conv-steps", type=int, default=30)
    a = ap.parse_args()
    torch.set_num_threads(1)

    imgs = read_idx(os.path.join(a.mnist, "train-images-idx3-ubyte.gz"))[:55000]
    labels = read_idx(os.path.join(a.mnist, "train-labels-idx1-ubyte.gz"))[:55000].long()
    x = ((imgs.float() / 255 - 0.1307) / 0.3081).unsqueeze(1)
    steps = (55000 + 59) // 60
    for setting, foreach in SETTINGS:
        torch.manual_seed(0)
        m = lenet300()
        opt = torch.optim.Adam(m.parameters(), 1.2e-3, foreach=foreach)
        print("%s:lenet-300-100-epoch %.3f" % (setting, train(m, opt, x, labels, 60, steps)))
        sys.stdout.flush()

    g = torch.Generator().manual_seed(1)
    cx = torch.randn(1024, 3, 32, 32, generator=g)
    cy = torch.randint(0, 10, (1024,), generator=g)
    for name, build in (("lenet5", lenet5), ("resnet20", ResNet20)):
        for setting, foreach in SETTINGS:
            torch.manual_seed(0)
            model = build()
            opt = torch.optim.SGD(model.parameters(), 0.01, momentum=0.9, foreach=foreach)
            train(model, opt, cx, cy, 128, 2)  # warm up allocator and kernels
            print("%s:%s-%dsteps %.3f" % (setting, name, a.conv_steps, train(model, opt, cx, cy, 128, a.conv_steps)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
