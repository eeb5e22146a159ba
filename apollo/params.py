"""The pipeline's settings as typed dataclasses: one per params.yaml section.

No field has a default. params.yaml (with profiles such as ``profiles/paper.yaml`` layered on it) is the
one place where values are written; ``apollo.config`` checks a file and builds these. Keeping this module
free of stage code (numpy, torch, the codecs) lets every stage script import its settings without
importing, and so depending on, every other stage's code: ``tests/test_stage_deps.py`` holds dvc.yaml to
that.

Also here, once: the names the settings choose from (codecs, readers, precisions), and the sample rate.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from apollo import paths
from apollo.models.bands import band_widths, stft_params

SR = 44100  # the pipeline's sample rate: corpus, shards, model and evaluation
SPLITS = ("train", "val", "test")
CODECS = ("mp3", "aac", "opus")
READER_KINDS = ("synth", "folder", "musdb", "moisesdb")
PRECISIONS = ("fp32", "fp16", "bf16")  # not accelerate's "no": YAML 1.1 reads a bare no as false
# LAME's bitrate table at 44.1 kHz (MPEG-1 Layer III; index 0 is "free format")
MPEG1_L3_KBPS = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320)


@dataclass(frozen=True)
class ApolloConfig:
    """The generator's architecture (section ``model``; also stored in every checkpoint)."""

    sr: int
    win_ms: float  # STFT window; hop is half of it
    feature_dim: int
    layers: int  # band-sequence blocks
    heads: int
    tcn_blocks: int
    tcn_kernel: int
    causal: bool
    band_widths: tuple[int, ...] | None  # None: the published split of n_fft into 80 bands
    max_positions: int  # rotary table length: at least the number of bands
    # not in the paper: add the input spectrum to the heads' output, so the network learns a correction and
    # starts (heads' value half zeroed) as the identity. The published model maps directly (False).
    residual: bool
    # not in the paper: the heads' output is multiplied by each input frame's RMS bin magnitude, so the network
    # predicts spectra relative to the music's level (a quiet or dark passage gets a quiet high band) instead
    # of absolute values that a small model learns as one fixed level for every recording
    relative_output: bool
    # not in the paper: either > 0 anchors the generated band at the codec's cutoff (given, or found in the
    # input's long-term spectrum). Below the cutoff the output is the input's own bins (in training too, so the
    # loss sees only the band the codec removed); above it the heads' output is scaled by each frame's RMS bin
    # magnitude over a stretch just below the cutoff, so the band continues the music's brightness, not only
    # its loudness. The stretch is cutoff_reference_hz + cutoff_reference_fraction x the item's cutoff wide:
    # a reading in proportion to the cutoff follows the band better in time at high bitrates and stays near
    # the cut at low ones (docs/quality.md, rounds 10-11). Both 0: off (the heads cover the whole spectrum).
    cutoff_reference_hz: float
    cutoff_reference_fraction: float
    # not in the paper, anchored models only: a learned gain per quarter octave above the cutoff, the same
    # for every item, on the heads' output: the music's average fall above the cutoff, in one well-conditioned
    # parameter per step, which the heads' weights only learn slowly (docs/quality.md)
    band_tilt: bool
    # not in the paper, kept passbands only: bins more than -hole_gate_db dB under their frame's mean passband
    # power (the bands an MP3 encoder zeroed: no music leaves a bin that empty) become noise at hole_level_db
    # dB re that power, a level measured on the training shards (docs/quality.md). None: the passband as it is.
    hole_gate_db: float | None
    hole_level_db: float

    def __post_init__(self):
        # resolve the published split so equal architectures compare equal
        widths = self.band_widths or band_widths(self.n_fft)
        object.__setattr__(self, "band_widths", tuple(int(w) for w in widths))
        if self.hole_gate_db is None:  # no fill: its level means nothing
            object.__setattr__(self, "hole_level_db", 0.0)

    @property
    def n_fft(self) -> int:
        return stft_params(self.sr, self.win_ms)[0]

    @property
    def hop(self) -> int:
        return stft_params(self.sr, self.win_ms)[1]

    @property
    def anchored(self) -> bool:
        """Whether the generated band is anchored at the codec cutoff (either reference setting > 0)."""
        return self.cutoff_reference_hz > 0 or self.cutoff_reference_fraction > 0

    @property
    def bin_hz(self) -> float:
        """Hz per STFT bin: a cutoff in bins (`Apollo.cutoff_bins`) times this is the cutoff in Hz."""
        return self.sr / self.n_fft

    @property
    def widths(self) -> tuple[int, ...]:
        return self.band_widths

    @property
    def receptive_frames(self) -> tuple[int, int]:
        """Frames of context (past, future) one output frame depends on."""
        depth = self.layers * self.tcn_blocks * (self.tcn_kernel - 1)
        return (depth, 0) if self.causal else (depth // 2, depth // 2)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["band_widths"] = list(self.widths)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ApolloConfig:
        """From a checkpoint's metadata: every field, nothing else."""
        fields = set(cls.__dataclass_fields__)
        # checkpoints from before these fields: absolute output over the whole spectrum
        d = {"relative_output": False, "cutoff_reference_hz": 0.0, "cutoff_reference_fraction": 0.0,
             "band_tilt": False, "hole_gate_db": None, "hole_level_db": 0.0} | dict(d)
        unknown, missing = set(d) - fields, fields - set(d)
        if unknown or missing:
            raise ValueError(f"model config: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
        return cls(**d)


@dataclass(frozen=True)
class ModelCardParams:
    out: str


@dataclass(frozen=True)
class SynthParams:
    out: str
    songs: int
    seconds: float
    seed: int
    soundfont: str  # the General MIDI soundfont for pitched parts
    drumkits: str  # folder of Hydrogen drum kits (and the recorded guitar strums)
    drum_soundfonts: tuple  # SF2 drum kits
    samples: str  # folder of recorded loops and instruments
    real_prob: float  # chance that a stem which can come from recordings does
    heldout_songs: int  # songs of held-out recordings only, for evaluation
    heldout_fraction: float  # share of the recordings (kits whole, other files one by one) held out
    split_seed: int
    band_limit_db: float  # a drop this large within ~1 kHz between 10 and 21.5 kHz marks a band-limited source
    exciter: bool  # give the formant singer a 16-20 kHz band that follows its content
    workers: int  # 0: all cores


@dataclass(frozen=True)
class SourceParams:
    kind: str  # READER_KINDS
    root: str
    val_fraction: float
    test_fraction: float
    split_seed: int


@dataclass(frozen=True)
class SADParams:
    frame_ms: float
    window_s: float
    hop_s: float
    percentile: float
    floor: float
    active_fraction: float


@dataclass(frozen=True)
class SadConfig:
    out: str
    workers: int
    detection: SADParams


@dataclass(frozen=True)
class ShardsConfig:
    out: str
    seed: int
    samples: dict  # split -> samples
    samples_per_shard: int
    seconds: float
    mixture_prob: float
    min_stems: int
    max_stems: int
    gain_db: float
    bitrates: tuple
    bitrate_weights: tuple | None  # None: uniform
    codecs: dict  # codec -> weight; aac / opus need ffmpeg
    workers: int

    def shard_count(self, split: str) -> int:
        return -(-int(self.samples.get(split, 0)) // self.samples_per_shard)


@dataclass(frozen=True)
class ShardParams(ShardsConfig):
    """What one shard is a function of: the section plus the SAD index it reads (from `sad.out`)."""

    index: str


@dataclass(frozen=True)
class LossWeights:
    alpha: float  # adversarial
    beta: float  # feature matching
    gamma: float  # multi-resolution STFT
    delta: float  # multi-resolution log magnitude (not in the paper)
    # the log term compares power averaged over tiles of this many Hz and ms (0: bin by bin): the level of
    # the spectral envelope, not of each bin, whose fine structure a small model cannot know (a per-bin
    # log L1 pulls a noise-like band towards its median power, several dB under its mean)
    log_pool_hz: float
    log_pool_ms: float
    epsilon: float  # level of the band above the input's codec cutoff (not in the paper)
    # that level's tiles: sub-bands of this many Hz up from the cutoff (0: the band as one) and this many ms
    band_pool_hz: float
    band_pool_ms: float


@dataclass(frozen=True)
class TrainParams:
    out: str
    seed: int
    steps: int  # the step budget
    batch_size: int
    crop_seconds: float
    lr_g: float
    lr_d: float
    weight_decay: float
    betas_g: tuple
    betas_d: tuple
    steps_per_epoch: int  # shards repeat endlessly: an "epoch" is a step count
    lr_gamma: float
    lr_step_epochs: int
    grad_clip: float
    loss: LossWeights
    disc_windows: tuple
    disc_channels: int
    mixed_precision: str  # PRECISIONS
    grad_accum: int
    eval_every: int
    patience: int
    checkpoint_every: int
    val_batches: int
    workers: int
    processes: str | int  # "auto" (every visible GPU, one process on CPU) or a count


@dataclass(frozen=True)
class EvalParams:
    out: str
    max_samples: int  # 0: the whole test split
    visqol: bool
    examples: int  # spectrogram PNGs (lowest bitrates first)
    chunk_seconds: float
    real_audio: str  # "" skips the real-audio set
    recordings: str  # the synth stage's recordings.json: files the corpus trains on are not scored; "" none
    real_clips: int
    real_seconds: float
    real_bitrates: tuple
    real_mixtures: str  # the synth stage's held-out songs, mixed as the shards stage mixes; "" skips the set
    real_mixture_samples: int


@dataclass(frozen=True)
class Params:
    model: ApolloConfig
    model_card: ModelCardParams
    synth: SynthParams
    sources: SourceParams
    sad: SadConfig
    shards: ShardsConfig
    train: TrainParams
    evaluate: EvalParams

    @property
    def generator_path(self) -> str:
        """The trained generator the pipeline produces (and `apollo restore` uses by default)."""
        return paths.generator(self.train.out)

    def shard_params(self) -> ShardParams:
        """The shards stage's arguments: its section plus the SAD index it reads."""
        return ShardParams(index=paths.sad_index(self.sad.out), **asdict(self.shards))
