"""The typed schema of the Hydra config tree (``configs/``).

Every group YAML is merged into these dataclasses, so an unknown key or a value of the wrong type
fails at composition with a message naming the key. Semantic checks that types cannot express
(e.g. a discriminative head on an open-ended task) live in :func:`benchmark.config.checks.validate`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from omegaconf import MISSING

from benchmark import HARNESS_VERSION

# Modalities a task may offer. Continuous ones go through a classifier and a tokenizer; text ones
# are tokenized by the language model's tokenizer. The question (and MC candidates) are task inputs,
# not ablatable modalities.
CONTINUOUS_MODALITIES = ("video", "audio")
TEXT_MODALITIES = ("speech", "caption", "history", "concepts")  # concepts: TVQA's detected "attr obj" words
ALL_MODALITIES = CONTINUOUS_MODALITIES + TEXT_MODALITIES


class TaskKind(str, Enum):
    dialog = "dialog"  # AVSD: answer the last question of a dialog (open-ended generation)
    multiple_choice = "multiple_choice"  # TVQA: pick one of N candidate answers
    caption = "caption"  # TVC: describe a moment


class FeatureStoreKind(str, Enum):
    npy_dir = "npy_dir"  # a folder of <video_id>.npy arrays (AVSD I3D / VGGish)
    hdf5 = "hdf5"  # one HDF5 file keyed by vid_name (TVQA / TVC features)
    video_files = "video_files"  # raw videos <video_id>.mp4 (or .webm, .mkv, .avi ...; Charades), decoded
    frame_folder = "frame_folder"  # raw JPEG frames <show>_frames/<vid_name>/NNNNN.jpg (TVQA frames_hq)

    @property
    def is_frames(self) -> bool:
        """Whether the store holds raw frames (decoded and sampled per :class:`FrameSamplingConfig`)."""
        return self in (FeatureStoreKind.video_files, FeatureStoreKind.frame_folder)


class Family(str, Enum):
    t5 = "t5"
    bart = "bart"
    bert = "bert"


class TokenizerKind(str, Enum):
    discrete = "discrete"  # frozen classifier, hard top-K category-name embeddings
    relaxed = "relaxed"  # Gumbel-softmax mixtures of category-name embeddings, end to end
    continuous = "continuous"  # learned projection of the features (non-language baseline)

    @property
    def uses_classifier(self) -> bool:
        """Whether features become category words of the modality's classifier (discrete, relaxed), or
        are projected without one (continuous): the one place that tells the kinds apart by this."""
        return self is not TokenizerKind.continuous


class RelaxedMode(str, Enum):
    draws = "draws"  # K independent Gumbel-softmax draws
    st_topk = "st_topk"  # straight-through top-K: hard one-hots forward, soft gradients back
    st_ranked = "st_ranked"  # st_topk with a rank-conditioned soft distribution per token (without replacement)


class Schedule(str, Enum):
    constant = "constant"
    linear = "linear"
    exponential = "exponential"


class EvalMode(str, Enum):
    hard = "hard"  # top-K categories by logit (deterministic)
    soft = "soft"  # softmax(logits / tau_end) mixtures, no noise (deterministic)


class CategoryEmbeddings(str, Enum):
    tied = "tied"  # computed from the LM's input embedding table at every step (gradients reach it)
    frozen = "frozen"  # computed once at initialisation and kept fixed


class LabelNames(str, Enum):
    as_is = "as_is"  # each category token carries its own name
    permuted = "permuted"  # a seeded derangement within a modality: each token carries another category's name
    random = "random"  # seeded random vectors, norm-matched to the true name's embedding (or word pieces')
    learned = "learned"  # nameless: one trained vector per category, initialised as random (mean mode only)


class NameEmbedding(str, Enum):
    mean = "mean"  # one vector per category: the mean of its name's word-piece embeddings
    sequence = "sequence"  # the name's word pieces, one input position each (padding masked out)


class ClassifierRegularization(str, Enum):
    decay = "decay"  # AdamW weight decay toward zero at train.weight_decay, as every other matrix
    none = "none"  # no weight decay on the modality classifiers
    to_init = "to_init"  # the same decoupled decay at train.weight_decay, pulled toward the built (pretrained) weights


class HeadKind(str, Enum):
    generative = "generative"
    discriminative = "discriminative"


class CandidateInput(str, Enum):
    """Where multiple-choice candidates enter the encoder input (the paper does not say: a guess, a knob)."""

    auto = "auto"  # the head's own default: generative -> none, discriminative -> own
    none = "none"  # no candidate text in the encoder input (generative: scored by the decoder only;
    #                discriminative: context and each candidate encoded apart, scored from both)
    own = "own"  # discriminative only: one row per (context, candidate), the candidate appended
    all = "all"  # every candidate appended in order (discriminative: then its own candidate too)


class Pooling(str, Enum):
    mean = "mean"
    max = "max"
    first = "first"


class ClassifierActivation(str, Enum):
    """How a classifier's logits become the scores the discrete / relaxed tokenizers rank and soft-max."""

    softmax = "softmax"  # one softmax over the classes: the logits as they are (single-label heads)
    sigmoid = "sigmoid"  # independent per-class probabilities (multi-label heads: AudioSet): log sigmoid(logit)
    sigmoid_prior = "sigmoid_prior"  # log sigmoid(logit) - log(its mean over training clips): lift over the prior


