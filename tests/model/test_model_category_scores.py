"""Multi-label heads (issue 20): ``task.features.<m>.classifier.activation`` turns an AudioSet-style head's
logits into per-class sigmoid scores, or sigmoid scores over each class's prior from the training clips,
for the discrete and the relaxed tokens. Real tiny heads (FeatureHead), real tokenizers, real mini data."""

from __future__ import annotations

import pytest
import torch
from model_kit import CORPUS, LABELS, cache_dir

from benchmark.config.compose import compose, semantic_config
from benchmark.data.mini import ensure_mini
from benchmark.data.tasks import TaskData
from benchmark.errors import ConfigError
from benchmark.model import ModelTask, build_model
from benchmark.model.category_scores import CategoryScores, class_log_prior
from benchmark.model.classifiers import FeatureHead
from benchmark.model.tiny import train_tokenizer
from benchmark.model.tokenization import CategoryEmbeddings, DiscreteTokenizer, RelaxedTokenizer, category_token_ids
from benchmark.model.vx2text import PRIOR_CLIPS
from benchmark.results.rundir import run_key

NAMES = LABELS["audio"]  # speech, music, dog barking, silence, laughter
DIM, CLIPS = 6, 64


@pytest.fixture(scope="module")
def parts():
    """A tiny LM vocabulary and embedding, the category table of the audio names, and a head whose class 0
    ('speech') has a large positive bias: present in every clip, as Speech in a TV show."""
    tokenizer = train_tokenizer(CORPUS, "t5", 300)
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(len(tokenizer), 16)
    cats = CategoryEmbeddings(category_token_ids(tokenizer, NAMES), embedding, "frozen")
    torch.manual_seed(1)
    head = FeatureHead(DIM, len(NAMES))
    with torch.no_grad():
        head.classifier.bias.zero_()
        head.classifier.bias[0] = 8.0
    g = torch.Generator().manual_seed(2)
    clips = [torch.randn(3 + i % 4, DIM, generator=g).numpy() for i in range(CLIPS)]
    return embedding, cats, head, clips


def _batch(clips) -> tuple[torch.Tensor, torch.Tensor]:
    steps = max(c.shape[0] for c in clips)
    x, mask = torch.zeros(len(clips), steps, DIM), torch.zeros(len(clips), steps, dtype=torch.bool)
    for i, c in enumerate(clips):
        x[i, : c.shape[0]], mask[i, : c.shape[0]] = torch.from_numpy(c), True
    return x, mask


def _top1(tokenizer, embedding, cats, x, mask) -> torch.Tensor:
    """The category each clip's first token carries: the nearest row of the name table."""
    out = tokenizer(x, mask, embedding)[:, 0]  # (N, d)
    return torch.cdist(out, cats(embedding)).argmin(-1)


def test_prior_is_the_mean_sigmoid_over_the_clips(parts) -> None:
    _, _, head, clips = parts
    by_hand = torch.stack(
        [torch.sigmoid(head(torch.from_numpy(c)[None], torch.ones(1, len(c), dtype=torch.bool))) for c in clips]
    )
    torch.testing.assert_close(class_log_prior(head, clips, batch_size=5).exp(), by_hand.mean(0)[0].detach())
    assert class_log_prior(head, clips).exp()[0] > 0.99  # 'speech' is present everywhere
    with pytest.raises(ConfigError, match="needs training clips"):
        class_log_prior(head, [])
    with pytest.raises(ConfigError, match="expected one of softmax, sigmoid, sigmoid_prior, got 'tanh'"):
        CategoryScores("tanh")


