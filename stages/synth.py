"""DVC stage `synth`: render the embedded multi-stem corpus."""

from apollo.config import load_params
from apollo.data.synth import synthesize
from apollo.errors import run_command


def main() -> None:
    summary = synthesize(load_params().synth)
    print("16-18 kHz level per stem (dB re full band):", summary["hf_16_18k_db_mean"])


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
