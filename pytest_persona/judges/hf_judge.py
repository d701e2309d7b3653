"""``hf:MODEL_OR_PATH``: a local transformers causal LM as judge.

Every candidate answer "0".."100" is scored by its exact sequence log-likelihood after the judge
prompt (rendered with the tokenizer's chat template when it has one, up to the start of the
assistant turn): log P(candidate tokens, then the end-of-turn marker | prompt). Numbers span
several tokens in many tokenizers; scoring the whole token sequence plus the end marker keeps
"1" and "10" apart exactly. The score is the probability-weighted mean over the 101 candidates.
Candidates are scored in right-padded batches (``batch_size`` sequences per forward pass).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_persona.errors import ModelLoadError

from .base import Judge, JudgeRequest, Outcome
from .prompts import fill_prompt

CANDIDATES = [str(i) for i in range(101)]


def _weight_fingerprint(model: Any) -> str:
    """Cheap identity of the weights: shapes and a few values of every parameter."""
    h = hashlib.sha256()
    for name, p in model.named_parameters():
        flat = p.detach().reshape(-1)
        h.update(name.encode())
        h.update(str(tuple(p.shape)).encode())
        h.update(flat[:16].float().cpu().numpy().tobytes())
        h.update(flat[-16:].float().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def judge_load_message(model_name: str, message: str) -> str:
    """A model loader's error, reworded for the judge: ``--model X`` advice becomes
    ``--judge hf:X`` (the user never passed ``--model`` for it)."""
    reworded = message.replace("--model smollm2-135m", "--judge hf:smollm2-135m").replace(
        "--model /path/to/model", "--judge hf:/path/to/model")
    return f"the hf judge model {model_name!r} cannot be loaded: {reworded}"


class HFJudge(Judge):
    is_offline = True
    local_batch_size = 8

    def __init__(
        self,
        model_name: str,
        *,
        model_loader: Callable[[str], Any] | None = None,
        model: Any = None,
        tokenizer: Any = None,
        batch_size: int = 101,
        concurrency: int = 16,
        cache_path: str | Path | None = None,
        refresh: bool = False,
    ) -> None:
        super().__init__(concurrency=concurrency, cache_path=cache_path, refresh=refresh)
        self.model_name = model_name
        fingerprint = None
        if model is None:
            if model_loader is not None:
                try:
                    loaded = model_loader(model_name)
                except ModelLoadError as exc:  # its advice names --model: this is the judge
                    raise ModelLoadError(judge_load_message(model_name, str(exc))) from exc
            else:
                from transformers import AutoModelForCausalLM, AutoTokenizer

                loaded = (AutoModelForCausalLM.from_pretrained(model_name),
                          AutoTokenizer.from_pretrained(model_name))
            if isinstance(loaded, tuple):
                model, tokenizer = loaded[0], loaded[1]
            else:  # pytest_persona.models.loading.LoadedModel
                model, tokenizer = loaded.model, loaded.tokenizer
                fingerprint = getattr(loaded, "fingerprint", None)
        if tokenizer is None:
            raise ValueError("hf judge needs a tokenizer")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = max(1, int(batch_size))
        self.fingerprint = fingerprint or _weight_fingerprint(self.model)
        self.id = f"hf:{model_name}#{self.fingerprint}"
        self.requested_model = model_name
        self._cand_ids = self._candidate_ids()

    # -- tokenisation ----------------------------------------------------------------------
    def _has_chat_template(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None))

    def _ids(self, text: str, special: bool = False) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def _end_id(self) -> int | None:
        """The token that ends the assistant turn (found from the chat template when possible)."""
        tok = self.tokenizer
        if self._has_chat_template():
            user = [{"role": "user", "content": "x"}]
            prefix = tok.apply_chat_template(user, add_generation_prompt=True, tokenize=False)
            full = tok.apply_chat_template(
                user + [{"role": "assistant", "content": "0"}], tokenize=False)
            if full.startswith(prefix):
                cont = self._ids(full[len(prefix):])
                num = self._ids("0")
                if cont[: len(num)] == num and len(cont) > len(num):
                    return int(cont[len(num)])
        eos: int | None = tok.eos_token_id
        return eos

    def _candidate_ids(self) -> list[list[int]]:
        end = self._end_id()
        lead = "" if self._has_chat_template() else " "
        out = []
        for c in CANDIDATES:
            ids = self._ids(lead + c)
            out.append(ids + ([int(end)] if end is not None else []))
        return out

    def prompt_ids(self, prompt: str) -> list[int]:
        tok = self.tokenizer
        if self._has_chat_template():
            text = tok.apply_chat_template(
                [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=False)
            return self._ids(text)
        return self._ids(prompt + "\nAnswer:", special=True)

    # -- scoring ---------------------------------------------------------------------------
    def candidate_logprobs(self, prompt: str) -> list[float]:
        """log P(candidate, end | prompt) for "0".."100" (unnormalised over the candidates)."""
        import torch

        prefix = self.prompt_ids(prompt)
        device = next(self.model.parameters()).device
        pad = self.tokenizer.pad_token_id
        pad = 0 if pad is None else int(pad)
        out: list[float] = []
        with torch.inference_mode():
            for start in range(0, len(self._cand_ids), self.batch_size):
                cands = self._cand_ids[start : start + self.batch_size]
                seqs = [prefix + c for c in cands]
                width = max(len(s) for s in seqs)
                ids = torch.full((len(seqs), width), pad, dtype=torch.long)
                mask = torch.zeros((len(seqs), width), dtype=torch.long)
                for i, s in enumerate(seqs):  # right padding: positions stay 0..len-1
                    ids[i, : len(s)] = torch.tensor(s)
                    mask[i, : len(s)] = 1
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                logp = torch.log_softmax(logits.float(), dim=-1).cpu()
                for i, c in enumerate(cands):
                    pos = torch.arange(len(prefix) - 1, len(prefix) - 1 + len(c))
                    out.append(float(logp[i, pos, torch.tensor(c)].sum()))
        return out

    def scoring_params(self, request: JudgeRequest) -> dict[str, Any]:
        return {"method": "candidate-seq-likelihood-v1", "chat_template": self._has_chat_template()}

    def _score_batch(self, requests: Sequence[JudgeRequest]) -> list[Outcome]:
        import torch

        outs = []
        for r in requests:
            lp = torch.tensor(self.candidate_logprobs(fill_prompt(r.eval_prompt, r.question,
                                                                  r.answer)))
            p = torch.softmax(lp.double(), dim=0)
            outs.append(Outcome(float((p * torch.arange(101, dtype=torch.float64)).sum())))
        return outs