def test_softmax_tokens_say_speech_everywhere_and_sigmoid_prior_does_not(parts) -> None:
    embedding, cats, head, clips = parts
    x, mask = _batch(clips)
    log_prior = class_log_prior(head, clips)
    top = {
        name: _top1(DiscreteTokenizer(head, cats, 1, scores), embedding, cats, x, mask)
        for name, scores in (
            ("softmax", None),
            ("sigmoid", CategoryScores("sigmoid")),
            ("sigmoid_prior", CategoryScores("sigmoid_prior", log_prior)),
        )
    }
    assert (top["softmax"] == 0).all() and torch.equal(top["sigmoid"], top["softmax"])  # sigmoid keeps the ranking
    assert (top["sigmoid_prior"] != 0).sum() >= CLIPS // 2, top["sigmoid_prior"]
    with torch.no_grad():
        lift = torch.sigmoid(head(x, mask)) / log_prior.exp()
    assert torch.equal(top["sigmoid_prior"], lift.argmax(-1))  # the class most above its prior
    assert len(set(top["sigmoid_prior"].tolist())) >= 3


def test_relaxed_draws_follow_the_scores_and_gradients_reach_the_head(parts) -> None:
    embedding, cats, head, clips = parts
    x, mask = _batch(clips)
    log_prior = class_log_prior(head, clips)
    relaxed = dict(tau_start=1.0, tau_end=0.5, schedule="constant", anneal_steps=10, eval_mode="hard")
    shares = {}
    for name, scores in (("softmax", None), ("sigmoid_prior", CategoryScores("sigmoid_prior", log_prior))):
        tok = RelaxedTokenizer(head, cats, 2, mode="draws", scores=scores, **relaxed).train()
        torch.manual_seed(3)
        with torch.no_grad():
            weights = tok.mixture_weights(tok.scores(head(x, mask).float()))  # (N, K, C)
        shares[name] = float((weights.argmax(-1) == 0).float().mean())
    assert shares["softmax"] > 0.95 and shares["sigmoid_prior"] < 0.5, shares
    head.requires_grad_(True)  # a discrete tokenizer freezes the head it is given (the fixture's, above)
    for mode in ("st_topk", "draws"):
        head.zero_grad()
        tok = RelaxedTokenizer(head, cats, 2, mode=mode, scores=CategoryScores("sigmoid_prior", log_prior), **relaxed)
        tok.train()
        torch.manual_seed(4)
        (tok(x, mask, embedding) ** 2).sum().backward()
        grad = head.classifier.weight.grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, mode


def test_a_mini_run_estimates_the_audio_prior_from_its_training_clips(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Built the way a run builds it: ModelTask.from_task_data reads the training clips, the prior is a saved
    buffer of the audio tokenizer only, and the batch goes through the model; the default keeps its key."""
    cache = cache_dir(tmp_path_factory)
    shape = ["model.tiny.d_model=32", "model.tiny.layers=1", "model.tiny.d_ff=64"]
    base = ["task=tvqa", "model=t5_tiny", "tokenizer=discrete", *shape]
    cfg = compose([*base, "task.features.audio.classifier.activation=sigmoid_prior"])
    data = TaskData(cfg, ensure_mini(cache) / "tvqa")
    torch.manual_seed(0)
    model = build_model(cfg, ModelTask.from_task_data(cfg, data), cache, data.corpus)
    audio = model.tokenizers["audio"]
    clips = list(data.clips("train", "audio", PRIOR_CLIPS))
    assert 0 < len(clips) <= PRIOR_CLIPS
    torch.testing.assert_close(audio.scores.log_prior, class_log_prior(audio.classifier, clips))
    keys = model.state_dict().keys()
    assert "tokenizers.audio.scores.log_prior" in keys and not any("video.scores" in k for k in keys)
    model.eval()
    samples = list(data.samples("eval"))[:4]
    assert len(model.predict(model.collate(samples, train=False))) == 4
    default, explicit = compose(base), compose([*base, "task.features.audio.classifier.activation=softmax"])
    assert run_key(semantic_config(default)) == run_key(semantic_config(explicit))
    assert run_key(semantic_config(cfg)) != run_key(semantic_config(default))
