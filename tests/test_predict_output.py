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
examples/angry_actor21_03-01-05-02-01-01-21.wav,,,angry,0.0008,0.0,0.0289,0.007,0.9397,0.0049,0.0101,0.0085,
examples/calm_actor22_03-01-02-02-01-01-22.wav,,,calm,0.0427,0.6797,0.0015,0.217,0.002,0.0017,0.0545,0.0009,
examples/disgust_actor23_03-01-07-02-01-01-23.wav,,,disgust,0.0003,0.0002,0.0009,0.0013,0.0114,0.0012,0.9722,0.0125,
examples/fearful_actor22_03-01-06-02-01-01-22.wav,,,fearful,0.0005,0.0003,0.1329,0.0975,0.0164,0.7228,0.0128,0.0168,
examples/happy_actor23_03-01-03-02-01-01-23.wav,,,surprised,0.0026,0.0,0.2237,0.0027,0.2919,0.0081,0.0004,0.4705,
examples/neutral_actor21_03-01-01-01-01-01-21.wav,,,neutral,0.7452,0.1518,0.0127,0.0551,0.0178,0.0003,0.0138,0.0034,
examples/sad_actor24_03-01-04-02-01-01-24.wav,,,sad,0.0013,0.0024,0.147,0.6179,0.0688,0.0575,0.1043,0.0009,
examples/surprised_actor24_03-01-08-02-01-01-24.wav,,,surprised,0.0001,0.0,0.006,0.0005,0.009,0.0031,0.0138,0.9675,
"""

TABLE = """\
● examples/angry_actor21_03-01-05-02-01-01-21.wav  →  angry
  angry ████████████████████████████··  94.0%
  happy █·····························   2.9%
disgust ······························   1.0%

● examples/happy_actor23_03-01-03-02-01-01-23.wav  →  surprised
surprised ██████████████················  47.0%
    angry █████████·····················  29.2%
    happy ███████·······················  22.4%

2 file(s): 2 with speech, 0 without speech (silence), 0 failed
"""

JSON = """\
[
  {
    "path": "examples/sad_actor24_03-01-04-02-01-01-24.wav",
    "label": "sad",
    "probabilities": {
      "neutral": 0.0013,
      "calm": 0.0024,
      "happy": 0.147,
      "sad": 0.6179,
      "angry": 0.0688,
      "fearful": 0.0575,
      "disgust": 0.1043,
      "surprised": 0.0009
    },
    "duration": 4.404,
    "top": [
      {
        "label": "sad",
        "probability": 0.6179
      },
      {
        "label": "happy",
        "probability": 0.147
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
