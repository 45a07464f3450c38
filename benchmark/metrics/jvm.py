"""The Java half of pycocoevalcap 1.2: the Stanford PTB tokenizer and one shared METEOR 1.5 process.

* :func:`ptb_tokenize` runs pycocoevalcap's ``stanford-corenlp-3.4.1.jar`` with exactly the command and
  post-processing of ``PTBTokenizer.tokenize`` (``-preserveLines -lowerCase``, then drop the tokens in
  its ``PUNCTUATIONS`` list), with two differences that never change a score: the temporary input file
  goes to the system temp folder instead of into ``site-packages`` (read-only installs work), and the
  output is checked to have one line per input sentence (pycocoevalcap would silently mis-align every
  later sentence).
* :func:`shared_meteor` starts ``meteor-1.5.jar`` once per process (a 2 GB-heap JVM and ~10 s of
  start-up) and hands the same instance to every caller; access is serialised by its lock.
  :meth:`StatsMeteor.score` returns the per-segment stats lines too, from which
  :mod:`benchmark.metrics.formulas` recomputes the corpus score of any resample.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.tokenizer import ptbtokenizer

from benchmark.errors import MissingDependencyError

JAVA_INSTALL_HINT = "install a Java runtime (Debian/Ubuntu: apt-get install -y default-jre-headless)"
# Characters that the PTB tokenizer treats as line breaks (besides "\n", which pycocoevalcap replaces):
# left in a sentence they would split it in two and shift every later sentence.
PTB_LINE_BREAKS = ("\r", "\x0b", "\x0c", "\u2028", "\u2029")


def check_java() -> None:
    """Raise :class:`MissingDependencyError` (with how to install it) when ``java`` is not on PATH."""
    if shutil.which("java") is None:
        raise MissingDependencyError(
            "the PTB tokenizer and METEOR of pycocoevalcap need Java, but `java` is not on PATH: " + JAVA_INSTALL_HINT
        )


def ptb_tokenize(sentences: Sequence[str]) -> list[str]:
    """PTB-tokenize, lower-case and strip punctuation, one output string per input sentence.

    Same jar, flags and punctuation filter as pycocoevalcap's ``PTBTokenizer``. Callers must remove
    :data:`PTB_LINE_BREAKS` first (a ``ValueError`` otherwise).
    """
    check_java()
    for i, sentence in enumerate(sentences):
        if any(ch in sentence for ch in PTB_LINE_BREAKS):
            raise ValueError(f"sentence {i} contains a line-break character the PTB tokenizer would split on")
    if not sentences:
        return []
    text = "\n".join(s.replace("\n", " ") for s in sentences)
    jar_dir = Path(ptbtokenizer.__file__).resolve().parent
    fd, tmp = tempfile.mkstemp(prefix="vx2t_ptb_", suffix=".txt")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
        cmd = [
            "java",
            "-cp",
            str(jar_dir / ptbtokenizer.STANFORD_CORENLP_3_4_1_JAR),
            "edu.stanford.nlp.process.PTBTokenizer",
            "-preserveLines",
            "-lowerCase",
            tmp,
        ]
        proc = subprocess.run(cmd, capture_output=True, check=False)
    finally:
        os.unlink(tmp)
    if proc.returncode != 0:
        raise RuntimeError(
            f"PTB tokenizer failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-2000:]}"
        )
    lines = proc.stdout.decode("utf-8").split("\n")
    if len(lines) < len(sentences):
        raise RuntimeError(f"PTB tokenizer returned {len(lines)} lines for {len(sentences)} sentences")
    punct = set(ptbtokenizer.PUNCTUATIONS)
    return [" ".join(w for w in line.rstrip().split(" ") if w not in punct) for line in lines[: len(sentences)]]


class StatsMeteor(Meteor):
    """pycocoevalcap's ``Meteor`` that also returns the per-segment statistics lines."""

    def _read_line(self) -> str:
        line = self.meteor_p.stdout.readline().decode("utf-8").strip()
        if not line:
            code = self.meteor_p.poll()
            err = self.meteor_p.stderr.read().decode(errors="replace")[-2000:] if code is not None else ""
            raise RuntimeError(f"METEOR process stopped answering (exit code {code}): {err}")
        return line

    def score(self, hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> tuple[list[str], list[float], float]:
        """``(stats lines, segment scores, corpus score)``: ``compute_score`` of pycocoevalcap, plus stats."""
        if len(hyps) != len(refs) or not hyps:
            raise ValueError(f"METEOR needs as many hypotheses as reference sets (>0), got {len(hyps)} and {len(refs)}")
        with self.lock:
            stats = []
            for hyp, ref in zip(hyps, refs):
                line = self._stat(hyp, list(ref))  # pycocoevalcap's own SCORE line
                if not line:
                    self._read_line()  # raises with the JVM's stderr
                stats.append(line)
            segments, corpus = self._evaluate(stats)
        return stats, segments, corpus

    def _evaluate(self, stats: Sequence[str]) -> tuple[list[float], float]:
        self.meteor_p.stdin.write(("EVAL" + "".join(f" ||| {s}" for s in stats) + "\n").encode())
        self.meteor_p.stdin.flush()
        segments = [float(self._read_line()) for _ in stats]
        return segments, float(self._read_line())

    def evaluate(self, stats: Sequence[str]) -> tuple[list[float], float]:
        """The JVM's ``EVAL``: segment scores and the aggregate score of the given stats lines."""
        if not stats:
            raise ValueError("METEOR EVAL needs at least one stats line")
        with self.lock:
            return self._evaluate(stats)

    def close(self) -> None:
        """Stop the JVM (idempotent)."""
        with self.lock:
            if self.meteor_p.poll() is None:
                self.meteor_p.stdin.close()
                try:
                    self.meteor_p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.meteor_p.kill()
                    self.meteor_p.wait()


_METEOR: StatsMeteor | None = None
_METEOR_LOCK = threading.Lock()


def shared_meteor() -> StatsMeteor:
    """The process-wide METEOR instance, started on first use (and again if its JVM has died)."""
    global _METEOR
    with _METEOR_LOCK:
        if _METEOR is None or _METEOR.meteor_p.poll() is not None:
            check_java()
            _METEOR = StatsMeteor()
        return _METEOR


@atexit.register
def _close_shared_meteor() -> None:
    if _METEOR is not None:
        _METEOR.close()
