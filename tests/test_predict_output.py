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
examples/angry_actor21_03-01-05-02-01-01-21.wav,,,angry,0.0009,0.0,0.03,0.0014,0.9475,0.0041,0.0029,0.0132,
examples/calm_actor22_03-01-02-02-01-01-22.wav,,,calm,0.0115,0.7831,0.0007,0.19,0.0002,0.0021,0.0122,0.0003,
examples/disgust_actor23_03-01-07-02-01-01-23.wav,,,disgust,0.0006,0.0007,0.0006,0.0012,0.0116,0.0011,0.9548,0.0293,
examples/fearful_actor22_03-01-06-02-01-01-22.wav,,,fearful,0.0007,0.0006,0.1266,0.0571,0.0068,0.7144,0.0085,0.0853,
examples/happy_actor23_03-01-03-02-01-01-23.wav,,,surprised,0.0004,0.0,0.0715,0.0002,0.055,0.0029,0.0001,0.87,
examples/neutral_actor21_03-01-01-01-01-01-21.wav,,,neutral,0.7593,0.1947,0.0071,0.0108,0.0144,0.0003,0.011,0.0025,
examples/sad_actor24_03-01-04-02-01-01-24.wav,,,sad,0.0006,0.0034,0.1591,0.5794,0.0813,0.0876,0.0834,0.0053,
examples/surprised_actor24_03-01-08-02-01-01-24.wav,,,surprised,0.0001,0.0,0.0042,0.0001,0.0033,0.0004,0.0024,0.9897,
"""

TABLE = """\
● examples/angry_actor21_03-01-05-02-01-01-21.wav  →  angry
    angry ████████████████████████████··  94.8%
    happy █·····························   3.0%
surprised ······························   1.3%

● examples/happy_actor23_03-01-03-02-01-01-23.wav  →  surprised
surprised ██████████████████████████····  87.0%
    happy ██····························   7.1%
    angry ██····························   5.5%

2 file(s): 2 with speech, 0 without speech (silence), 0 failed
"""

JSON = """\
[
  {
    "path": "examples/sad_actor24_03-01-04-02-01-01-24.wav",
    "label": "sad",
    "probabilities": {
      "neutral": 0.0006,
      "calm": 0.0034,
      "happy": 0.1591,
      "sad": 0.5794,
      "angry": 0.0813,
      "fearful": 0.0876,
      "disgust": 0.0834,
      "surprised": 0.0053
    },
    "duration": 4.404,
    "top": [
      {
        "label": "sad",
        "probability": 0.5794
      },
      {
        "label": "happy",
        "probability": 0.1591
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
