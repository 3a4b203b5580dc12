"""
PyTorch replica of the density counter's training recipe (pipeline/counting/density-train.ts), for
exploring recipe changes quickly: the same 16-32-64 network, 64-px crops with flips and transposes,
Gaussian-dot targets (sigma 2, x100), MSE + 0.01 x squared crop-count error, Adam with a tenfold drop
for the last quarter. Five N=32 draws from VGG 001-070, validated on 071-100. Research tool only: the
product trains with tfjs (wsi count train); figures from here are labelled "replica" in bench/count.md.

  /usr/bin/python3 bench/vgg-density-replica.py THREADS [--norm image|dataset|fixed] [--steps N]
      [--calib 0|1|2] [--cw W] [--crop S --batch B] [--ch 16,32,64] [--seeds 1,2,3,4,5]

--calib 1: count = a * sum + b fitted on the training images; 2: gain only.
"""
import os, sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
import argparse
ap = argparse.ArgumentParser()
ap.add_argument('threads', type=int)
ap.add_argument('--norm', default='image')  # image | fixed | dataset
ap.add_argument('--steps', type=int, default=1200)
ap.add_argument('--crop', type=int, default=64)
ap.add_argument('--batch', type=int, default=8)
ap.add_argument('--lr', type=float, default=2e-3)
ap.add_argument('--ch', default='16,32,64')
ap.add_argument('--cw', type=float, default=0.01)
ap.add_argument('--sigma', type=float, default=2)
ap.add_argument('--seeds', default='1,2,3,4,5')
ap.add_argument('--calib', type=int, default=0)
ap.add_argument('--bn', type=int, default=0)
a = ap.parse_args()
torch.set_num_threads(a.threads)
D = os.path.join(os.path.dirname(os.path.abspath(__file__)), '../../shared/data/counting/vgg-cells/')
imgs, dots = [], []
for i in range(1, 101):
    im = np.array(Image.open(D + '%03dcell.png' % i))[..., :3].astype(np.float32)
    d = np.array(Image.open(D + '%03ddots.png' % i))[..., 0] > 0
    imgs.append(im); dots.append(np.argwhere(d))
def dmap(pts, h, w, s):
    out = np.zeros((h, w), np.float32); r = int(np.ceil(3 * s)); k = np.exp(-0.5 * (np.arange(-r, r + 1) ** 2) / s / s)
    for (y, x) in pts:
        y0, y1, x0, x1 = max(0, y - r), min(h - 1, y + r), max(0, x - r), min(w - 1, x + r)
        g = np.outer(k[y0 - y + r:y1 - y + r + 1], k[x0 - x + r:x1 - x + r + 1]); out[y0:y1 + 1, x0:x1 + 1] += g / g.sum()
    return out
dens = [dmap(p, 256, 256, a.sigma) for p in dots]
counts = np.array([len(p) for p in dots])
def norm(im, stats):
    if a.norm == 'image':
        m = im.mean((0, 1)); s = im.std((0, 1)); s[s == 0] = 1; return (im - m) / s
    if a.norm == 'fixed':
        return im / 255.0 * 4 - 1
    m, s = stats; return (im - m) / s
c1, c2, c3 = map(int, a.ch.split(','))
class Net(nn.Module):
    def __init__(s):
        super().__init__()
        def cv(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), *( [nn.BatchNorm2d(o)] if a.bn else []), nn.ReLU())
        s.e1, s.e2, s.e3, s.d2, s.d1 = cv(3, c1), cv(c1, c2), cv(c2, c3), cv(c3, c2), cv(c2, c1)
        s.out = nn.Conv2d(c1, 1, 1)
    def forward(s, x):
        x = s.e1(x); x = F.max_pool2d(x, 2); x = s.e2(x); x = F.max_pool2d(x, 2); x = s.e3(x)
        x = F.interpolate(x, scale_factor=2); x = s.d2(x); x = F.interpolate(x, scale_factor=2); x = s.d1(x); return s.out(x)
res = []
for seed in map(int, a.seeds.split(',')):
    rng = np.random.default_rng(seed); torch.manual_seed(seed)
    tr = rng.choice(70, 32, replace=False); va = np.arange(70, 100)
    allpix = np.concatenate([imgs[i].reshape(-1, 3) for i in tr]); stats = (allpix.mean(0), np.maximum(allpix.std(0), 1))
    X = [torch.tensor(norm(im, stats)).permute(2, 0, 1) for im in imgs]; Y = [torch.tensor(d * 100)[None] for d in dens]
    net = Net(); opt = torch.optim.Adam(net.parameters(), a.lr); S = a.crop; t0 = time.time()
    for step in range(1, a.steps + 1):
        if step == int(a.steps * 0.75):
            for g in opt.param_groups: g['lr'] = a.lr / 10
        xb, yb = [], []
        for b in range(a.batch):
            i = tr[rng.integers(32)]; ox, oy = rng.integers(256 - S + 1), rng.integers(256 - S + 1)
            x = X[i][:, oy:oy + S, ox:ox + S]; y = Y[i][:, oy:oy + S, ox:ox + S]
            if rng.random() < .5: x, y = x.flip(2), y.flip(2)
            if rng.random() < .5: x, y = x.flip(1), y.flip(1)
            if rng.random() < .5: x, y = x.transpose(1, 2), y.transpose(1, 2)
            xb.append(x); yb.append(y)
        xb = torch.stack(xb); yb = torch.stack(yb)
        p = net(xb); loss = F.mse_loss(p, yb) + a.cw * (((p.sum((1, 2, 3)) - yb.sum((1, 2, 3))) / 100) ** 2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
    net.eval()
    with torch.no_grad():
        pr = np.array([net(X[i][None]).sum().item() / 100 for i in range(100)])
    if a.calib == 2:
        k = (pr[tr] @ counts[tr]) / (pr[tr] @ pr[tr]); pv = pr[va] * k
    elif a.calib:
        A = np.vstack([pr[tr], np.ones(32)]).T; coef = np.linalg.lstsq(A, counts[tr], rcond=None)[0]; pv = pr[va] * coef[0] + coef[1]
    else: pv = pr[va]
    mae = np.abs(pv - counts[va]).mean(); tmae = np.abs(pr[tr] - counts[tr]).mean()
    res.append(mae); print(f'seed {seed}: val MAE {mae:.2f} train MAE {tmae:.2f} bias {np.mean(pv - counts[va]):+.2f} ({time.time() - t0:.0f}s)', flush=True)
print(f'{vars(a)} => {np.mean(res):.2f} ± {np.std(res, ddof=1):.2f}')
