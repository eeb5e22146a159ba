"""DVC stage `synth`: render the embedded multi-stem corpus."""

from apollo.config import load_params
from apollo.data.synth import synthesize

if __name__ == "__main__":
    summary = synthesize(load_params().synth)
    print("16-18 kHz level per stem (dB re full band):", summary["hf_16_18k_db_mean"])
