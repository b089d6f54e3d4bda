"""ser: speech emotion recognition from the command line.

The package is a library first (``ser_cli.audio.io``, ``ser_cli.data.prepare``, ``ser_cli.training.trainer``,
``ser_cli.inference.predictor`` ...) with a thin Typer CLI on top (``ser_cli.cli``). Importing the
package is cheap: nothing here imports torch.
"""

from ser_cli.__version__ import __version__

__all__ = ["__version__"]
