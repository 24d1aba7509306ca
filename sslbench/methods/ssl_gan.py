"""SSL-GAN (Salimans et al., NeurIPS 2016, "Improved techniques for training GANs"): the classifier is a
K+1-class discriminator (the extra 'fake' logit fixed at 0), trained to tell real unlabeled images from
generated ones while classifying labeled ones; the generator is trained by feature matching."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.func import functional_call

from sslbench.data import Batch
from sslbench.methods.common import Clock, Method, Out, cross_entropy, forward_views
from sslbench.models.generator import Generator



class SSLGAN(Method):
    """K+1-class discriminator as classifier, generator trained by feature matching."""

    NAME = "ssl_gan"

    def __init__(self, params, model, data, seed=0):
        super().__init__(params, model, data, seed)
        c, h, _ = data.images.shape[1:]
        self.generator = Generator(c, h, params["z_dim"]).to(data.images.device)
        self.g = torch.Generator(data.images.device).manual_seed(seed + 1)

    def extra_parameters(self):
        return list(self.generator.parameters())

    def losses(self, batch: Batch, clock: Clock) -> Out:
        """supervised + discriminator (real unlabeled vs fake) + generator feature matching."""
        n = max(len(batch.u_idx), 1)
        z = torch.randn(n, self.p["z_dim"], generator=self.g, device=batch.x.device)
        fake = self.data.normalize(self.generator(z))
        (_, lx), (fu, lu), (_, lf) = forward_views(self.model, [batch.x, batch.u_weak, fake.detach()])
        # D(x) = Z / (Z + 1) with Z = sum exp(logits): log D = lse - softplus(lse)
        lse_u, lse_f = lu.float().logsumexp(-1), lf.float().logsumexp(-1)
        d_loss = (F.softplus(lse_u) - lse_u).mean() + F.softplus(lse_f).mean() if len(lu) else lx.sum() * 0
        # the generator's gradient must not train the discriminator: run it with detached weights
        f_fake = self._features_frozen(fake)
        g_loss = (fu.detach().float().mean(0) - f_fake.float().mean(0)).pow(2).mean() if len(fu) else lx.sum() * 0
        return Out({"supervised": cross_entropy(lx, batch.y), "discriminator": d_loss, "generator": g_loss},
                   {"supervised": 1.0, "discriminator": self.p["lambda_unsup"], "generator": self.p["lambda_gen"]})

    def _features_frozen(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features with the discriminator's weights detached, so gradients reach only x."""
        frozen = {k: v.detach() for k, v in self.model.body.named_parameters()}
        return functional_call(self.model.body, frozen, (x,), strict=False)

    def state_dict(self):
        return {"generator": self.generator.state_dict(), "g": self.g.get_state()}

    def load_state_dict(self, state):
        self.generator.load_state_dict(state["generator"])
        self.g.set_state(state["g"].cpu())
