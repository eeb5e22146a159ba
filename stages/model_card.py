"""DVC stage `model_card`: summarise the generator configured in params.yaml."""

from apollo.config import load_params
from apollo.errors import run_command
from apollo.model_card import write_model_card


def main() -> None:
    params = load_params()
    card = write_model_card(params.model, params.model_card.out)
    print(f"{card['parameters']:,} parameters, {card['gflop_per_second_stereo']} GFLOP per second of stereo audio")


if __name__ == "__main__":
    run_command(main)  # a bad params.yaml: one `error:` line per mistake, exit 1, nothing touched