class LrSchedule(str, Enum):
    linear = "linear"
    cosine = "cosine"
    constant = "constant"


class LauncherKind(str, Enum):
    local = "local"  # submitit LocalExecutor, parallelism bounded by the cores
    debug = "debug"  # in-process (submitit DebugExecutor): breakpoints work
    slurm = "slurm"  # submitit SlurmExecutor, job arrays


class TrackerKind(str, Enum):
    """The experiment trackers of ``logger.kind`` (a str in :class:`LoggerConfig`: checked against these names)."""

    none = "none"
    csv = "csv"  # scalars.csv in the run directory
    tensorboard = "tensorboard"
    wandb = "wandb"
    mlflow = "mlflow"


@dataclass
class ClassifierConfig:
    """A modality classifier producing logits over a label vocabulary."""

    arch: str = "feature_head"  # registry name: feature_head | cnn3d | r2plus1d_18 | r3d_18 | mc3_18
    pooling: Pooling = Pooling.mean  # temporal pooling of the features (feature_head)
    hidden: int = 0  # 0: linear head; > 0: MLP with this hidden size
    dropout: float = 0.0
    # Relative paths below are under the task's data root.
    weights: str | None = None  # safetensors file of a trained head (null: random init)
    labels: str | None = None  # Kinetics label_map.txt layout or AudioSet class_labels_indices.csv
    activation: ClassifierActivation = ClassifierActivation.softmax  # see ClassifierActivation
    # video ResNets over frames: freeze the stem and the first N of layer1-4 (0: all train); recompute
    # each layer's activations in the backward pass (GPU memory; results unchanged)
    freeze_blocks: int = 0
    checkpointing: bool = False


@dataclass
class FrameSamplingConfig:
    """How a frame store's clips become ``(T, 3*size*size)`` arrays (unused by feature stores, and then left
    out of run keys): frames every ``1/fps`` s over the video (or the moment's ``ts``), at most
    ``clip_frames`` of them spread uniformly, the shorter side resized to ``short_side`` (0: ``size``), a
    centre ``size`` x ``size`` crop, Kinetics mean/std normalisation (benchmark/data/frames.py)."""

    fps: float = 4.0  # frames sampled per second of video
    clip_frames: int = 16  # at most this many frames per clip (T), uniformly spread
    size: int = 112  # the square crop's side (the model's frame_shapes: (3, size, size))
    short_side: int = 0  # the shorter side is resized to this before the crop (0: size)
    source_fps: float = 3.0  # frame_folder: the rate the JPEGs were extracted at (TVQA frames_hq: 3)


@dataclass
class FeatureStreamConfig:
    """One stored feature stream (several streams of a modality are concatenated on the feature axis)."""

    store: FeatureStoreKind = FeatureStoreKind.npy_dir
    path: str = MISSING  # folder (npy_dir) or file (hdf5); relative paths are under the data root
    eval_path: str | None = None  # where the evaluation split's features live (AVSD: *_testset)
    seconds_per_step: float | None = None  # time resolution, for slicing by a moment's ts; null: no slicing
    allow_missing: bool = False  # a video without features is allowed (the modality is left out for it)
    max_steps: int = 0  # cap on time steps, sampled uniformly (0: no cap)
    frames: FrameSamplingConfig = field(default_factory=FrameSamplingConfig)  # video_files / frame_folder only


