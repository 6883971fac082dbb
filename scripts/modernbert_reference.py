#!/usr/bin/python3
"""modernbert_reference.py — reference logits of a ModernBERT cross-encoder
(ModernBertForSequenceClassification layout) computed by transformers' own
modeling_modernbert.py, in float64, on Debian's torch 1.13 without the
transformers package installed.

The modeling source is not part of this repository: pass the file from a
transformers checkout (tested with the version of commit 1e3ddcb2d0, the
ModernBERT of transformers 4.48), e.g.
    git -C transformers show 1e3ddcb2d0:src/transformers/models/modernbert/modeling_modernbert.py > /tmp/mb.py

It is executed as transformers.models.modernbert.modeling_modernbert with
small shims standing in for the rest of the library: ACT2FN, the 4-d
attention-mask helper, output classes, a PreTrainedModel that is a plain
nn.Module, docstring decorators, torch.compile as a no-op (torch 1.13 has
none) and nn.LayerNorm accepting bias=False (added in torch 2.1).  The
attention implementation is "eager".  Weights are read from
model.safetensors by gen-tiny-model.py's reader (the safetensors package is
not installed).

A directory with a sentence-transformers modules.json (the Ettin
rerankers) runs as transformers' ModernBertModel followed by the Pooling,
Dense and LayerNorm modules as sentence-transformers defines them; a
transformers-5 config (layer_types, rope_parameters) is translated to the
keys this source reads.

Reads CASES (JSON Lines with "input_ids"), writes each line with "logit"
(one logit) or "logits" added to stdout.

usage: scripts/modernbert_reference.py --source modeling_modernbert.py MODEL_DIR CASES"""
import argparse
import importlib.util
import json
import logging
import math
import os
import sys
import types

import torch
from torch import nn


def package(name):
    m = types.ModuleType(name)
    m.__path__ = []
    sys.modules[name] = m
    return m


def module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class LayerNorm(nn.LayerNorm):
    """nn.LayerNorm with torch 2.1's bias argument."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True, **kw):
        super().__init__(normalized_shape, eps=eps, elementwise_affine=elementwise_affine, **kw)
        if not bias:
            self.bias = None


class PreTrainedModel(nn.Module):
    """What the modeling code uses of transformers' PreTrainedModel."""

    def __init__(self, config, *args, **kw):
        super().__init__()
        self.config = config

    def post_init(self):
        pass

    def warn_if_padding_and_no_attention_mask(self, *a, **kw):
        pass

    @property
    def dtype(self):
        return next(self.parameters()).dtype

    @property
    def device(self):
        return next(self.parameters()).device


def prepare_4d_attention_mask(mask, dtype, tgt_len=None):
    """transformers' _prepare_4d_attention_mask: (b, s) of 1/0 to an
    additive (b, 1, t, s) mask of 0 / dtype's minimum."""
    b, s = mask.shape
    t = tgt_len if tgt_len is not None else s
    expanded = mask[:, None, None, :].expand(b, 1, t, s).to(dtype)
    inverted = 1.0 - expanded
    return inverted.masked_fill(inverted.to(torch.bool), torch.finfo(dtype).min)


class Output(dict):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.__dict__.update(kw)


def identity_decorator(*a, **kw):
    return lambda f: f


class Config:
    """ModernBertConfig's defaults (transformers 4.48), then config.json."""

    def __init__(self, d):
        self.__dict__.update(dict(
            vocab_size=50368, hidden_size=768, intermediate_size=1152,
            num_hidden_layers=22, num_attention_heads=12, hidden_activation="gelu",
            max_position_embeddings=8192, initializer_range=0.02,
            initializer_cutoff_factor=2.0, norm_eps=1e-5, norm_bias=False,
            pad_token_id=50283, global_rope_theta=160000.0, attention_bias=False,
            attention_dropout=0.0, global_attn_every_n_layers=3, local_attention=128,
            local_rope_theta=10000.0, embedding_dropout=0.0, mlp_bias=False,
            mlp_dropout=0.0, decoder_bias=True, classifier_pooling="cls",
            classifier_dropout=0.0, classifier_bias=False, classifier_activation="gelu",
            deterministic_flash_attn=False, sparse_prediction=False,
            sparse_pred_ignore_index=-100, reference_compile=False,
            repad_logits_with_grad=False))
        self.__dict__.update(d)
        self.num_labels = len(d.get("id2label", {"0": 0, "1": 1}))
        self.reference_compile = False
        self._attn_implementation = "eager"
        self.use_return_dict = False
        self.output_attentions = False
        self.output_hidden_states = False
        self.problem_type = None


def install_shims():
    torch.compile = identity_decorator
    nn.LayerNorm = LayerNorm
    package("transformers")
    package("transformers.models")
    package("transformers.models.modernbert")
    module("transformers.activations", ACT2FN={"gelu": nn.GELU()})
    module("transformers.modeling_attn_mask_utils",
           _prepare_4d_attention_mask=prepare_4d_attention_mask)
    module("transformers.modeling_outputs", BaseModelOutput=Output, MaskedLMOutput=Output,
           SequenceClassifierOutput=Output, TokenClassifierOutput=Output,
           QuestionAnsweringModelOutput=Output, MultipleChoiceModelOutput=Output)
    module("transformers.modeling_utils", PreTrainedModel=PreTrainedModel)
    utils = package("transformers.utils")
    utils.__dict__.update(
        add_code_sample_docstrings=identity_decorator,
        add_start_docstrings=identity_decorator,
        add_start_docstrings_to_model_forward=identity_decorator,
        is_flash_attn_2_available=lambda: False,
        logging=types.SimpleNamespace(get_logger=logging.getLogger))
    module("transformers.utils.import_utils", is_triton_available=lambda: False)
    module("transformers.models.modernbert.configuration_modernbert", ModernBertConfig=Config)


