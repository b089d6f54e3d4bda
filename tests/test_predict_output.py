"""Exact output of `ser predict` on the example clips, in every format a user reads
(simonw/llm style: the whole text, so any change to what users see shows up here).

The bundled model on the RAVDESS clips in examples/ (actors it never heard). A change to the
model or to the inference path changes these numbers on purpose: regenerate them with the
commands in each test and check the difference is the one intended.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from ser_cli.cli import app

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.vad  # the real speech check, as users run it

CSV = """\
path,start,end,label,neutral,calm,happy,sad,angry,fearful,disgust,surprised,error
examples/angry_actor21_03-01-05-02-01-01-21.wav,,,angry,0.0037,0.0003,0.2455,0.004,0.6864,0.0129,0.0339,0.0133,
examples/calm_actor22_03-01-02-02-01-01-22.wav,,,calm,0.0394,0.9138,0.0008,0.0426,0.0006,0.0006,0.0021,0.0001,
examples/disgust_actor23_03-01-07-02-01-01-23.wav,,,disgust,0.0002,0.0006,0.0006,0.0008,0.0076,0.0004,0.9769,0.0128,
examples/fearful_actor22_03-01-06-02-01-01-22.wav,,,fearful,0.0007,0.0002,0.012,0.223,0.0028,0.759,0.0017,0.0006,
examples/happy_actor23_03-01-03-02-01-01-23.wav,,,surprised,0.0028,0.0,0.053,0.0007,0.0881,0.0237,0.0012,0.8303,
examples/neutral_actor21_03-01-01-01-01-01-21.wav,,,neutral,0.7081,0.1224,0.0133,0.105,0.0183,0.0066,0.013,0.0134,
examples/sad_actor24_03-01-04-02-01-01-24.wav,,,sad,0.0076,0.0083,0.1546,0.5545,0.0962,0.1075,0.0696,0.0016,
examples/surprised_actor24_03-01-08-02-01-01-24.wav,,,surprised,0.0019,0.0002,0.0066,0.0005,0.0058,0.003,0.0033,0.9787,
"""

TABLE = """\
● examples/angry_actor21_03-01-05-02-01-01-21.wav  →  angry
  angry █████████████████████·········  68.6%
  happy ███████·······················  24.6%
disgust █·····························   3.4%

● examples/happy_actor23_03-01-03-02-01-01-23.wav  →  surprised
surprised █████████████████████████·····  83.0%
    angry ███···························   8.8%
    happy ██····························   5.3%

2 file(s): 2 with speech, 0 without speech (silence), 0 failed
"""

JSON = """\
[
  {
    "path": "examples/sad_actor24_03-01-04-02-01-01-24.wav",
    "label": "sad",
    "probabilities": {
      "neutral": 0.0076,
      "calm": 0.0083,
      "happy": 0.1546,
      "sad": 0.5545,
      "angry": 0.0962,
      "fearful": 0.1075,
      "disgust": 0.0696,
      "surprised": 0.0016
    },
    "duration": 4.404,
    "top": [
      {
        "label": "sad",
        "probability": 0.5545
      },
      {
        "label": "happy",
        "probability": 0.1546
      }
    ]
  }
]
"""


@pytest.fixture(autouse=True)
def in_the_project(monkeypatch):
    monkeypatch.chdir(ROOT)  # paths in the output as a user in the project types them


def _predict(*args: str) -> str:
    result = CliRunner().invoke(app, ["predict", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_csv_of_every_example():
    # ser predict examples/ --format csv
    assert _predict("examples/", "--format", "csv") == CSV


def test_table_of_two_examples():
    # ser predict examples/angry_... examples/happy_... --top-k 3
    angry = "examples/angry_actor21_03-01-05-02-01-01-21.wav"
    happy = "examples/happy_actor23_03-01-03-02-01-01-23.wav"
    assert _predict(angry, happy, "--top-k", "3") == TABLE


def test_json_of_one_example():
    # ser predict examples/sad_... --format json --top-k 2
    sad = "examples/sad_actor24_03-01-04-02-01-01-24.wav"
    assert _predict(sad, "--format", "json", "--top-k", "2") == JSON