@dataclass
class FeatureModalityConfig:
    streams: list[FeatureStreamConfig] = field(default_factory=list)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)


@dataclass
class TaskFiles:
    train: str = MISSING
    dev: str | None = None  # null: hold out `dev_holdout` of train for model selection
    dev_holdout: float = 0.0
    eval: str = MISSING  # the split that is scored and reported
    eval_refs: str | None = None  # AVSD: COCO-format multi-reference file of the eval split
    subtitles: str | None = None  # preprocessed subtitle jsonl, or a folder of <vid_name>.srt
    concepts: str | None = None  # TVQA visual concepts jsonl (python -m benchmark.data concepts)


@dataclass
class TaskConfig:
    name: str = MISSING  # avsd | tvqa | tvc (the results folder)
    kind: TaskKind = MISSING
    specifier: str = MISSING  # the task-specifier text that opens every input
    modalities: list[str] = field(default_factory=list)  # the ablatable modalities this task offers
    main_metric: str = MISSING  # model selection and the headline number
    protocol: str = MISSING  # avsd: dstc7 | dstc8; tvqa: accuracy; tvc: tvc
    files: TaskFiles = field(default_factory=TaskFiles)
    features: dict[str, FeatureModalityConfig] = field(default_factory=dict)
    caption_fields: list[str] = field(default_factory=lambda: ["caption", "summary"])  # AVSD
    history_turns: int = -1  # AVSD: most recent turns kept in the history (-1: all)


@dataclass
class MiniConfig:
    seed: int = 0
    scale: float = 1.0  # multiplies the number of videos / questions of every split
    variant: str = "base"  # base: data=mini; lp: data=mini_lp, held-out classes (benchmark/data/mini/tvqa_lp.py)
    # frames: data=mini_frames, tiny real clips of the planted actions (benchmark/data/mini/clips.py)


@dataclass
class DataConfig:
    name: str = "mini"  # mini: the embedded benchmark, generated on first use; real: a dataset root
    root: str | None = None  # this task's data root; null: the mini benchmark in the cache folder
    version: str = "mini-v1"  # part of the run key: name the release for real data
    mini: MiniConfig = field(default_factory=MiniConfig)
    max_train: int = 0  # keep the first N training examples (0: all)
    max_eval: int = 0  # keep the first N evaluation examples (0: all; CIDEr idf then differs)


@dataclass
class TinyConfig:
    """Shape of a randomly initialised backbone built when `name_or_path` is null."""

    d_model: int = 64
    layers: int = 2
    heads: int = 4
    d_ff: int = 128
    vocab_size: int = 1000
    dropout: float = 0.1


@dataclass
class AssemblyConfig:
    """How the language-space input sequence is laid out."""

    separator_style: str = "text"  # text: separators are words ("video:"); special: added tokens ("<video>")
    separators: dict[str, str] = field(
        default_factory=lambda: {
            "video": "video:",
            "audio": "audio:",
            "speech": "subtitles:",
            "caption": "caption:",
            "history": "history:",
            "question": "question:",
            "candidate": "answer:",
        }
    )
    order: list[str] = field(default_factory=lambda: ["video", "audio", "speech", "caption", "history", "question"])
    max_tokens: dict[str, int] = field(
        default_factory=lambda: {"speech": 96, "caption": 64, "history": 128, "question": 40, "candidate": 32}
    )
    max_source_len: int = 512


@dataclass
class ModelConfig:
    name: str = MISSING  # short alias used in run names (t5_tiny, t5_base, ...)
    family: Family = Family.t5
    name_or_path: str | None = None  # hub name or local folder; null: build `tiny` (random init)
    attn_implementation: str = "eager"  # eager | sdpa (flex_attention is broken for T5)
    tiny: TinyConfig = field(default_factory=TinyConfig)
    max_target_len: int = 32
    assembly: AssemblyConfig = field(default_factory=AssemblyConfig)
    # Train only what the checkpoint did not provide (bert2bert cross-attention, BART/T5 cross-attention
    # too) and the harness's own parts (tokenizers, classifiers, the discriminative scorer); the language
    # model's pretrained weights, its embedding table included, stay fixed. Cheap pretrained runs on a CPU.
    freeze_body: bool = False