def load_source(path):
    name = "transformers.models.modernbert.modeling_modernbert"
    m = types.ModuleType(name)
    m.__package__ = "transformers.models.modernbert"
    m.__file__ = path
    sys.modules[name] = m
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), m.__dict__)
    return m


def read_safetensors(path):
    """name -> float64 tensor (F32, F16 and BF16 convert exactly)."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("gen", os.path.join(here, "gen-tiny-model.py"))
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return {k: v.double() for k, v in gen.read_safetensors(path).items()}


def transformers5_config(d):
    """A transformers-5 config (layer_types, rope_parameters) in the
    transformers-4.48 keys the source reads; refuses what they cannot say."""
    d = dict(d)
    rp = d.pop("rope_parameters", None) or {}
    for kind, key in (("full_attention", "global_rope_theta"), ("sliding_attention", "local_rope_theta")):
        p = rp.get(kind) or {}
        if p.get("rope_type", "default") != "default":
            raise SystemExit("rope_parameters.%s: only the default rope" % kind)
        if "rope_theta" in p:
            d[key] = p["rope_theta"]
    types = d.pop("layer_types", None)
    every = d.get("global_attn_every_n_layers", 3)
    if types and types != ["sliding_attention" if i % every else "full_attention"
                           for i in range(d["num_hidden_layers"])]:
        raise SystemExit("layer_types is not every global_attn_every_n_layers-th layer global")
    return d


class SentenceTransformersHead(torch.nn.Module):
    """The modules after the Transformer of a sentence-transformers
    CrossEncoder (modules.json): Pooling (cls or mean), then Dense
    (activation(linear(x))) and LayerNorm (nn.LayerNorm(dimension)) modules
    as sentence-transformers defines them."""

    ACTS = {"torch.nn.modules.linear.Identity": torch.nn.Identity(),
            "torch.nn.modules.activation.GELU": torch.nn.GELU(),
            "torch.nn.modules.activation.Tanh": torch.nn.Tanh()}

    def __init__(self, model_dir, modules):
        super().__init__()
        self.steps = []
        for m in modules[1:]:
            kind = m["type"].rsplit(".", 1)[1]
            sub = os.path.join(model_dir, m["path"])
            c = json.load(open(os.path.join(sub, "config.json")))
            if kind == "Pooling":
                mode = c.get("pooling_mode") or ("cls" if c.get("pooling_mode_cls_token") else "mean")
                self.mean = mode == "mean"
                continue
            w = read_safetensors(os.path.join(sub, "model.safetensors"))
            if kind == "Dense":
                lin = torch.nn.Linear(c["in_features"], c["out_features"], bias=c.get("bias", True))
                lin.load_state_dict({k.split(".", 1)[1]: v for k, v in w.items()}, strict=True)
                act = self.ACTS[c.get("activation_function", "torch.nn.modules.activation.Tanh")]
                self.steps.append(torch.nn.Sequential(lin, act).double())
            elif kind == "LayerNorm":
                ln = LayerNorm(c["dimension"])
                ln.load_state_dict({k.split(".", 1)[1]: v for k, v in w.items()}, strict=True)
                self.steps.append(ln.double())
            else:
                raise SystemExit("module %s not supported" % m["type"])

    def forward(self, hidden):
        x = hidden.mean(dim=1) if self.mean else hidden[:, 0]
        for step in self.steps:
            x = step(x)
        return x


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--source", required=True, help="transformers' modeling_modernbert.py")
    ap.add_argument("model_dir")
    ap.add_argument("cases")
    a = ap.parse_args()
    install_shims()
    mb = load_source(a.source)
    with open(os.path.join(a.model_dir, "config.json")) as f:
        config = Config(transformers5_config(json.load(f)))
    weights = read_safetensors(os.path.join(a.model_dir, "model.safetensors"))
    modules_json = os.path.join(a.model_dir, "modules.json")
    if os.path.exists(modules_json):
        # sentence-transformers: a bare ModernBertModel at the root.
        encoder = mb.ModernBertModel(config).double().eval()
        encoder.load_state_dict(weights, strict=True)
        head = SentenceTransformersHead(a.model_dir, json.load(open(modules_json)))
        model = lambda input_ids, attention_mask: (head(encoder(
            input_ids=input_ids, attention_mask=attention_mask)[0]),)
    else:
        model = mb.ModernBertForSequenceClassification(config).double().eval()
        model.load_state_dict(weights, strict=True)
    with open(a.cases) as f, torch.no_grad():
        for line in f:
            case = json.loads(line)
            ids = torch.tensor([case["input_ids"]])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids))[0][0]
            if len(logits) == 1:
                case["logit"] = float(logits[0])
            else:
                case["logits"] = [float(v) for v in logits]
            assert all(math.isfinite(float(v)) for v in logits)
            print(json.dumps(case), flush=True)


if __name__ == "__main__":
    main()
