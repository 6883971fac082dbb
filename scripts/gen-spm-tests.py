#!/usr/bin/python3
"""Generates testdata/spm/: a small SentencePiece Unigram model trained with
Debian's spm_train (nmt_nfkc normalization) on multilingual text written
here, its tokenizer.json as Hugging Face's convert_slow_tokenizer writes one
for XLM-RoBERTa.  Reference ids (cases.jsonl, stress.jsonl) come from Hugging
Face's fast tokenizer: scripts/gen-xlmr-fast-cases.js, run after this one.
tests/test_sentencepiece.c reads the outputs;
`make check` never runs this script.

Needs: apt-get install sentencepiece python3-sentencepiece
Run from the repository root: /usr/bin/python3 scripts/gen-spm-tests.py
"""
import base64
import json
import os
import random
import subprocess
import sys
import tempfile

from sentencepiece import sentencepiece_model_pb2 as pb

OUT = "testdata/spm"

# Seed text: several scripts, combining marks, right-to-left text, CJK,
# long words, digits and emoji.  The corpus is these lines plus random
# recombinations of their words, so that a few thousand pieces can be learnt.
SEED = """\
The quick brown fox jumps over the lazy dog while the reranker scores every passage.
Information retrieval systems rank documents by their estimated relevance to a query.
A cross-encoder reads the query and the document together and outputs one logit.
Supercalifragilisticexpialidocious and antidisestablishmentarianism are long English words.
Donaudampfschifffahrtsgesellschaftskapitän ist ein sehr langes deutsches Wort.
Die Straße ist naß, aber die Bäume blühen schön im Frühling.
Le café est très chaud; l'élève a mangé une crème brûlée à côté de l'hôpital.
El niño pequeño comió una manzana en la mañana del sábado.
Ngôn ngữ Tiếng Việt có nhiều dấu thanh như sắc, huyền, hỏi, ngã, nặng.
Съешь же ещё этих мягких французских булок да выпей чаю.
Москва является столицей России, а Киев — столицей Украины.
Быстрая коричневая лиса перепрыгивает через ленивую собаку.
Η γρήγορη καφέ αλεπού πηδά πάνω από το τεμπέλικο σκυλί.
العربية لغة جميلة ويتحدث بها ملايين الناس في العالم.
القط يجلس على الكرسي بجانب النافذة المفتوحة.
עברית נכתבת מימין לשמאל והיא שפה עתיקה.
הילד קרא ספר מעניין בספרייה העירונית.
我们今天去公园散步，天气非常好。
信息检索系统根据相关性对文档进行排序。
中文分词是自然语言处理的基础任务之一。
東京は日本の首都で、人口がとても多いです。
ひらがなとカタカナと漢字を使って日本語を書きます。
한국어는 한글로 쓰며 세종대왕이 창제했습니다.
서울은 대한민국의 수도이고 많은 사람들이 삽니다.
ภาษาไทยไม่มีการเว้นวรรคระหว่างคำในประโยค
हिन्दी भारत की एक प्रमुख भाषा है और देवनागरी लिपि में लिखी जाती है।
ქართული ენა უნიკალური დამწერლობით იწერება.
Հայերենը ունի իր սեփական այբուբենը։
Emoji are common online 😀 😂 👍🏽 ❤️ 🎉 👩‍💻 🇫🇷 and they mix with text.
Numbers like 3.14159, 2024-06-01, 1,000,000 and 42nd appear in queries.
Full-width ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ and ligatures ﬁ ﬂ are normalized by NFKC.
Combining marks: e\u0301 a\u0308 o\u0302 n\u0303 and precomposed é ä ô ñ.
Mathematical 𝐛𝐨𝐥𝐝 and 𝔣𝔯𝔞𝔨𝔱𝔲𝔯 letters, superscripts x² and fractions ½ ¼.
URLs such as https://example.org/path?q=1 and e-mail user@example.com.
"""


def corpus_lines():
    """The seed lines, then sentences of real words and of pseudo-words made
    of character chunks of one seed line (so each keeps to its script)."""
    lines = [l for l in SEED.splitlines() if l]
    rng = random.Random(20240601)
    out = list(lines) * 20
    for _ in range(30000):
        words = rng.choice(lines).split()
        chunks = [w[i:i + 3] for w in words for i in range(0, len(w), 2)]
        sentence = []
        for _ in range(rng.randint(3, 12)):
            if rng.random() < 0.5:
                sentence.append(rng.choice(words))
            else:
                sentence.append("".join(rng.choice(chunks) for _ in range(rng.randint(1, 4))))
        out.append(" ".join(sentence))
    return out


def tokenizer_json(model_path):
    """tokenizer.json as transformers' XLMRobertaConverter writes it."""
    m = pb.ModelProto()
    with open(model_path, "rb") as f:
        m.ParseFromString(f.read())
    vocab = [["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0]]
    vocab += [[p.piece, p.score] for p in m.pieces[3:]]
    vocab.append(["<mask>", 0.0])

    def added(i, content, special, lstrip=False):
        return {"id": i, "content": content, "single_word": False, "lstrip": lstrip,
                "rstrip": False, "normalized": not special, "special": special}

    added_tokens = [added(i, t, True) for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>"])]
    added_tokens += [added(i + 1, p.piece, False) for i, p in enumerate(m.pieces)
                     if p.type == pb.ModelProto.SentencePiece.USER_DEFINED]
    added_tokens.append(added(len(vocab) - 1, "<mask>", True, lstrip=True))
    charsmap = base64.b64encode(m.normalizer_spec.precompiled_charsmap).decode()
    meta = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}
    special = lambda t, i: {"SpecialToken": {"id": t, "type_id": 0}}
    seq = lambda s: {"Sequence": {"id": s, "type_id": 0}}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": added_tokens,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": charsmap},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}]},
        "pre_tokenizer": meta,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("<s>", 0), seq("A"), special("</s>", 0)],
            "pair": [special("<s>", 0), seq("A"), special("</s>", 0), special("</s>", 0),
                     seq("B"), special("</s>", 0)],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": meta,
        "model": {"type": "Unigram", "unk_id": 3, "vocab": vocab, "byte_fallback": False},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(corpus_lines()) + "\n")
        # Relative paths: trainer_spec records them, and the output should
        # not depend on the temporary directory's name.
        prefix = os.path.join(tmp, "m")
        subprocess.run(["spm_train", "--input=corpus.txt", "--model_prefix=m",
                        "--model_type=unigram", "--vocab_size=3000", "--hard_vocab_limit=false",
                        "--normalization_rule_name=nmt_nfkc", "--character_coverage=0.995",
                        "--user_defined_symbols=[URL]", "--num_threads=2", "--minloglevel=2",
                        "--seed_sentencepiece_size=100000"],
                       cwd=tmp, check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        model = os.path.join(OUT, "sentencepiece.bpe.model")
        with open(prefix + ".model", "rb") as src, open(model, "wb") as dst:
            dst.write(src.read())

    with open(os.path.join(OUT, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json(model), f, ensure_ascii=False)
    print(f"{OUT}: model and tokenizer.json written; reference ids: "
          "scripts/gen-xlmr-fast-cases.js", file=sys.stderr)


if __name__ == "__main__":
    main()
