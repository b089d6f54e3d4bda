"""ser: speech emotion recognition from the command line.

The package is a library first (``ser_cli.audio``, ``ser_cli.prepare``, ``ser_cli.training``,
``ser_cli.inference`` ...) with a thin Typer CLI on top (``ser_cli.cli``). Importing the
package is cheap: nothing here imports torch.
"""

from ser_cli.__version__ import __version__

__all__ = ["__version__"]
