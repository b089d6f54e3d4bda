"""The registry's `ssl` model: a head on a pretrained speech encoder's hidden states.

With ``finetune: none`` the encoder stays frozen and its cached hidden states feed
:class:`~ser_cli.models.ssl_head.SSLHead`; otherwise encoder and head train together on
waveforms (:class:`~ser_cli.models.ssl_finetune.SSLFineTune`).
"""

from __future__ import annotations

from torch import nn

from ser_cli.models.ssl_finetune import SSLFineTune
from ser_cli.models.ssl_head import SSLHead, SSLHeadConfig

__all__ = ["SSLHeadConfig", "build_ssl_model"]


def build_ssl_model(cfg: SSLHeadConfig) -> nn.Module:
    """The registry's builder: the head alone (frozen encoder, cached features) or, when
    ``cfg.finetune`` trains encoder weights, encoder + head on waveforms."""
    if cfg.finetune == "none":
        return SSLHead(cfg)
    return SSLFineTune(cfg)