@dataclass
class ModalityConfig:
    """Which inputs are on. Modalities the task does not offer are ignored."""

    video: bool = True
    audio: bool = True
    speech: bool = True
    caption: bool = True
    history: bool = True
    concepts: bool = True  # only where the task offers it (an overlay adds it to task.modalities)


@dataclass
class TokenizerConfig:
    kind: TokenizerKind = TokenizerKind.relaxed
    k: int = 3  # categories (tokens) per continuous modality
    # st_ranked: token k's backward distribution is the Gumbel-softmax over the categories not taken by
    # tokens 0..k-1 (the relaxation of drawing K categories without replacement, which is what Gumbel
    # top-K is); st_topk sums the K tokens' gradients into one shared distribution. Selected on the mini
    # benchmark's dev splits (3-5 seeds, 600 steps, classifier_lr_mult 40): TVQA dev accuracy 76.7
    # (st_ranked) vs 67.2 (st_topk) vs 62.8 (discrete); with the classifier at the LM's learning rate
    # neither relaxed mode beat discrete.
    relaxed_mode: RelaxedMode = RelaxedMode.st_ranked
    tau_start: float = 1.0
    tau_end: float = 1.0
    schedule: Schedule = Schedule.constant
    anneal_steps: int = 0  # 0: anneal over train.max_steps
    eval_mode: EvalMode = EvalMode.hard
    category_embeddings: CategoryEmbeddings = CategoryEmbeddings.tied
    continuous_tokens: int = 0  # continuous tokenizer: tokens per modality (0: k)
    # K of single modalities, e.g. {video: 5, audio: 3}; a modality not listed takes k. The paper's
    # K per modality is not known (recalled: one K = 3 for all): a guess, hence a knob.
    k_per_modality: dict[str, int] = field(default_factory=dict)
    # Name controls (discrete / relaxed only): which name each category token carries, the seed of the
    # permutation / random vectors (fixed across run seeds), and whether a name is one mean vector or its
    # word pieces written out as a sequence.
    label_names: LabelNames = LabelNames.as_is
    label_names_seed: int = 0
    name_embedding: NameEmbedding = NameEmbedding.mean
    # Real data: let a discrete / relaxed tokenizer run with a classifier that has no trained weights
    # (its category words are then meaningless); without it such a run refuses to start.
    allow_random_classifiers: bool = False


@dataclass
class HeadConfig:
    kind: HeadKind = HeadKind.generative
    length_normalize: bool = True  # MC scoring by mean (not summed) token log-likelihood
    num_beams: int = 1
    length_penalty: float = 1.0
    max_new_tokens: int = 32
    pooling: Pooling = Pooling.mean  # discriminative head: pooling of the encoder states
    candidates: CandidateInput = CandidateInput.auto  # multiple choice: candidates in the encoder input?


@dataclass
class TrainConfig:
    device: str = "auto"  # auto | cpu | cuda
    precision: str = "auto"  # auto (bf16 autocast on GPU, fp32 on CPU) | fp32 | bf16
    compile: bool = False
    batch_size: int = 32
    eval_batch_size: int = 64
    grad_accum: int = 1
    lr: float = 1e-3
    classifier_lr_mult: float = 1.0  # learning rate of the modality classifiers (relaxed tokens) / lr
    weight_decay: float = 0.01
    # the modality classifiers' matrices: decay (toward zero), none, or to_init (toward the pretrained head)
    classifier_regularization: ClassifierRegularization = ClassifierRegularization.decay
    warmup_steps: int = 50
    max_steps: int = 600
    lr_schedule: LrSchedule = LrSchedule.linear
    clip_grad: float = 1.0
    eval_every: int = 200
    early_stop_patience: int = 0  # evaluations without improvement before stopping (0: never)
    ckpt_every: int = 100
    bucket_by_length: bool = True
    pad_to_multiple: int = 0  # > 0: training batches padded to multiples of this width (fixed shapes for compile)
    num_workers: int = 0
    threads: int = 0  # torch intra-op threads (0: leave as set by the launcher)
    log_every: int = 20
    progress: bool = True
    # false: the evaluation split is neither predicted nor scored (a dev-only search run: metrics.json holds the
    # dev selection, "scored": false); classifier_lr_search's arms set it
    score_eval: bool = True


