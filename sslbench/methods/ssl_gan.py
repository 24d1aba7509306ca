"""SSL-GAN (Salimans et al., NeurIPS 2016, "Improved techniques for training GANs"): the classifier is a
K+1-class discriminator with the fake logit fixed at 0 (so D(x) = Z / (Z + 1), Z = sum_k exp l_k), trained
to classify labeled images and to tell real unlabeled images from generated ones; the generator is trained
by feature matching on the discriminator's penultimate layer, with its own Adam (beta1 0.5, the paper's), whatever
optimiser trains the classifier: on the run's SGD the feature-matching loss ran away within 40 steps.

Generated images never share batch-norm statistics with real ones: they go through the network with its
batch norm frozen (running statistics, left unchanged), and the paper's own discriminator (`mlp_wn`,
weight norm and Gaussian noise, the `mnist-ssl-gan` preset) has no batch norm at all."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, cross_entropy, forward_views, frozen_batchnorm
from sslbench.models.generator import Generator


class SSLGAN(Method):
    """K+1-class discriminator as classifier, generator trained by feature matching."""

    NAME = "ssl_gan"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        c, h, _ = data.images.shape[1:]
        self.generator = Generator(c, h, params["z_dim"]).to(data.images.device)
        self.g = torch.Generator(data.images.device).manual_seed(seed + 1)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=params["gen_lr"], betas=(0.5, 0.999))

    def after_step(self, clock: Clock) -> None:
        """The generator's own step, on the feature-matching gradient the engine's backward left on it."""
        self.g_opt.step()
        self.g_opt.zero_grad(set_to_none=True)

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + discriminator (real unlabeled vs fake) + generator feature matching."""
        n = max(len(batch.u_idx), 1)
        z = torch.rand(n, self.p["z_dim"], generator=self.g, device=batch.x.device)  # uniform, as the reference code
        fake = self.data.normalize(self.generator(z))
        (_, lx), (fu, lu) = forward_views(self.model, [batch.x, batch.u_weak])  # real images only
        with frozen_batchnorm(self.model):
            lf = self.model(fake.detach())  # trains D only
            f_fake = self._features_frozen(fake)  # trains G only
        if len(lu):
            # log D(x) = lse - softplus(lse); log(1 - D(G(z))) = -softplus(lse_fake)
            lse_u, lse_f = lu.float().logsumexp(-1), lf.float().logsumexp(-1)
            d_loss = (F.softplus(lse_u) - lse_u).mean() + F.softplus(lse_f).mean()
            gap = fu.detach().float().mean(0) - f_fake.float().mean(0)
            g_loss = gap.abs().mean() if self.p["matching"] == "abs" else gap.pow(2).mean()
        else:
            d_loss = g_loss = lx.sum() * 0.0
        return Out({"supervised": cross_entropy(lx, batch.y), "discriminator": d_loss, "generator": g_loss},
                   {"supervised": 1.0, "discriminator": self.p["lambda_unsup"], "generator": self.p["lambda_gen"]})

    def _features_frozen(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features with the discriminator's weights detached, so gradients reach only x."""
        params = {k: v.detach() for k, v in self.model.body.named_parameters()}
        buffers = dict(self.model.body.named_buffers())
        return functional_call(self.model.body, {**params, **buffers}, (x,), strict=False)

    def state_dict(self):
        return {"generator": self.generator.state_dict(), "g_opt": self.g_opt.state_dict(), "g": self.g.get_state()}

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.g_opt.load_state_dict(state["g_opt"])
        self.g.set_state(state["g"].cpu())
