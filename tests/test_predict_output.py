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
examples/angry_actor21_03-01-05-02-01-01-21.wav,,,angry,0.0043,0.001,0.0535,0.0088,0.8103,0.0107,0.0452,0.0663,
examples/calm_actor22_03-01-02-02-01-01-22.wav,,,calm,0.0068,0.8173,0.0013,0.0938,0.0012,0.0065,0.0695,0.0035,
examples/disgust_actor23_03-01-07-02-01-01-23.wav,,,disgust,0.0015,0.001,0.0011,0.0018,0.0138,0.0009,0.9247,0.0553,
examples/fearful_actor22_03-01-06-02-01-01-22.wav,,,fearful,0.0037,0.0105,0.2048,0.2336,0.0529,0.3227,0.062,0.1097,
examples/happy_actor23_03-01-03-02-01-01-23.wav,,,surprised,0.0046,0.0021,0.1566,0.0038,0.1537,0.0157,0.0024,0.6612,
examples/neutral_actor21_03-01-01-01-01-01-21.wav,,,calm,0.306,0.4483,0.0214,0.0557,0.0343,0.0032,0.0833,0.0479,
examples/sad_actor24_03-01-04-02-01-01-24.wav,,,sad,0.0031,0.0182,0.1322,0.4335,0.0653,0.0599,0.2765,0.0114,
examples/surprised_actor24_03-01-08-02-01-01-24.wav,,,surprised,0.0002,0.0007,0.0046,0.001,0.0209,0.0022,0.0408,0.9295,
"""

TABLE = """\
● examples/angry_actor21_03-01-05-02-01-01-21.wav  →  angry
    angry ████████████████████████······  81.0%
surprised ██····························   6.6%
    happy ██····························   5.3%

● examples/happy_actor23_03-01-03-02-01-01-23.wav  →  surprised
surprised ████████████████████··········  66.1%
    happy █████·························  15.7%
    angry █████·························  15.4%

2 file(s): 2 with speech, 0 without speech (silence), 0 failed
"""

JSON = """\
[
  {
    "path": "examples/sad_actor24_03-01-04-02-01-01-24.wav",
    "label": "sad",
    "probabilities": {
      "neutral": 0.0031,
      "calm": 0.0182,
      "happy": 0.1322,
      "sad": 0.4335,
      "angry": 0.0653,
      "fearful": 0.0599,
      "disgust": 0.2765,
      "surprised": 0.0114
    },
    "duration": 4.404,
    "top": [
      {
        "label": "sad",
        "probability": 0.4335
      },
      {
        "label": "disgust",
        "probability": 0.2765
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