@dataclass
class LauncherConfig:
    kind: LauncherKind = LauncherKind.local
    max_parallel: int = 0  # local: concurrent runs (0: cores // cpus_per_task)
    timeout_min: int = 60
    max_requeues: int = 3  # preemptions / time-outs a run may survive
    cpus_per_task: int = 1
    gpus_per_task: int = 0
    tasks_per_node: int = 1  # > 1 with GPUs: one task per GPU, DDP inside the job
    nodes: int = 1
    mem_gb: float = 4
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    array_parallelism: int = 64
    signal_delay_s: int = 120
    additional_parameters: dict[str, Any] = field(default_factory=dict)
    setup: list[str] = field(default_factory=list)  # shell lines run before the job (module load ...)
    poll_s: float = 2.0  # progress refresh interval of the sweep driver


@dataclass
class PathsConfig:
    cache: str = MISSING  # mini benchmark and tiny models are generated here on first use
    data_root: str | None = None  # real data: one folder per task under it


@dataclass
class ResultsConfig:
    root: str = "results/runs"


@dataclass
class LoggingConfig:
    level: str = "INFO"  # the console: DEBUG | INFO | WARNING | ERROR (-v / -q); a run's run.log keeps INFO and up


@dataclass
class LoggerConfig:
    """An experiment tracker fed with train_log.jsonl's scalars, the config and the final metrics
    (configs/logger/, :mod:`benchmark.runner.trackers`)."""

    kind: str = "none"  # a TrackerKind name: none | csv | tensorboard | wandb | mlflow
    project: str = "vx2text-bench"  # W&B project / MLflow experiment
    entity: str | None = None  # W&B entity (team or user)
    mode: str = "offline"  # W&B: offline | online (WANDB_MODE overrides it)
    tracking_uri: str | None = None  # MLflow: default file:<results root>/mlruns


@dataclass
class EvalOnlyConfig:
    checkpoint: str | None = None  # score this checkpoint (no training)
    predictions: str | None = None  # score this predictions file (no model at all)


@dataclass
class SweepConfig:
    """Run-time settings of a study (these defaults, or ``configs/sweep/<study>.yaml`` where one exists); the
    study itself, with its seeds, is ``ablations/<study>.py``."""

    name: str = MISSING  # the study: the choice of the sweep group (sweep=<study>), filled in at composition
    tasks: list[str] = field(default_factory=list)  # empty: the study's default tasks
    seeds: list[int] | None = None  # null: the study's seeds (Study.seeds)
    draws: list[int] = field(default_factory=lambda: [0])  # data draws: data.mini.seed of each run (data=mini only)
    dry_run: bool = False
    wait: bool = True  # false: submit, print the job ids and return (Slurm; follow with python -m benchmark.status)
    axes: dict[str, Any] = field(default_factory=dict)  # overrides of the study's axis defaults (Study.axes)
    estimate: bool = False  # calibrate and print the study's device-hours, submit nothing (benchmark/sweep/estimate.py)
    estimate_steps: int = 5  # training steps timed per calibrated shape (after one warm-up step)
    estimate_batches: int = 2  # prediction batches timed per calibrated shape


@dataclass
class RootConfig:
    task: TaskConfig = field(default_factory=TaskConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    modality: ModalityConfig = field(default_factory=ModalityConfig)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    launcher: LauncherConfig = field(default_factory=LauncherConfig)
    paths: PathsConfig = field(default_factory=PathsConfig)
    results: ResultsConfig = field(default_factory=ResultsConfig)
    eval_only: EvalOnlyConfig = field(default_factory=EvalOnlyConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    sweep: SweepConfig | None = None
    seed: int = 0
    harness_version: int = HARNESS_VERSION
    provenance: dict[str, Any] = field(default_factory=dict)  # notes of experiment overlays (not hashed)
